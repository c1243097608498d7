package handler

import (
	"fmt"
	"net/http"
	"testing"

	"spool/internal/reliability"
)

func TestRequirePrincipalRefusesRequestsWithoutEasyAuthHeadersExceptMetadata(t *testing.T) {
	f := newAPIFixture(t)
	f.serve(t, Options{Store: f.store, Containers: f.containers, RequirePrincipal: true})
	id := "aaaaaaaaaaaaaaaaaaaaaaaaaa"
	routes := []struct{ method, path, body string }{
		{http.MethodPost, "/buffers", `{}`},
		{http.MethodGet, "/buffers", ""},
		{http.MethodGet, "/buffers/count", ""},
		{http.MethodGet, "/buffers/" + id, ""},
		{http.MethodPut, "/buffers/" + id, `{}`},
		{http.MethodPost, "/buffers/" + id + "/access", ""},
		{http.MethodGet, "/nothing", ""},
	}
	refused := 0
	for _, r := range routes {
		// A function key alone, or an empty principal header, is not a principal.
		for _, header := range [][]string{nil, {"x-functions-key", "k"}, {"X-MS-CLIENT-PRINCIPAL-ID", " "}} {
			a := f.try(r.method, r.path, r.body, header...)
			if a.status != http.StatusUnauthorized {
				t.Errorf("%s %s with %v: %v", r.method, r.path, header, a)
				continue
			}
			if code, err := a.jsonError(); err != nil || code != "Unauthorized" {
				t.Errorf("%s %s: %q %v", r.method, r.path, code, err)
			}
			refused++
		}
	}
	if f.store.buffersLen() != 0 || f.containers.count() != 0 {
		t.Error("a refused request changed something")
	}
	if a := f.try(http.MethodGet, "/metadata", ""); a.status != http.StatusOK {
		t.Errorf("metadata must stay anonymous: %v", a)
	}
	for _, h := range []string{"X-MS-CLIENT-PRINCIPAL-ID", "X-MS-CLIENT-PRINCIPAL"} {
		if a := f.try(http.MethodPost, "/buffers", `{}`, h, "c2lnbmVkLWluLXVzZXI="); a.status != http.StatusCreated {
			t.Errorf("with %s: %v", h, a)
		}
	}
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "requests without an Easy Auth principal under SPOOL_REQUIRE_PRINCIPAL=true (none, function key only, blank header)",
		Tries:   refused,
		Outcome: fmt.Sprintf("%d×401 JSON on every route, nothing stored; metadata stays anonymous; either principal header admits", refused),
	})
}

func TestWithoutRequirePrincipalNoHeaderIsNeeded(t *testing.T) {
	f := newAPIFixture(t)
	if a := f.try(http.MethodPost, "/buffers", `{}`); a.status != http.StatusCreated {
		t.Errorf("got %v", a)
	}
}
