package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"spool/internal/funchost"
	"spool/internal/model"
)

// apiFixture is the API over fakes, reached through the forwarding shim.
type apiFixture struct {
	store      *fakeStore
	containers *fakeContainers
	base       string // e.g. http://127.0.0.1:PORT/api
	logs       *bytes.Buffer
	// mode is how the host shim passes requests on (funchost.Proxy unless set).
	mode funchost.Mode
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	return newAPIFixtureIn(t, funchost.Proxy)
}

// newAPIFixtureIn is newAPIFixture behind a host passing requests on in mode.
func newAPIFixtureIn(t *testing.T, mode funchost.Mode) *apiFixture {
	t.Helper()
	f := &apiFixture{store: newFakeStore(), containers: newFakeContainers(), mode: mode}
	clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.serve(t, Options{
		Store:      f.store,
		Containers: f.containers,
		Location:   "local",
		Now: func() time.Time {
			clock = clock.Add(time.Second) // distinct createdAt for ordering tests
			return clock
		},
	})
	return f
}

// serve starts the API over opts behind the forwarding shim, logging into f.logs.
func (f *apiFixture) serve(t *testing.T, opts Options) {
	t.Helper()
	f.logs = &bytes.Buffer{}
	opts.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := hostShim(f.mode, h)
	t.Cleanup(srv.Close)
	f.base = srv.URL + "/api"
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e model.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	return e.Error.Code
}

func (f *apiFixture) do(t *testing.T, method, path string, body io.Reader, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	setHeaders(req, header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// setHeaders sets header's name, value pairs on req; a request with a body is sent
// as application/json, as every client does, unless header names another type.
func setHeaders(req *http.Request, header []string) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
}

func (f *apiFixture) create(t *testing.T, tags map[string]string) model.Buffer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"tags": tags})
	r := f.do(t, http.MethodPost, "/buffers", bytes.NewReader(body))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	return decode[model.Buffer](t, r)
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
	return v
}

func TestCreateAcceptsTygerCLIBodyAndAnswers201WithLocationAndETag(t *testing.T) {
	f := newAPIFixture(t)
	body := `{"id":"","createdAt":"0001-01-01T00:00:00Z","location":"Local","tags":{"a-b.c":"v_1","empty":""}}`
	r := f.do(t, http.MethodPost, "/buffers?api-version=1.0", strings.NewReader(body))
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	b := decode[model.Buffer](t, r)
	if !validID(b.ID) {
		t.Errorf("id %q is not 26 lowercase base32 characters", b.ID)
	}
	if got := r.header.Get("Location"); got != "/api/buffers/"+b.ID {
		t.Errorf("Location = %q", got)
	}
	if r.header.Get("ETag") == "" || r.header.Get("ETag") != b.ETag {
		t.Errorf("ETag header %q, body etag %q", r.header.Get("ETag"), b.ETag)
	}
	if b.CreatedAt.IsZero() || b.Location != "local" || b.Tags["a-b.c"] != "v_1" {
		t.Errorf("unexpected buffer %+v", b)
	}
	if !f.containers.names[b.ID] {
		t.Error("no container was made for the buffer")
	}
	if !bytes.Contains(r.body, []byte(`"etag"`)) {
		t.Errorf("body %s lacks the etag field", r.body)
	}
}

func TestCreateRefusesFieldsTheModelDoesNotHave(t *testing.T) {
	f := newAPIFixture(t)
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(`{"tags":{},"colour":"red"}`))
	if r.status != http.StatusBadRequest || r.errorCode(t) != codeInvalidInput {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestCreateRefusesMalformedJSONAndUnknownLocation(t *testing.T) {
	f := newAPIFixture(t)
	for _, body := range []string{`{"tags":`, `[]`, `{"tags":{"a":1}}`, `{"location":"westeurope"}`, `{} {}`} {
		r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(body))
		if r.status != http.StatusBadRequest || r.errorCode(t) != codeInvalidInput {
			t.Errorf("body %s: got %d %s", body, r.status, r.body)
		}
	}
	if f.containers.count() != 0 {
		t.Error("a refused create left a container")
	}
}

func TestCreateWithChunkedBodyMeansNoTagsWhenTheLegacyForwardingHostDropsIt(t *testing.T) {
	f := newAPIFixtureIn(t, funchost.Forward)
	// A reader of unknown length makes the client send a chunked body.
	body := io.MultiReader(strings.NewReader(`{"tags":{"a":"b"}}`))
	r := f.do(t, http.MethodPost, "/buffers", body)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if b := decode[model.Buffer](t, r); len(b.Tags) != 0 || !bytes.Contains(r.body, []byte(`"tags":{}`)) {
		t.Errorf("got %s", r.body)
	}
}

func TestTagsAreValidatedOnCreateAndUpdate(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, nil)
	tooMany := map[string]string{}
	for i := range 101 {
		tooMany[fmt.Sprintf("k%d", i)] = "v"
	}
	bad := []map[string]string{
		tooMany,
		{"": "v"},
		{"a b": "v"},
		{strings.Repeat("k", 129): "v"},
		{"k": "v,w"},
		{"k": strings.Repeat("v", 257)},
	}
	for _, tags := range bad {
		body, _ := json.Marshal(map[string]any{"tags": tags})
		for _, req := range []struct{ method, path string }{{http.MethodPost, "/buffers"}, {http.MethodPut, "/buffers/" + b.ID}} {
			r := f.do(t, req.method, req.path, bytes.NewReader(body))
			if r.status != http.StatusBadRequest || r.errorCode(t) != codeInvalidInput {
				t.Errorf("%s %s with %d tags: got %d %s", req.method, req.path, len(tags), r.status, r.body)
			}
		}
	}
	ok := map[string]string{strings.Repeat("k", 128): strings.Repeat("v", 256), "x": ""}
	body, _ := json.Marshal(map[string]any{"tags": ok})
	if r := f.do(t, http.MethodPost, "/buffers", bytes.NewReader(body)); r.status != http.StatusCreated {
		t.Errorf("maximal tags refused: %d %s", r.status, r.body)
	}
}

func TestCreateRemovesTheContainerWhenTheInsertFails(t *testing.T) {
	f := newAPIFixture(t)
	f.store.insertErr = fmt.Errorf("table says no: %w", model.ErrUnavailable)
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(`{}`))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %v %s", r.status, r.header, r.body)
	}
	if n := f.containers.count(); n != 0 {
		t.Errorf("%d orphan containers left", n)
	}
}

func TestCreateStoresNoRecordWhenTheContainerCannotBeMade(t *testing.T) {
	f := newAPIFixture(t)
	f.containers.createErr = errors.New("blob service exploded")
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(`{}`))
	if r.status != http.StatusInternalServerError || r.errorCode(t) != "InternalServerError" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if f.store.buffersLen() != 0 {
		t.Error("a record was stored without a container")
	}
	if strings.Contains(string(r.body), "exploded") {
		t.Error("internal error details leaked to the client")
	}
}

func TestGetAnswersTheBufferWithItsETagHeader(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, map[string]string{"k": "v"})
	r := f.do(t, http.MethodGet, "/buffers/"+b.ID, nil)
	if r.status != http.StatusOK || r.header.Get("ETag") != b.ETag {
		t.Fatalf("got %d etag %q: %s", r.status, r.header.Get("ETag"), r.body)
	}
	if got := decode[model.Buffer](t, r); got.ID != b.ID || got.Tags["k"] != "v" {
		t.Errorf("got %+v", got)
	}
}

func TestGetUnknownOrMalformedIDIs404(t *testing.T) {
	f := newAPIFixture(t)
	for _, id := range []string{"aaaaaaaaaaaaaaaaaaaaaaaaaa", "not-an-id", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "aaaaaaaaaaaaaaaaaaaaaaaaa1"} {
		r := f.do(t, http.MethodGet, "/buffers/"+id, nil)
		if r.status != http.StatusNotFound || r.errorCode(t) != codeNotFound {
			t.Errorf("%s: got %d %s", id, r.status, r.body)
		}
	}
}

func TestUpdateReplacesAllTagsAndRefusesAStaleETag(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, map[string]string{"a": "1", "b": "2"})

	r := f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{"tags":{"c":"3"}}`), "If-Match", b.ETag)
	if r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	updated := decode[model.Buffer](t, r)
	if len(updated.Tags) != 1 || updated.Tags["c"] != "3" || r.header.Get("ETag") != updated.ETag || updated.ETag == b.ETag {
		t.Fatalf("got %+v, header %q", updated, r.header.Get("ETag"))
	}

	r = f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{"tags":{}}`), "If-Match", b.ETag)
	if r.status != http.StatusPreconditionFailed || r.errorCode(t) != codePreconditionFailed {
		t.Fatalf("stale etag: %d %s", r.status, r.body)
	}

	r = f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{"tags":{"d":"4"}}`), "If-Match", `"`+updated.ETag+`"`)
	if r.status != http.StatusOK {
		t.Fatalf("quoted etag: %d %s", r.status, r.body)
	}
	r = f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{"tags":{"e":"5"},"somethingElse":1}`), "If-Match", "*")
	if r.status != http.StatusOK {
		t.Fatalf("If-Match *: %d %s", r.status, r.body)
	}
}

func TestUpdateWithEmptyBodyClearsTags(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, map[string]string{"a": "1"})
	r := f.do(t, http.MethodPut, "/buffers/"+b.ID, nil)
	if r.status != http.StatusOK {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if got := decode[model.Buffer](t, r); len(got.Tags) != 0 {
		t.Errorf("tags not cleared: %v", got.Tags)
	}
}

func TestUpdateRefusesABodyIDOtherThanThePath(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, nil)
	r := f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{"id":"bbbbbbbbbbbbbbbbbbbbbbbbbb","tags":{}}`))
	if r.status != http.StatusBadRequest {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	r = f.do(t, http.MethodPut, "/buffers/bbbbbbbbbbbbbbbbbbbbbbbbbb", strings.NewReader(`{}`))
	if r.status != http.StatusNotFound {
		t.Fatalf("unknown buffer: got %d %s", r.status, r.body)
	}
}

func TestListPagesNewestFirstAndNextLinkKeepsFiltersAndLimit(t *testing.T) {
	f := newAPIFixture(t)
	var want []string
	for i := range 5 {
		b := f.create(t, map[string]string{"set": "x", "n": fmt.Sprint(i)})
		want = append([]string{b.ID}, want...)
	}
	f.create(t, map[string]string{"set": "y"})
	f.create(t, map[string]string{"set": "x", "skip": "yes"})

	got := walkPages(t, f, "/buffers?tag[set]=x&excludeTag[skip]=yes&limit=2", 5, func(body []byte, list model.BufferList) {
		if !strings.HasPrefix(list.NextLink, "/api/buffers?") {
			t.Fatalf("nextLink %q is not a relative /api/buffers link", list.NextLink)
		}
		if !strings.Contains(string(body), "&limit=") {
			t.Errorf("nextLink is HTML-escaped in %s", body)
		}
		u, _ := url.Parse(list.NextLink)
		q := u.Query()
		if q.Get("tag[set]") != "x" || q.Get("excludeTag[skip]") != "yes" || q.Get("limit") != "2" || q.Get("_ct") == "" {
			t.Fatalf("nextLink %q lost the filters", list.NextLink)
		}
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestListLimitRules(t *testing.T) {
	f := newAPIFixture(t)
	f.create(t, nil)
	for _, c := range []struct {
		query     string
		status    int
		wantLimit int
	}{
		{"", 200, 20},
		{"?limit=5000", 200, 2000},
		{"?limit=7", 200, 7},
		{"?limit=-1", 400, 0},
		{"?limit=ten", 400, 0},
		{"?limit=1&limit=2", 400, 0},
	} {
		f.store.lastQuery = model.ListQuery{}
		r := f.do(t, http.MethodGet, "/buffers"+c.query, nil)
		if r.status != c.status {
			t.Errorf("%q: got %d %s", c.query, r.status, r.body)
			continue
		}
		if c.status == 200 && f.store.lastQuery.Limit != c.wantLimit {
			t.Errorf("%q: store asked for %d, want %d", c.query, f.store.lastQuery.Limit, c.wantLimit)
		}
		if c.status == 400 && r.errorCode(t) != codeInvalidInput {
			t.Errorf("%q: code %s", c.query, r.errorCode(t))
		}
	}
	r := f.do(t, http.MethodGet, "/buffers?limit=0", nil)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"items":[]}` {
		t.Errorf("limit=0: %d %s", r.status, r.body)
	}
}

func TestListWithTamperedContinuationIs400(t *testing.T) {
	f := newAPIFixture(t)
	for _, ct := range []string{"%%%", "bm9wZQ", "_ct"} {
		r := f.do(t, http.MethodGet, "/buffers?_ct="+url.QueryEscape(ct), nil)
		if r.status != http.StatusBadRequest || r.errorCode(t) != codeInvalidInput {
			t.Errorf("%q: got %d %s", ct, r.status, r.body)
		}
	}
}

func TestRepeatedTagFilterJoinedByTheLegacyForwardingHostIs400(t *testing.T) {
	f := newAPIFixtureIn(t, funchost.Forward)
	for _, path := range []string{"/buffers?tag[a]=1&tag[a]=2", "/buffers/count?excludeTag[a]=1&excludeTag[a]=2", "/buffers?tag[a%20b]=1", "/buffers?tag[a]=x%20y"} {
		r := f.do(t, http.MethodGet, path, nil)
		if r.status != http.StatusBadRequest || r.errorCode(t) != codeInvalidInput {
			t.Errorf("%s: got %d %s", path, r.status, r.body)
		}
	}
}

func TestCountAnswersABareIntegerWithTheListFilters(t *testing.T) {
	f := newAPIFixture(t)
	f.create(t, map[string]string{"a": "1"})
	f.create(t, map[string]string{"a": "1", "b": "2"})
	f.create(t, map[string]string{"a": "2"})
	for query, want := range map[string]string{
		"":                            "3",
		"?tag[a]=1":                   "2",
		"?tag[a]=1&excludeTag[b]=2":   "1",
		"?tag[a]=1&tag[b]=2":          "1",
		"?tag[missing]=1":             "0",
		"?excludeTag[missing]=1":      "3",
		"?api-version=1.0&tag[a]=2":   "1",
		"?tag[a]=1&code=function-key": "2",
	} {
		r := f.do(t, http.MethodGet, "/buffers/count"+query, nil)
		if r.status != http.StatusOK || string(r.body) != want {
			t.Errorf("%q: got %d %q, want %s", query, r.status, r.body, want)
		}
	}
}

func TestAccessSignsForTheRequestedTTLAndPermission(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, nil)
	for _, c := range []struct {
		query string
		ttl   time.Duration
		perm  string
	}{
		{"", time.Hour, "sp=r"},
		{"?writeable=true", time.Hour, "sp=rc"},
		{"?writeable=false&ttl=0.00:00:30", 30 * time.Second, "sp=r"},
		{"?writeable=true&ttl=00:10:00", 10 * time.Minute, "sp=rc"},
		{"?ttl=0.01:00:00", time.Hour, "sp=r"},
	} {
		r := f.do(t, http.MethodPost, "/buffers/"+b.ID+"/access"+c.query, nil)
		if r.status != http.StatusCreated {
			t.Errorf("%q: got %d %s", c.query, r.status, r.body)
			continue
		}
		uri := decode[model.AccessURL](t, r).URI
		if !strings.HasSuffix(uri, c.perm) || f.containers.lastTTL != c.ttl {
			t.Errorf("%q: uri %s ttl %v, want %s %v", c.query, uri, f.containers.lastTTL, c.perm, c.ttl)
		}
	}
}

func TestAccessRefusesBadParametersAndUnknownBuffers(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, nil)
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/buffers/" + b.ID + "/access?ttl=0.00:00:29", 400},
		{"/buffers/" + b.ID + "/access?ttl=0.01:00:01", 400},
		{"/buffers/" + b.ID + "/access?ttl=1", 400},
		{"/buffers/" + b.ID + "/access?ttl=-0.00:10:00", 400},
		{"/buffers/" + b.ID + "/access?ttl=soon", 400},
		{"/buffers/" + b.ID + "/access?ttl=0.00:60:00", 400},
		{"/buffers/" + b.ID + "/access?writeable=maybe", 400},
		{"/buffers/" + b.ID + "/access?writeable=true&writeable=false", 400},
		{"/buffers/bbbbbbbbbbbbbbbbbbbbbbbbbb/access", 404},
		{"/buffers/../access", 404},
	} {
		r := f.do(t, http.MethodPost, c.path, nil)
		if r.status != c.status {
			t.Errorf("%s: got %d %s", c.path, r.status, r.body)
		}
	}
}

func TestParseTimeSpanReadsDotNetForms(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1":                  24 * time.Hour,
		"0.00:00:30":         30 * time.Second,
		"00:30":              30 * time.Minute,
		"00:30:15":           30*time.Minute + 15*time.Second,
		"1.02:03":            26*time.Hour + 3*time.Minute,
		"0.00:00:30.5":       30*time.Second + 500*time.Millisecond,
		"0.00:00:30.0000001": 30*time.Second + 100,
	} {
		got, err := model.ParseTimeSpan(in)
		if err != nil || got != want {
			t.Errorf("%q: got %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1.", "0.24:00:00", "0.00:60:00", "00:00:60", "1:2:3:4", "0.00:00:30.12345678"} {
		if _, err := model.ParseTimeSpan(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestAPIVersionMissingOr10IsAcceptedAndOthersAre400(t *testing.T) {
	f := newAPIFixture(t)
	for _, q := range []string{"", "?api-version=1.0"} {
		if r := f.do(t, http.MethodGet, "/buffers"+q, nil); r.status != http.StatusOK {
			t.Errorf("%q: %d %s", q, r.status, r.body)
		}
	}
	for _, q := range []string{"?api-version=2.0", "?api-version=", "?api-version=1.0&api-version=1.0"} {
		r := f.do(t, http.MethodGet, "/buffers"+q, nil)
		if r.status != http.StatusBadRequest || r.errorCode(t) != codeUnsupportedVersion {
			t.Errorf("%q: %d %s", q, r.status, r.body)
		}
	}
}

func TestMetadataListsAPIVersionsAndNoAuthority(t *testing.T) {
	f := newAPIFixture(t)
	r := f.do(t, http.MethodGet, "/metadata", nil)
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"apiVersions":["1.0"]}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestWrongMethodIs405AndUnknownPathIs404AsJSON(t *testing.T) {
	f := newAPIFixture(t)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodPatch, "/buffers", 405},
		{http.MethodPatch, "/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa", 405},
		{http.MethodGet, "/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa/access", 405},
		{http.MethodPost, "/buffers/count", 405},
		{http.MethodPost, "/metadata", 405},
		{http.MethodGet, "/nothing-here", 404},
	} {
		r := f.do(t, c.method, c.path, nil)
		if r.status != c.status {
			t.Errorf("%s %s: got %d %s", c.method, c.path, r.status, r.body)
			continue
		}
		_ = r.errorCode(t)
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	f := newAPIFixture(t)
	body := `{"tags":{"k":"` + strings.Repeat("v", MaxBodyBytes) + `"}}`
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(body))
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	_ = r.errorCode(t)
}

func TestStoreFaultsAre503WithRetryAfterAndPanicsAre500(t *testing.T) {
	f := newAPIFixture(t)
	f.store.err = fmt.Errorf("timeout: %w", model.ErrUnavailable)
	r := f.do(t, http.MethodGet, "/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa", nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("unavailable: %d %v %s", r.status, r.header, r.body)
	}
	f.store.err = nil
	f.store.panicMsg = "bug"
	r = f.do(t, http.MethodGet, "/buffers/count", nil)
	if r.status != http.StatusInternalServerError || r.errorCode(t) != "InternalServerError" {
		t.Fatalf("panic: %d %s", r.status, r.body)
	}
}

func TestLogsNeverHoldFunctionKeys(t *testing.T) {
	f := newAPIFixture(t)
	f.store.err = errors.New("boom")
	f.do(t, http.MethodGet, "/buffers?code=SECRETKEY", nil, "x-functions-key", "SECRETHEADER")
	f.do(t, http.MethodGet, "/buffers/count?code=SECRETKEY", nil)
	if strings.Contains(f.logs.String(), "SECRET") {
		t.Errorf("logs hold a key:\n%s", f.logs)
	}
	if !strings.Contains(f.logs.String(), "/api/buffers") {
		t.Errorf("requests were not logged:\n%s", f.logs)
	}
}

func TestUpdateWithoutIfMatchThatLosesToOtherWritersIs503NotA412(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, nil)
	f.store.err = fmt.Errorf("gave up after 20 attempts: %w", model.ErrPreconditionFailed)
	r := f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{}`))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %v %s", r.status, r.header, r.body)
	}
	r = f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{}`), "If-Match", "stale")
	if r.status != http.StatusPreconditionFailed {
		t.Fatalf("with If-Match: got %d %s", r.status, r.body)
	}
}

func TestSoftDeletedTrueSelectsNothingUntilABufferIsDeleted(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, map[string]string{"a": "1"})
	if r := f.do(t, http.MethodGet, "/buffers/"+b.ID+"?softDeleted=true", nil); r.status != http.StatusNotFound {
		t.Errorf("get: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, "/buffers/"+b.ID+"?softDeleted=false", nil); r.status != http.StatusOK {
		t.Errorf("get active: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodPut, "/buffers/"+b.ID+"?softDeleted=true", strings.NewReader(`{}`)); r.status != http.StatusNotFound {
		t.Errorf("put: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, "/buffers?softDeleted=true", nil); r.status != http.StatusOK || string(r.body) != `{"items":[]}` {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, "/buffers?softDeleted=maybe", nil); r.status != http.StatusBadRequest {
		t.Errorf("list with a bad value: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, "/buffers/count?softDeleted=true", nil); string(r.body) != "0" {
		t.Errorf("count: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, "/buffers/count?softDeleted=maybe", nil); string(r.body) != "1" {
		t.Errorf("count with a bad value: %d %s", r.status, r.body)
	}
}
