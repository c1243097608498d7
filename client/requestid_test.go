package client

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"spool/internal/model"
)

// agentCase is a client's User-Agent option and a server's request ID, and what
// the server and the error should then show.
type agentCase struct {
	userAgent, wantAgent, requestID, wantSuffix string
}

func TestRequestsCarrySpoolsUserAgentAndErrorsTheServersRequestID(t *testing.T) {
	cases := map[string]agentCase{
		"defaults":                        {"", "spool/dev", "0123abcd", " (request ID 0123abcd)"},
		"stamped version":                 {"spool/v1.2.3", "spool/v1.2.3", "", ""},
		"request ID with a space ignored": {"", "spool/dev", "a b", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var agent string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				agent = r.Header.Get("User-Agent")
				if c.requestID != "" {
					w.Header().Set("X-Request-Id", c.requestID)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(model.ErrorBody{Error: model.ErrorInfo{Code: "InvalidInput", Message: "bad tag"}})
			}))
			defer srv.Close()
			cl, err := New(Options{ServerURL: srv.URL + "/api", UserAgent: c.userAgent})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.CreateBuffer(t.Context(), CreateRequest{})
			if err == nil || !strings.HasSuffix(err.Error(), "bad tag (InvalidInput)"+c.wantSuffix) {
				t.Errorf("error %v, want suffix %q", err, c.wantSuffix)
			}
			if agent != c.wantAgent {
				t.Errorf("User-Agent %q, want %q", agent, c.wantAgent)
			}
		})
	}
}
