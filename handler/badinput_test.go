package handler

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"spool/internal/model"
	"spool/internal/reliability"
)

// badInput is one refused request. In path and body, {id} stands for an existing
// buffer's ID.
type badInput struct {
	class        string // the row it is counted under in RELIABILITY.md
	method, path string
	body         string
	header       []string
	status       int
	code         string
}

const odataInjection = "x' or PartitionKey ne 'x"

func continuationToken(v any) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprint(v)))
}

// badInputs covers every route. The statuses are the API's documented answers:
// 400 InvalidInput for bad bodies and parameters, 413 for oversized bodies, 404
// NotFound for anything that is not a spool ID or not a route, 405 for a wrong
// method, 400 UnsupportedApiVersion for an unknown api-version.
func badInputs() []badInput {
	const (
		malformed = "malformed JSON bodies"
		unknown   = "unknown fields in a create body"
		types     = "JSON values of the wrong type"
		tooBig    = "bodies over the 64 KiB limit"
		tags      = "invalid tag keys, values and counts (create, update, filters)"
		injection = "OData injection in tag keys and values (`x' or PartitionKey ne 'x`)"
		limit     = "bad list limit"
		ct        = "tampered continuation tokens"
		ids       = "IDs that are not spool IDs"
		paths     = "path tricks (.., encoded and double-encoded slashes, empty segments)"
		methods   = "wrong methods"
		params    = "bad query parameters (api-version, writeable, ttl, softDeleted, repeats)"
	)
	bad := http.StatusBadRequest
	var cases []badInput
	add := func(class, method, path, body string, status int, code string, header ...string) {
		cases = append(cases, badInput{class, method, path, body, header, status, code})
	}
	for _, body := range []string{`{`, `{"tags":`, `{"tags":{"a":"1"}`, `{"tags":{"a":"1",}}`, `{'tags':{}}`, "\x00", `{"tags":{}} trailing`, `{} {}`, "\xff\xfe{}"} {
		add(malformed, http.MethodPost, "/buffers", body, bad, codeInvalidInput)
		add(malformed, http.MethodPut, "/buffers/{id}", body, bad, codeInvalidInput)
	}
	for _, body := range []string{`{"colour":"red"}`, `{"tags":{},"Owner":"x"}`, `{"softDeleted":true}`} {
		add(unknown, http.MethodPost, "/buffers", body, bad, codeInvalidInput)
	}
	for _, body := range []string{`[]`, `"tags"`, `42`, `{"tags":[]}`, `{"tags":"a=1"}`, `{"tags":{"a":1}}`, `{"tags":{"a":null}}`, `{"tags":{"a":["1"]}}`, `{"expiresAt":"tomorrow"}`, `{"expiresAt":12}`, `{"location":7}`, `{"createdAt":true}`} {
		add(types, http.MethodPost, "/buffers", body, bad, codeInvalidInput)
	}
	for _, body := range []string{`{"tags":[]}`, `{"tags":{"a":1}}`, `{"id":5}`, `{"expiresAt":"soon"}`, `[]`} {
		add(types, http.MethodPut, "/buffers/{id}", body, bad, codeInvalidInput)
	}
	huge := `{"tags":{"k":"` + strings.Repeat("v", MaxBodyBytes) + `"}}`
	add(tooBig, http.MethodPost, "/buffers", huge, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge")
	add(tooBig, http.MethodPut, "/buffers/{id}", huge, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge")
	add(tooBig, http.MethodPost, "/buffers", strings.Repeat(" ", MaxBodyBytes+1)+"{}", http.StatusRequestEntityTooLarge, "RequestEntityTooLarge")

	manyTags := map[string]string{}
	for i := range maxTags + 1 {
		manyTags[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, tagSet := range []map[string]string{
		{"": "v"}, {"a b": "v"}, {"a/b": "v"}, {"a#b": "v"}, {"a?b": "v"}, {"ä": "v"}, {"a\u0000": "v"},
		{strings.Repeat("k", 129): "v"}, {"k": strings.Repeat("v", 257)}, {"k": "a b"}, {"k": "a,b"}, {"k": "\n"},
		{"k": "é"}, manyTags,
	} {
		add(tags, http.MethodPost, "/buffers", tagsJSON(tagSet), bad, codeInvalidInput)
		add(tags, http.MethodPut, "/buffers/{id}", tagsJSON(tagSet), bad, codeInvalidInput)
	}
	for _, q := range []string{"tag[a%20b]=1", "tag[]=1", "tag[a]=x%20y", "excludeTag[a]=%2F", "tag[a]=1&tag[a]=2", "tag[" + strings.Repeat("k", 129) + "]=1", "tag[k]=" + strings.Repeat("v", 257)} {
		add(tags, http.MethodGet, "/buffers?"+q, "", bad, codeInvalidInput)
		add(tags, http.MethodGet, "/buffers/count?"+q, "", bad, codeInvalidInput)
	}
	q := url.QueryEscape(odataInjection)
	for _, tagSet := range []map[string]string{{odataInjection: "1"}, {"k": odataInjection}, {"k": "'"}, {"k": "''"}} {
		add(injection, http.MethodPost, "/buffers", tagsJSON(tagSet), bad, codeInvalidInput)
		add(injection, http.MethodPut, "/buffers/{id}", tagsJSON(tagSet), bad, codeInvalidInput)
	}
	for _, path := range []string{"/buffers?tag[k]=" + q, "/buffers?tag[" + q + "]=1", "/buffers?excludeTag[k]=" + q, "/buffers/count?tag[k]=" + q, "/buffers/count?excludeTag[" + q + "]=1"} {
		add(injection, http.MethodGet, path, "", bad, codeInvalidInput)
	}
	for _, l := range []string{"-1", "ten", "1.5", "0x10", "99999999999999999999", "", "1&limit=2", "%2B"} {
		add(limit, http.MethodGet, "/buffers?limit="+l, "", bad, codeInvalidInput)
	}
	for _, token := range []string{
		"%25%25%25", "bm9wZQ", "!!!", "_ct", strings.Repeat("A", 3000),
		continuationToken(`{"v":1,"after":"x"}`),
		continuationToken(`{"v":2,"after":"0000000000000000000ff~"}`),
		continuationToken(`{"v":1,"after":"` + odataInjection + `"}`),
		continuationToken(`{"v":1,"after":"9999999999999999999zz~"}`),
		continuationToken(`{"v":1}`),
		continuationToken(`null`),
		"a&_ct=b",
	} {
		add(ct, http.MethodGet, "/buffers?_ct="+token, "", bad, codeInvalidInput)
	}
	for _, id := range []string{"AAAAAAAAAAAAAAAAAAAAAAAAAA", "aaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaaaaaaaaaaa%27", "aaaaaaaaaaaaaaaaaaaaaaaaa%20", "aaaaaaaaaaaaaaaaaaaaaaaaa%00", "count2", "%27%20or%201%20eq%201"} {
		add(ids, http.MethodGet, "/buffers/"+id, "", http.StatusNotFound, codeNotFound)
		add(ids, http.MethodPut, "/buffers/"+id, `{}`, http.StatusNotFound, codeNotFound)
		add(ids, http.MethodPost, "/buffers/"+id+"/access", "", http.StatusNotFound, codeNotFound)
		add(ids, http.MethodDelete, "/buffers/"+id, "", http.StatusNotFound, codeNotFound)
		add(ids, http.MethodPost, "/buffers/"+id+"/restore", "", http.StatusNotFound, codeNotFound)
	}
	for _, p := range []string{
		"/buffers/../metadata", "/buffers/{id}/../count", "/buffers/%2E%2E/metadata", "/buffers/{id}%2Faccess",
		"/buffers/{id}%252Faccess", "/buffers%2F{id}", "/buffers/{id}/access/..", "/buffers//{id}", "/buffers/{id}/",
		"/buffers/{id}/access/x", "/./buffers", "/buffers/%7Bid%7D",
	} {
		add(paths, http.MethodGet, p, "", http.StatusNotFound, codeNotFound)
	}
	// One segment "{id}%2Faccess": the buffer route, which takes no POST; never access.
	add(paths, http.MethodPost, "/buffers/{id}%2Faccess", "", http.StatusMethodNotAllowed, "MethodNotAllowed")
	for _, m := range []struct{ method, path string }{
		{http.MethodPut, "/buffers"}, {http.MethodPatch, "/buffers"},
		{http.MethodPost, "/buffers/{id}"}, {http.MethodPatch, "/buffers/{id}"},
		{http.MethodGet, "/buffers/{id}/access"}, {http.MethodPut, "/buffers/{id}/access"}, {http.MethodDelete, "/buffers/{id}/access"},
		{http.MethodGet, "/buffers/{id}/restore"},
		{http.MethodPost, "/buffers/count"}, {http.MethodPost, "/healthz"},
		{http.MethodPost, "/metadata"}, {http.MethodDelete, "/metadata"}, {"PROPFIND", "/buffers"}, {http.MethodOptions, "/buffers/{id}"},
	} {
		add(methods, m.method, m.path, "", http.StatusMethodNotAllowed, "MethodNotAllowed")
	}
	for _, p := range []string{"/buffers?api-version=2.0", "/buffers/{id}?api-version=", "/buffers/count?api-version=1.0&api-version=1.0", "/metadata?api-version=0.9"} {
		add(params, http.MethodGet, p, "", bad, codeUnsupportedVersion)
	}
	for _, p := range []string{"writeable=maybe", "writeable=true&writeable=false", "ttl=forever", "ttl=00:00:10", "ttl=02:00:00", "ttl=-00:05:00", "ttl=1.00:00:00", "ttl=00:61:00", "ttl=00:05:00&ttl=00:06:00"} {
		add(params, http.MethodPost, "/buffers/{id}/access?"+p, "", bad, codeInvalidInput)
	}
	for _, p := range []string{"/buffers?softDeleted=maybe", "/buffers/{id}?softDeleted=2", "/buffers?_ct=a&_ct=b"} {
		add(params, http.MethodGet, p, "", bad, codeInvalidInput)
	}
	add(params, http.MethodPost, "/buffers", `{"location":"westeurope"}`, bad, codeInvalidInput)
	add(params, http.MethodPut, "/buffers/{id}", `{"id":"bbbbbbbbbbbbbbbbbbbbbbbbbb"}`, bad, codeInvalidInput)
	return cases
}

func TestBadInputOnEveryRouteIsADocumented4xxWithAJSONError(t *testing.T) {
	t.Run("fakes", func(t *testing.T) {
		f := newAPIFixture(t)
		checkBadInputs(t, f, f.create(t, map[string]string{"keep": "me"}))
	})
	t.Run("tablestore on Azurite", func(t *testing.T) {
		f, _ := liveOverPlainAzurite(t)
		checkBadInputs(t, f, f.create(t, map[string]string{"keep": "me"}))
	})
}

func checkBadInputs(t *testing.T, f *apiFixture, victim model.Buffer) {
	tries := map[string]int{}
	bytesSent := map[string]int64{}
	statuses := map[string]map[int]int{}
	for _, c := range badInputs() {
		path := strings.ReplaceAll(c.path, "{id}", victim.ID)
		body := strings.ReplaceAll(c.body, "{id}", victim.ID)
		a := f.rawTry(c.method, path, body, c.header...)
		tries[c.class]++
		bytesSent[c.class] += int64(len(body))
		if statuses[c.class] == nil {
			statuses[c.class] = map[int]int{}
		}
		statuses[c.class][a.status]++
		if a.err != nil || a.status != c.status {
			t.Errorf("%s %s %.80q: want %d, got %v", c.method, path, body, c.status, a)
			continue
		}
		if code, err := a.jsonError(); err != nil || code != c.code {
			t.Errorf("%s %s %.80q: want code %s, got %q (%v)", c.method, path, body, c.code, code, err)
		}
	}
	// Nothing refused may have changed the victim.
	r := f.do(t, http.MethodGet, "/buffers/"+victim.ID, nil)
	if got := decode[model.Buffer](t, r); got.ETag != victim.ETag || !maps.Equal(got.Tags, victim.Tags) {
		t.Errorf("a refused request changed the buffer: %+v", got)
	}
	for _, class := range slices.Sorted(maps.Keys(tries)) {
		reliability.Record(t, reliability.Row{
			Area:    "bad input",
			Fault:   class + " (" + lastName(t.Name()) + ")",
			Tries:   tries[class],
			Bytes:   bytesSent[class],
			Outcome: statusCounts(statuses[class]) + ", each with a JSON error; never a 500; the buffer unchanged",
		})
	}
}

func lastName(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}

// rawTry sends path exactly as written (no cleaning or re-encoding by net/url), as
// a hostile client could.
func (f *apiFixture) rawTry(method, path, body string, header ...string) answer {
	u, err := url.Parse(f.base)
	if err != nil {
		return answer{err: err}
	}
	full := u.Path + path
	rawPath, rawQuery, _ := strings.Cut(full, "?")
	u.Opaque = "//" + u.Host + rawPath
	u.RawQuery = rawQuery
	req, err := http.NewRequest(method, "http://placeholder", strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.URL = u
	req.Host = u.Host
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	setHeaders(req, header)
	return f.send(req)
}
