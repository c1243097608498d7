package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"spool/internal/model"
)

const (
	testID  = "abcdefghijklmnopqrstuvwxyz"
	testKey = "s3cret-function-key"
)

// newTestClient returns a client for srv with fast retries.
func newTestClient(t *testing.T, srv *httptest.Server) *Client {
	t.Helper()
	c, err := New(Options{ServerURL: srv.URL + "/api", FunctionKey: testKey, RetryWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, model.ErrorBody{Error: model.ErrorInfo{Code: code, Message: msg}})
}

// erroringServer answers every request with the same API error and counts them.
func erroringServer(t *testing.T, status int, code, msg string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeError(w, status, code, msg)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestCreateBufferSendsTagsAPIVersionAndFunctionKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/buffers" {
			t.Errorf("got %s %s, want POST /api/buffers", r.Method, r.URL.Path)
		}
		if v := r.URL.Query().Get("api-version"); v != "1.0" {
			t.Errorf("api-version = %q, want 1.0", v)
		}
		if k := r.Header.Get("x-functions-key"); k != testKey {
			t.Errorf("x-functions-key = %q", k)
		}
		var req CreateRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decoding body: %v", err)
		}
		writeJSON(w, http.StatusCreated, model.Buffer{ID: testID, Tags: req.Tags, ETag: "1"})
	}))
	defer srv.Close()

	b, err := newTestClient(t, srv).CreateBuffer(context.Background(), CreateRequest{Tags: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != testID || b.Tags["a"] != "1" {
		t.Fatalf("got %+v", b)
	}
}

func TestCreateBufferRejectsBadTagsWithoutCallingServer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	_, err := newTestClient(t, srv).CreateBuffer(context.Background(), CreateRequest{Tags: map[string]string{"bad key": "x"}})
	if err == nil || !strings.Contains(err.Error(), `invalid tag key "bad key"`) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 0 {
		t.Fatalf("server was called %d times", calls.Load())
	}
}

func TestUnknownBufferFailsAtOnceWithNotFound(t *testing.T) {
	srv, calls := erroringServer(t, http.StatusNotFound, "NotFound", "The resource was not found")
	c := newTestClient(t, srv)

	_, err := c.GetBuffer(context.Background(), testID, GetOptions{})
	if err == nil || err.Error() != `buffer "`+testID+`" not found` {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, model.ErrNotFound) {
		t.Errorf("errors.Is(err, model.ErrNotFound) is false")
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != "NotFound" {
		t.Errorf("err = %#v", err)
	}
	_, err = c.Access(context.Background(), testID, true, "")
	if !errors.Is(err, model.ErrNotFound) {
		t.Errorf("access: err = %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("server was called %d times for two requests: a 404 must not be retried", n)
	}
}

func TestInvalidIDFailsWithoutCallingServer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	c := newTestClient(t, srv)
	for _, id := range []string{"", "short", strings.ToUpper(testID), "abcdefghijklmnopqrstuvwxy1", "../../buffers?x=abcdefghij"} {
		if _, err := c.GetBuffer(context.Background(), id, GetOptions{}); err == nil || !strings.Contains(err.Error(), "is not a buffer ID") {
			t.Errorf("GetBuffer(%q): err = %v", id, err)
		}
		if _, err := c.Access(context.Background(), id, false, ""); err == nil {
			t.Errorf("Access(%q) succeeded", id)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("server was called %d times", calls.Load())
	}
}

func TestUpdateBufferReplacesTagsAndSendsIfMatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != "/api/buffers/"+testID {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		var body struct {
			Tags map[string]string `json:"tags"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("decoding: %v", err)
		}
		if r.Header.Get("If-Match") != "42" {
			writeError(w, http.StatusPreconditionFailed, "PreconditionFailed", "ETag does not match")
			return
		}
		writeJSON(w, http.StatusOK, model.Buffer{ID: testID, Tags: body.Tags, ETag: "43"})
	}))
	defer srv.Close()
	c := newTestClient(t, srv)

	b, err := c.UpdateBuffer(context.Background(), testID, Change{Tags: map[string]string{"x": "y"}, ETag: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tags) != 1 || b.Tags["x"] != "y" || b.ETag != "43" {
		t.Fatalf("got %+v", b)
	}
	_, err = c.UpdateBuffer(context.Background(), testID, Change{Tags: map[string]string{"x": "z"}, ETag: "41"})
	if err == nil || err.Error() != "the buffer changed since that etag (PreconditionFailed)" {
		t.Fatalf("stale etag: err = %v", err)
	}
	if !errors.Is(err, model.ErrPreconditionFailed) {
		t.Errorf("errors.Is(err, model.ErrPreconditionFailed) is false")
	}
}

func TestUpdateBufferWithoutEtagSendsNoIfMatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["If-Match"]; ok {
			t.Errorf("If-Match sent: %q", r.Header.Get("If-Match"))
		}
		writeJSON(w, http.StatusOK, model.Buffer{ID: testID})
	}))
	defer srv.Close()
	if _, err := newTestClient(t, srv).UpdateBuffer(context.Background(), testID, Change{}); err != nil {
		t.Fatal(err)
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= 2 {
					writeError(w, status, "Busy", "try again")
					return
				}
				writeJSON(w, http.StatusOK, model.Buffer{ID: testID})
			}))
			defer srv.Close()
			if _, err := newTestClient(t, srv).GetBuffer(context.Background(), testID, GetOptions{}); err != nil {
				t.Fatal(err)
			}
			if calls.Load() != 3 {
				t.Fatalf("calls = %d, want 3", calls.Load())
			}
		})
	}
}

func TestRetriesGiveUpWithTheLastAnswer(t *testing.T) {
	srv, calls := erroringServer(t, http.StatusServiceUnavailable, "ServiceUnavailable", "table storage is down")
	_, err := newTestClient(t, srv).GetBuffer(context.Background(), testID, GetOptions{})
	if err == nil || err.Error() != "table storage is down (ServiceUnavailable)" {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 4 {
		t.Fatalf("calls = %d, want 1 + 3 retries", calls.Load())
	}
}

func TestServerErrorsAreNotRetriedAndReadAsOneLine(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "<html>\n<body>\nsomething\n broke</body></html>")
	}))
	defer srv.Close()
	_, err := newTestClient(t, srv).GetBuffer(context.Background(), testID, GetOptions{})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "something broke") {
		t.Fatalf("err = %q", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("calls = %d", calls.Load())
	}
}

func TestUnreachableServerIsExplained(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	c, err := New(Options{ServerURL: "http://" + addr + "/api?code=" + testKey, FunctionKey: testKey, RetryWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBuffer(context.Background(), testID, GetOptions{})
	if !errors.Is(err, ErrServerUnreachable) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "http://"+addr+"/api") || !strings.Contains(msg, "connection refused") || !strings.Contains(msg, "make run") {
		t.Errorf("message = %q", msg)
	}
	if strings.Contains(msg, testKey) {
		t.Errorf("message leaks the function key: %q", msg)
	}
}

func TestFunctionKeyIsNeverEchoedInErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "")
	}))
	defer srv.Close()
	_, err := newTestClient(t, srv).GetBuffer(context.Background(), testID, GetOptions{})
	if err == nil || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "SPOOL_FUNCTION_KEY") {
		t.Fatalf("err = %v", err)
	}
}

func TestAccessAsksForWriteableURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/buffers/"+testID+"/access" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		q := r.URL.Query()
		if q.Get("writeable") != "true" || q.Get("ttl") != "0.00:05:00" {
			t.Errorf("query = %v", q)
		}
		writeJSON(w, http.StatusCreated, model.AccessURL{URI: "http://127.0.0.1:1/devstoreaccount1/" + testID + "?sig=x"})
	}))
	defer srv.Close()
	u, err := newTestClient(t, srv).Access(context.Background(), testID, true, "0.00:05:00")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(u, testID+"?sig=x") {
		t.Fatalf("uri = %q", u)
	}
}

// pagedServer serves n buffers in pages of at most pageMax, linking pages with
// nextLinks written as linkPrefix + "/buffers?...".
func pagedServer(t *testing.T, n, pageMax int, linkPrefix string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/api/buffers" {
			t.Errorf("path = %q", r.URL.Path)
		}
		q := r.URL.Query()
		if q.Get("api-version") != "1.0" || len(q["api-version"]) != 1 {
			t.Errorf("api-version = %v", q["api-version"])
		}
		if q.Get("tag[team]") != "a" || q.Get("excludeTag[old]") != "yes" {
			t.Errorf("filters lost: %v", q)
		}
		start, _ := strconv.Atoi(q.Get("_ct"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit <= 0 || limit > pageMax {
			limit = pageMax
		}
		var page model.BufferList
		page.Items = []model.Buffer{}
		for i := start; i < n && len(page.Items) < limit; i++ {
			page.Items = append(page.Items, model.Buffer{ID: fmt.Sprintf("b%d", i)})
		}
		if next := start + len(page.Items); next < n {
			page.NextLink = fmt.Sprintf("%s/buffers?api-version=1.0&limit=%d&tag%%5Bteam%%5D=a&excludeTag%%5Bold%%5D=yes&_ct=%d", linkPrefix, limit, next)
		}
		writeJSON(w, http.StatusOK, page)
	}))
	return srv, &calls
}

func TestListAllBuffersFollowsNextLink(t *testing.T) {
	filter := ListOptions{Tags: map[string]string{"team": "a"}, ExcludeTags: map[string]string{"old": "yes"}}
	cases := []struct {
		name       string
		n, pageMax int
		linkPrefix string
		max        int
		wantLen    int
		wantTrunc  bool
	}{
		{"one page, fewer than max", 5, 100, "", 10, 5, false},
		{"exactly max", 10, 100, "", 10, 10, false},
		{"more than max", 11, 100, "", 10, 10, true},
		{"many small pages", 25, 4, "", 1000, 25, false},
		{"small pages, truncated", 25, 4, "", 9, 9, true},
		{"links carry the route prefix", 25, 4, "/api", 1000, 25, false},
		{"limit zero", 5, 100, "", 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := pagedServer(t, tc.n, tc.pageMax, tc.linkPrefix)
			defer srv.Close()
			items, trunc, err := newTestClient(t, srv).ListAllBuffers(context.Background(), filter, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != tc.wantLen || trunc != tc.wantTrunc {
				t.Fatalf("got %d items, truncated=%v; want %d, %v", len(items), trunc, tc.wantLen, tc.wantTrunc)
			}
			for i, b := range items {
				if b.ID != fmt.Sprintf("b%d", i) {
					t.Fatalf("item %d is %q", i, b.ID)
				}
			}
		})
	}
}

func TestListAllBuffersRefusesNegativeLimit(t *testing.T) {
	srv, calls := pagedServer(t, 1, 1, "")
	defer srv.Close()
	if _, _, err := newTestClient(t, srv).ListAllBuffers(context.Background(), ListOptions{}, -1); err == nil {
		t.Fatal("no error")
	}
	if calls.Load() != 0 {
		t.Fatal("server called")
	}
}

func TestNextLinkToAnotherHostIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, model.BufferList{Items: []model.Buffer{{ID: "x"}}, NextLink: "http://evil.example/api/buffers?_ct=1"})
	}))
	defer srv.Close()
	_, _, err := newTestClient(t, srv).ListAllBuffers(context.Background(), ListOptions{}, 10)
	if err == nil || !strings.Contains(err.Error(), "another host") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewRejectsBadServerURL(t *testing.T) {
	for _, u := range []string{"127.0.0.1:7071", "ftp://host/api", "http://"} {
		if _, err := New(Options{ServerURL: u}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
	c, err := New(Options{})
	if err != nil || c.ServerURL() != DefaultServerURL {
		t.Fatalf("default: %v, %v", c, err)
	}
}

// dropConnection closes the connection without answering, as a crashing server or
// a broken proxy would.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestDroppedConnectionsAreRetriedExceptForCreate(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 || r.Method == http.MethodPost {
			dropConnection(w)
			return
		}
		writeJSON(w, http.StatusOK, model.Buffer{ID: testID})
	}))
	defer srv.Close()
	c := newTestClient(t, srv)
	if _, err := c.GetBuffer(context.Background(), testID, GetOptions{}); err != nil || calls.Load() != 2 {
		t.Fatalf("get: %v after %d calls", err, calls.Load())
	}
	calls.Store(0)
	// The server may have created the buffer before the connection broke: a retry
	// could make a second one.
	_, err := c.CreateBuffer(context.Background(), CreateRequest{})
	if err == nil || calls.Load() != 1 || !strings.Contains(err.Error(), "talking to the spool server at") {
		t.Fatalf("create: %v after %d calls", err, calls.Load())
	}
}

func TestCodeInTheServerURLIsSentAsTheFunctionKeyHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-functions-key") != "k1" || r.URL.Query().Has("code") {
			t.Errorf("key header %q, query %q", r.Header.Get("x-functions-key"), r.URL.RawQuery)
		}
		writeJSON(w, http.StatusOK, model.Buffer{ID: testID})
	}))
	defer srv.Close()
	c, err := New(Options{ServerURL: srv.URL + "/api/?code=k1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBuffer(context.Background(), testID, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.ServerURL(), "k1") {
		t.Fatalf("ServerURL() = %q", c.ServerURL())
	}
}

func TestGetBufferAsksForASoftDeletedRecordOnlyWhenTold(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Query().Get("softDeleted"))
		writeJSON(w, http.StatusOK, model.Buffer{ID: testID})
	}))
	defer srv.Close()
	c := newTestClient(t, srv)
	for _, opts := range []GetOptions{{}, {SoftDeleted: true}} {
		if _, err := c.GetBuffer(context.Background(), testID, opts); err != nil {
			t.Fatal(err)
		}
	}
	if len(asked) != 2 || asked[0] != "" || asked[1] != "true" {
		t.Fatalf("softDeleted sent as %q, want none then \"true\"", asked)
	}
}

func TestAStateRefusalWithoutAnEtagDoesNotTalkAboutEtags(t *testing.T) {
	srv, _ := erroringServer(t, http.StatusPreconditionFailed, "PreconditionFailed", "Buffer is already soft-deleted")
	c := newTestClient(t, srv)
	_, err := c.Apply(context.Background(), Delete, testID)
	if err == nil || err.Error() != "delete buffer "+testID+": Buffer is already soft-deleted (PreconditionFailed)" {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, model.ErrPreconditionFailed) {
		t.Errorf("errors.Is(err, model.ErrPreconditionFailed) is false")
	}
	_, err = c.UpdateBuffer(context.Background(), testID, Change{Tags: map[string]string{"a": "1"}})
	if err == nil || strings.Contains(strings.ToLower(err.Error()), "etag") {
		t.Fatalf("update without an etag: err = %v", err)
	}
}
