package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestsCarrySpoolsUserAgentAndErrorsTheServersRequestID(t *testing.T) {
	for _, c := range []struct {
		name, userAgent, wantAgent, requestID, wantSuffix string
	}{
		{"defaults", "", "spool/dev", "0123abcd", " (request ID 0123abcd)"},
		{"stamped version", "spool/v1.2.3", "spool/v1.2.3", "", ""},
		{"request ID with a space ignored", "", "spool/dev", "a b", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var agent string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				agent = r.Header.Get("User-Agent")
				if c.requestID != "" {
					w.Header().Set("X-Request-Id", c.requestID)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"code":"InvalidInput","message":"bad tag"}}`))
			}))
			defer srv.Close()
			cl, err := New(Options{ServerURL: srv.URL + "/api", UserAgent: c.userAgent})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.CreateBuffer(context.Background(), CreateRequest{})
			if err == nil || !strings.HasSuffix(err.Error(), "bad tag (InvalidInput)"+c.wantSuffix) {
				t.Errorf("error %v, want suffix %q", err, c.wantSuffix)
			}
			if agent != c.wantAgent || !strings.HasPrefix(DefaultUserAgent(), "spool/") {
				t.Errorf("User-Agent %q, want %q", agent, c.wantAgent)
			}
		})
	}
}
