package auth

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"spool/internal/model"
	"spool/internal/oidctest"
	"spool/internal/reliability"
)

const testAudience = "api://spool-test"

// clock runs ahead of the wall clock by what Advance adds, so that refresh and
// retry intervals pass without sleeping while minted tokens stay valid.
type clock struct{ ahead atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

func (c *clock) Advance(d time.Duration) { c.ahead.Add(int64(d)) }

// fixture is a real issuer and a handler guarded by a Verifier of its tokens: every
// permission has a route /p/<permission> that echoes the caller's Principal.
type fixture struct {
	iss     *oidctest.Issuer
	clock   *clock
	handler http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{iss: oidctest.Start(t), clock: &clock{}}
	v, err := New(Options{
		Issuers:   []string{f.iss.URL},
		Audiences: []string{testAudience, "spool-test-app-id"},
		Now:       f.clock.Now,
		Logger:    slog.New(slog.NewTextHandler(testLog{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, perm := range ownerPermissions {
		mux.Handle("/p/"+string(perm), Require(perm)(http.HandlerFunc(echoPrincipal)))
	}
	mux.HandleFunc("/api/metadata", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) })
	f.handler = v.Middleware(func(r *http.Request) bool { return r.URL.Path == "/api/metadata" })(mux)
	return f
}

// testLog shows the Verifier's log lines (why a token was refused) with -v.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func echoPrincipal(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	_ = json.NewEncoder(w).Encode(p)
}

// do sends GET path with each of authorization as an Authorization header.
func (f *fixture) do(path string, authorization ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// bearer sends GET path with token as a bearer token.
func (f *fixture) bearer(path, token string) *httptest.ResponseRecorder {
	return f.do(path, "Bearer "+token)
}

func (f *fixture) token(t *testing.T, roles ...string) string {
	return f.iss.Token(t, f.iss.Claims(testAudience, roles...))
}

// errorCode decodes spool's error shape and returns its code.
func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body model.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Message == "" {
		t.Fatalf("body %q is not spool's error shape: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want JSON", ct)
	}
	return body.Error.Code
}

// recordAccessFault records an attack or fault row in the "access" area.
func recordAccessFault(t *testing.T, fault string, tries int, outcome string) {
	t.Helper()
	reliability.Record(t, reliability.Row{Area: "access", Fault: fault, Tries: tries, Outcome: outcome})
}
