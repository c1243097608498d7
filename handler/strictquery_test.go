package handler

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"spool/internal/model"
	"spool/internal/reliability"
)

// malformedQueries are the forms of a query a route cannot read: each must be
// refused with 400 naming the parameter, on every route. name is what the message
// must quote.
var malformedQueries = []struct{ query, name string }{
	{"tag[project]=x;y", "tag[project]"},
	{"tag[project]=x%zz", "tag[project]"},
	{"tag%zz[project]=x", "tag%zz[project]"},
	{"Tag[project]=x", "Tag[project]"},
	{"TAG[project]=x", "TAG[project]"},
	{"tags[project]=x", "tags[project]"},
	{"tag.project=x", "tag.project"},
	{"tag[project=x", "tag[project"},
	{"excludetag[project]=y", "excludetag[project]"},
	{"tag[]=x", "tag[]"},
	{"tag[project]=x&tag[project]=y", "tag[project]"},
	{"SoftDeleted=true", "SoftDeleted"},
	{"ttl=0&ttl=0", "ttl"},
	{"TTL=0", "TTL"},
	{"Limit=1", "Limit"},
	{"API-Version=1.0", "API-Version"},
	{"colour=red", "colour"},
	{"=x", `""`},
}

// strictRoutes is every API route; {id} is a live buffer, {gone} a deleted one.
var strictRoutes = []struct{ method, path string }{
	{http.MethodGet, "/metadata"}, {http.MethodGet, "/healthz"},
	{http.MethodPost, "/buffers"}, {http.MethodGet, "/buffers"}, {http.MethodDelete, "/buffers"},
	{http.MethodGet, "/buffers/count"}, {http.MethodPost, "/buffers/restore"},
	{http.MethodGet, "/buffers/{id}"}, {http.MethodPut, "/buffers/{id}"}, {http.MethodDelete, "/buffers/{id}"},
	{http.MethodPost, "/buffers/{id}/access"}, {http.MethodPost, "/buffers/{gone}/restore"},
	{http.MethodGet, "/buffers/{gone}?softDeleted=true"}, {http.MethodDelete, "/buffers?softDeleted=true"},
}

// bufferSnapshot is every record in both states, by ID, with its ETag, tags and state.
func bufferSnapshot(t *testing.T, f *apiFixture) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, state := range []string{"false", "true"} {
		r := f.do(t, http.MethodGet, "/buffers?limit=2000&softDeleted="+state, nil)
		if r.status != http.StatusOK {
			t.Fatalf("listing: %d %s", r.status, r.body)
		}
		for _, b := range decode[model.BufferList](t, r).Items {
			tags, _ := json.Marshal(b.Tags)
			out[b.ID] = fmt.Sprintf("deleted=%v etag=%s tags=%s expires=%v", b.IsSoftDeleted, b.ETag, tags, b.ExpiresAt)
		}
	}
	return out
}

func TestEveryRouteRefusesAQueryItCannotReadAndChangesNothing(t *testing.T) {
	f, _ := liveOverPlainAzurite(t)
	live := f.create(t, map[string]string{"project": "x"})
	f.create(t, map[string]string{"project": "y"})
	gone := f.create(t, map[string]string{"project": "x"})
	if r := f.do(t, http.MethodDelete, "/buffers/"+gone.ID, nil); r.status != http.StatusOK {
		t.Fatalf("deleting: %d %s", r.status, r.body)
	}
	before := bufferSnapshot(t, f)
	tries := 0
	for _, route := range strictRoutes {
		path := strings.NewReplacer("{id}", live.ID, "{gone}", gone.ID).Replace(route.path)
		for _, form := range malformedQueries {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			a := f.rawTry(route.method, path+sep+form.query, "")
			tries++
			var e model.ErrorBody
			_ = json.Unmarshal(a.body, &e)
			if a.status != http.StatusBadRequest || e.Error.Code != codeInvalidInput || !strings.Contains(e.Error.Message, form.name) {
				t.Errorf("%s %s%s%s: want 400 InvalidInput naming %s, got %v", route.method, path, sep, form.query, form.name, a)
			}
			if strings.Contains(string(a.body), "secret") {
				t.Errorf("%s %s: the answer echoes the function key: %s", route.method, form.query, a.body)
			}
			if after := bufferSnapshot(t, f); !maps.Equal(after, before) {
				t.Fatalf("%s %s%s%s changed the buffers:\nbefore %v\nafter  %v", route.method, path, sep, form.query, before, after)
			}
		}
	}
	// The refusals are not a route refusing everything: the same routes read
	// well-formed queries, with the function key and api-version on any of them.
	if r := f.do(t, http.MethodGet, "/buffers?tag%5Bproject%5D=x&code=k&api-version=1.0", nil); r.status != http.StatusOK || len(decode[model.BufferList](t, r).Items) != 1 {
		t.Errorf("a good filter: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodDelete, "/buffers?tag%5Bproject%5D=none&code=k", nil); r.status != http.StatusOK || string(r.body) != "0" {
		t.Errorf("a good bulk delete matching nothing: %d %s", r.status, r.body)
	}
	reliability.Record(t, reliability.Row{
		Area:    "bad input",
		Fault:   fmt.Sprintf("malformed or unknown query parameters (`;`, bad %%, Tag[k], tags[k], tag.k, tag[], repeats, wrong case) on all %d routes", len(strictRoutes)),
		Tries:   tries,
		Outcome: "each 400 InvalidInput naming the parameter; no record, state or tag changed; the function key never echoed",
	})
}

// directAPI serves the API over fakes on a real net/http server, with no forwarding
// shim in between: raw queries and slow bodies reach the handler as sent.
func directAPI(t *testing.T, adjust func(*Options)) (*httptest.Server, *fakeStore) {
	t.Helper()
	store := newFakeStore()
	opts := Options{Store: store, Containers: newFakeContainers()}
	if adjust != nil {
		adjust(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, store
}

// Without the Functions host, a ';' or a bad escape reaches the handler raw; there
// r.URL.Query() would drop the pair and a bulk delete would select every buffer.
func TestARawQueryThatDoesNotParseIsRefusedNamingItsKey(t *testing.T) {
	srv, store := directAPI(t, nil)
	f := &apiFixture{base: srv.URL + "/api", store: store}
	f.create(t, map[string]string{"project": "x"})
	for _, c := range []struct{ query, name string }{
		{"tag[project]=x;y", "tag[project]"},
		{"tag[project]=x&softDeleted=true;ttl=0", "softDeleted"},
		{"tag[project]=%zz", "tag[project]"},
		{"tag%5project%5D=x", "tag%5project%5D"},
		{"code=secret%zz", "code"},
		{"code=secret;x", "code"},
	} {
		for _, method := range []string{http.MethodDelete, http.MethodGet} {
			a := f.rawTry(method, "/buffers?"+c.query, "")
			if a.status != http.StatusBadRequest || !strings.Contains(string(a.body), c.name) || strings.Contains(string(a.body), "secret") {
				t.Errorf("%s ?%s: want 400 naming %s, got %v", method, c.query, c.name, a)
			}
		}
	}
	if r := f.do(t, http.MethodGet, "/buffers/count", nil); string(r.body) != "1" {
		t.Errorf("a refused delete deleted buffers: %d live left", store.buffersLen())
	}
}
