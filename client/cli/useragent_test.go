package cli

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestTheCLISendsItsVersionAsUserAgentAndPrintsTheRequestIDOfAFailure(t *testing.T) {
	var agent atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent.Store(r.Header.Get("User-Agent"))
		w.Header().Set("X-Request-Id", "req-7f3a")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"InvalidInput","message":"Tag key is invalid"}}`))
	}))
	defer srv.Close()
	r := runCLI(t, "", "buffer", "create", "--server-url", srv.URL+"/api")
	if r.code != exitFailure || r.stderr != "spool: creating buffer: Tag key is invalid (InvalidInput) (request ID req-7f3a)\n" {
		t.Errorf("got %+v", r)
	}
	if got := agent.Load(); got != "spool/"+Version() {
		t.Errorf("User-Agent %v, want spool/%s", got, Version())
	}
}
