package handler

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"spool/client"
	"spool/internal/model"
)

// fuzzAPI is the API over fakes, called in-process (no sockets) for speed.
func fuzzAPI(f *testing.F) (http.Handler, *fakeStore) {
	store := newFakeStore()
	h, err := New(Options{Store: store, Containers: newFakeContainers()})
	if err != nil {
		f.Fatal(err)
	}
	return h, store
}

func serveFuzz(h http.Handler, method, target string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://handler.test/", bytes.NewReader(body))
	// The target is set raw so that the fuzzer's bytes reach the router unparsed.
	req.URL = &url.URL{Path: target}
	if path, query, ok := strings.Cut(target, "?"); ok {
		req.URL.Path, req.URL.RawQuery = path, query
	}
	req.RequestURI = ""
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkAnswer fails on a 5xx and on an error without the JSON error body.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder, allowed ...int) {
	t.Helper()
	ok := false
	for _, s := range allowed {
		ok = ok || rec.Code == s
	}
	if !ok {
		t.Fatalf("%s: status %d %s", what, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var e model.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
			t.Fatalf("%s: %d without a JSON error: %s", what, rec.Code, rec.Body)
		}
	}
}

// The server's and the client's tag rules must agree, and neither may let through a
// character that could reach a URL path, a Table query or the host's comma joining.
func FuzzTagValidation(f *testing.F) {
	for _, kv := range [][2]string{{"a", "1"}, {"a-b.c_d", ""}, {"", "v"}, {odataInjection, "1"}, {"k", odataInjection}, {"k", "a,b"}, {"k", "é"}, {strings.Repeat("k", 128), strings.Repeat("v", 256)}, {"k]", "1"}} {
		f.Add(kv[0], kv[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		tags := map[string]string{key: value}
		server := validateTags(tags)
		if cli := client.ValidateTags(tags); (server == nil) != (cli == nil) {
			t.Fatalf("%q=%q: server says %v, client says %v", key, value, server, cli)
		}
		q := url.Values{"tag[" + key + "]": {value}}
		filter, err := model.ParseFilter(q)
		if (err == nil) != (server == nil) {
			t.Fatalf("filter tag[%s]=%s: %v, but as a tag: %v", key, value, err, server)
		}
		if err == nil && filter.Tags[key] != value {
			t.Fatalf("filter tag[%s]=%s read as %v", key, value, filter.Tags)
		}
		if server == nil && strings.ContainsAny(key+value, "'\"/\\#?&=,%[] \t\r\n\x00") {
			t.Fatalf("%q=%q accepted with an unsafe character", key, value)
		}
	})
}

func FuzzListQuery(f *testing.F) {
	h, _ := fuzzAPI(f)
	for _, q := range []string{"", "limit=5", "limit=-1", "limit=99999999999999999999", "tag[a]=1&excludeTag[b]=2", "tag[a]=1,2", "_ct=bm9wZQ", "_ct=a&_ct=b", "softDeleted=true", "api-version=1.0", "api-version=2", "tag[a%5D=1", "tag[=1", "%zz", "limit=1&limit=2"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery)
		if limit, err := (&query{values: q, read: map[string]bool{}}).limit(); err == nil && (limit < 0 || limit > maxLimit) {
			t.Fatalf("limit %d from %q", limit, rawQuery)
		}
		if filter, err := model.ParseFilter(q); err == nil {
			for _, tags := range []map[string]string{filter.Tags, filter.ExcludeTags} {
				if err := validateTags(tags); err != nil && len(tags) <= maxTags {
					t.Fatalf("%q gave the invalid filter %v: %v", rawQuery, tags, err)
				}
			}
		}
		checkAnswer(t, "list ?"+rawQuery, serveFuzz(h, http.MethodGet, "/api/buffers?"+rawQuery, nil), 200, 400)
		checkAnswer(t, "count ?"+rawQuery, serveFuzz(h, http.MethodGet, "/api/buffers/count?"+rawQuery, nil), 200, 400)
	})
}

// bodySeeds are request bodies worth starting from.
var bodySeeds = []string{
	`{}`, `{"tags":{"a":"1"}}`, `{"id":"","createdAt":"0001-01-01T00:00:00Z","location":"local","tags":{"a-b.c":"v_1"}}`,
	`{"tags":{"a":null}}`, `{"tags":[]}`, `{"tags":{"a":1}}`, `{"expiresAt":"2027-01-01T00:00:00Z"}`, `{"expiresAt":"soon"}`,
	`{`, `[]`, `null`, `{} {}`, `{"colour":"red"}`, `{"tags":{"` + odataInjection + `":"1"}}`, "\xff",
}

// expectTags decodes the tags a body asks for, when it is plain JSON with string tags.
func expectTags(body []byte) (map[string]string, bool) {
	var v struct {
		Tags map[string]*string `json:"tags"`
	}
	if json.Unmarshal(body, &v) != nil {
		return nil, false
	}
	tags := map[string]string{}
	for k, p := range v.Tags {
		if p == nil {
			return nil, false
		}
		tags[k] = *p
	}
	return tags, true
}

func FuzzCreateBody(f *testing.F) {
	h, _ := fuzzAPI(f)
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := serveFuzz(h, http.MethodPost, "/api/buffers", body)
		checkAnswer(t, "create", rec, 201, 400, 413)
		if rec.Code != http.StatusCreated {
			return
		}
		var b model.Buffer
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || !validID(b.ID) {
			t.Fatalf("201 with %s: %v", rec.Body, err)
		}
		if err := validateTags(b.Tags); err != nil {
			t.Fatalf("created with invalid tags %v", b.Tags)
		}
		if want, ok := expectTags(body); ok && !maps.Equal(b.Tags, want) {
			t.Fatalf("asked for tags %v, got %v", want, b.Tags)
		}
	})
}

func FuzzUpdateBody(f *testing.F) {
	h, store := fuzzAPI(f)
	rec := serveFuzz(h, http.MethodPost, "/api/buffers", []byte(`{"tags":{"keep":"1"}}`))
	var victim model.Buffer
	if err := json.Unmarshal(rec.Body.Bytes(), &victim); err != nil {
		f.Fatalf("creating the buffer to update: %d %s", rec.Code, rec.Body)
	}
	for _, s := range append(bodySeeds, `{"id":"`+victim.ID+`","tags":{"b":"2"}}`, `{"id":"other"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before, _ := store.Get(t.Context(), victim.ID)
		rec := serveFuzz(h, http.MethodPut, "/api/buffers/"+victim.ID, body)
		checkAnswer(t, "update", rec, 200, 400, 413)
		after, _ := store.Get(t.Context(), victim.ID)
		if rec.Code != http.StatusOK {
			if after.ETag != before.ETag {
				t.Fatalf("a refused update (%d) changed the buffer", rec.Code)
			}
			return
		}
		if err := validateTags(after.Tags); err != nil {
			t.Fatalf("updated to invalid tags %v", after.Tags)
		}
		if want, ok := expectTags(body); ok && !maps.Equal(after.Tags, want) {
			t.Fatalf("asked for tags %v, stored %v", want, after.Tags)
		}
	})
}
