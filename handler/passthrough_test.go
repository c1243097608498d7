package handler

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"spool/internal/model"
)

// What host.json's enableProxyingHttpRequest changes against the legacy forwarding
// mode (whose own behaviour the ...LegacyForwardingHost... tests keep pinning).

func TestThroughTheProxyingHostAChunkedCreateBodyArrivesWithItsTags(t *testing.T) {
	f := newAPIFixture(t)
	body := io.MultiReader(strings.NewReader(`{"tags":{"a":"b"}}`)) // sent chunked
	r := f.do(t, http.MethodPost, "/buffers", body)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if b := decode[model.Buffer](t, r); b.Tags["a"] != "b" {
		t.Errorf("got %s", r.body)
	}
}

func TestThroughTheProxyingHostARepeatedTagFilterArrivesRepeatedAndIs400(t *testing.T) {
	f := newAPIFixture(t)
	for _, path := range []string{"/buffers?tag[a]=1&tag[a]=2", "/buffers/count?excludeTag[a]=1&excludeTag[a]=2"} {
		r := f.do(t, http.MethodGet, path, nil)
		if r.status != http.StatusBadRequest || r.errorCode(t) != codeInvalidInput {
			t.Errorf("%s: got %d %s", path, r.status, r.body)
		}
	}
}

func TestEveryLogLineOfARequestCarriesTheHostsInvocationIDNotAClientsAndTheRequestID(t *testing.T) {
	for _, c := range []struct {
		name     string
		clientID string
		echoed   bool
	}{
		{"sane client ID echoed", "cli-42.a_b:c", true},
		{"newline refused", "a\nb", false},
		{"too long refused", strings.Repeat("x", 65), false},
		{"none sent", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newAPIFixture(t)
			header := []string{InvocationIDHeader, "client-spoofed"}
			if c.clientID != "" && !strings.Contains(c.clientID, "\n") {
				header = append(header, RequestIDHeader, c.clientID)
			}
			r := f.do(t, http.MethodGet, "/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa", nil, header...)
			id := r.header.Get(RequestIDHeader)
			if id == "" || (c.echoed && id != c.clientID) || (!c.echoed && id == c.clientID) || saneID(id) != id {
				t.Fatalf("request ID %q answered for %q", id, c.clientID)
			}
			logs := f.logs.String()
			if strings.Contains(logs, "client-spoofed") || strings.Count(logs, "requestId="+id) != strings.Count(logs, "\n") ||
				strings.Count(logs, "invocationId=") != strings.Count(logs, "\n") {
				t.Errorf("log lines without the request ID %s or the host's invocation ID:\n%s", id, logs)
			}
		})
	}
}

func TestErrorLinesCarryTheRequestIDToo(t *testing.T) {
	f := newAPIFixture(t)
	f.store.err = model.ErrUnavailable
	r := f.do(t, http.MethodGet, "/buffers", nil)
	id := r.header.Get(RequestIDHeader)
	if r.status != http.StatusServiceUnavailable || id == "" {
		t.Fatalf("got %d, request ID %q", r.status, id)
	}
	for l := range strings.Lines(f.logs.String()) {
		if !bytes.Contains([]byte(l), []byte("requestId="+id)) {
			t.Errorf("line without the request ID: %s", l)
		}
	}
}
