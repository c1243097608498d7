package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// blobStore is a tiny upstream: PUT keeps the body and the Content-MD5 it came
// with, GET returns them.
type blobStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
	md5s  map[string]string
	hits  int
}

func startUpstream(t *testing.T) (*blobStore, *httptest.Server) {
	t.Helper()
	s := &blobStore{blobs: map[string][]byte{}, md5s: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hits++
		switch r.Method {
		case http.MethodPut:
			data, _ := io.ReadAll(r.Body)
			s.blobs[r.URL.Path] = data
			s.md5s[r.URL.Path] = r.Header.Get("Content-MD5")
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet, http.MethodHead:
			data, ok := s.blobs[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			if m := s.md5s[r.URL.Path]; m != "" {
				w.Header().Set("Content-MD5", m)
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data)
		}
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *blobStore) put(path string, data []byte, md5 string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[path], s.md5s[path] = data, md5
}

func (s *blobStore) get(path string) ([]byte, string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blobs[path], s.md5s[path], s.hits
}

func startProxy(t *testing.T, upstream string, rules ...Rule) *Proxy {
	t.Helper()
	p, err := Start(upstream, rules...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// fresh connections every time, so one reset never hides behind connection reuse
var noReuse = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func do(t *testing.T, method, url string, body []byte, header http.Header) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noReuse.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

var blob = bytes.Repeat([]byte("0123456789abcdef"), 1024)

func TestUnfaultedRequestsPassThroughByteForByte(t *testing.T) {
	store, up := startUpstream(t)
	p := startProxy(t, up.URL)
	resp, _, err := do(t, http.MethodPut, p.URL+"/acct/c/00/000?sig=x", blob, http.Header{"Content-Md5": {"abc"}})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("put: %v %v", resp, err)
	}
	if got, md5, _ := store.get("/acct/c/00/000"); !bytes.Equal(got, blob) || md5 != "abc" {
		t.Fatalf("upstream got %d bytes, md5 %q", len(got), md5)
	}
	resp, data, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil)
	if err != nil || !bytes.Equal(data, blob) || resp.Header.Get("Content-MD5") != "abc" || resp.ContentLength != int64(len(blob)) {
		t.Fatalf("get: %v, %d bytes, err %v", resp, len(data), err)
	}
	if p.Requests() != 2 || p.TotalInjected() != 0 {
		t.Fatalf("requests %d, injected %d", p.Requests(), p.TotalInjected())
	}
}

func TestResetDropsTheConnectionWithoutReachingUpstream(t *testing.T) {
	store, up := startUpstream(t)
	p := startProxy(t, up.URL, Rule{Kind: Reset})
	_, _, err := do(t, http.MethodPut, p.URL+"/acct/c/00/000", blob, nil)
	if err == nil {
		t.Fatal("the request succeeded through a reset")
	}
	if _, _, hits := store.get(""); hits != 0 || p.Injected(Reset) != 1 {
		t.Fatalf("upstream hits %d, resets %d", hits, p.Injected(Reset))
	}
}

func TestResetAfterUpstreamLetsTheRequestLandButLosesTheAnswer(t *testing.T) {
	store, up := startUpstream(t)
	p := startProxy(t, up.URL, Rule{Kind: Reset, AfterUpstream: true})
	if _, _, err := do(t, http.MethodPut, p.URL+"/acct/c/00/000", blob, nil); err == nil {
		t.Fatal("the request succeeded through a reset")
	}
	if got, _, _ := store.get("/acct/c/00/000"); !bytes.Equal(got, blob) {
		t.Fatalf("upstream has %d bytes, want the %d sent", len(got), len(blob))
	}
}

func TestStatusAnswersWithRetryAfterAndAStorageErrorCode(t *testing.T) {
	_, up := startUpstream(t)
	p := startProxy(t, up.URL, Rule{Kind: Status, Status: http.StatusTooManyRequests, RetryAfter: 1500 * time.Millisecond})
	resp, body, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" ||
		resp.Header.Get("x-ms-error-code") != "TooManyRequests" || !bytes.Contains(body, []byte("<Code>TooManyRequests</Code>")) {
		t.Fatalf("resp %+v, body %q, err %v", resp, body, err)
	}
	p.SetRules(Rule{Kind: Status})
	if resp, _, _ := do(t, http.MethodGet, p.URL+"/x", nil, nil); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("default status: %+v", resp)
	}
	if p.Injected(Status) != 2 {
		t.Fatalf("injected %d", p.Injected(Status))
	}
}

func TestStallOutlastsAClientTimeoutAndNeverForwards(t *testing.T) {
	store, up := startUpstream(t)
	p := startProxy(t, up.URL, Rule{Kind: Stall, Stall: time.Minute})
	c := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	_, err := c.Get(p.URL + "/acct/c/00/000")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	time.Sleep(50 * time.Millisecond)
	if _, _, hits := store.get(""); hits != 0 || p.Injected(Stall) != 1 {
		t.Fatalf("upstream hits %d, stalls %d", hits, p.Injected(Stall))
	}
}

func TestShortStallDelaysThenForwards(t *testing.T) {
	store, up := startUpstream(t)
	store.put("/acct/c/00/000", blob, "m")
	p := startProxy(t, up.URL, Rule{Kind: Stall, Stall: 300 * time.Millisecond})
	start := time.Now()
	_, data, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil)
	if err != nil || !bytes.Equal(data, blob) || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("%d bytes, err %v, after %s", len(data), err, time.Since(start))
	}
}

func TestTruncateSendsHalfTheDeclaredBodyThenCloses(t *testing.T) {
	store, up := startUpstream(t)
	store.put("/acct/c/00/000", blob, "m")
	p := startProxy(t, up.URL, Rule{Kind: Truncate})
	resp, data, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength != int64(len(blob)) || len(data) != len(blob)/2 {
		t.Fatalf("err %v, Content-Length %d, got %d bytes", err, resp.ContentLength, len(data))
	}
	if p.Injected(Truncate) != 1 {
		t.Fatalf("truncations %d", p.Injected(Truncate))
	}
}

func TestTruncateLeavesEmptyBodiesAloneAndDoesNotCountThem(t *testing.T) {
	store, up := startUpstream(t)
	store.put("/acct/c/00/001", nil, "m")
	p := startProxy(t, up.URL, Rule{Kind: Truncate})
	if _, _, err := do(t, http.MethodGet, p.URL+"/acct/c/00/001", nil, nil); err != nil {
		t.Fatal(err)
	}
	if p.Injected(Truncate) != 0 {
		t.Fatalf("counted %d truncations of an empty body", p.Injected(Truncate))
	}
}

func differingBytes(a, b []byte) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func TestFlipRequestBodyChangesExactlyOneByteUpstreamSees(t *testing.T) {
	store, up := startUpstream(t)
	p := startProxy(t, up.URL, Rule{Kind: FlipRequestBody, Method: http.MethodPut})
	if _, _, err := do(t, http.MethodPut, p.URL+"/acct/c/00/000", blob, nil); err != nil {
		t.Fatal(err)
	}
	got, _, _ := store.get("/acct/c/00/000")
	if len(got) != len(blob) || differingBytes(got, blob) != 1 || p.Injected(FlipRequestBody) != 1 {
		t.Fatalf("upstream got %d bytes, %d differ; injected %d", len(got), differingBytes(got, blob), p.Injected(FlipRequestBody))
	}
}

func TestFlipResponseBodyChangesExactlyOneByteTheClientSees(t *testing.T) {
	store, up := startUpstream(t)
	store.put("/acct/c/00/000", blob, "m")
	p := startProxy(t, up.URL, Rule{Kind: FlipResponseBody})
	_, data, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil)
	if err != nil || len(data) != len(blob) || differingBytes(data, blob) != 1 {
		t.Fatalf("err %v, %d bytes, %d differ", err, len(data), differingBytes(data, blob))
	}
}

func TestDropMD5RemovesTheHeaderEachWay(t *testing.T) {
	store, up := startUpstream(t)
	p := startProxy(t, up.URL, Rule{Kind: DropRequestMD5, Method: http.MethodPut})
	if _, _, err := do(t, http.MethodPut, p.URL+"/acct/c/00/000", blob, http.Header{"Content-Md5": {"abc"}}); err != nil {
		t.Fatal(err)
	}
	if _, md5, _ := store.get("/acct/c/00/000"); md5 != "" || p.Injected(DropRequestMD5) != 1 {
		t.Fatalf("upstream saw Content-MD5 %q", md5)
	}
	store.put("/acct/c/00/000", blob, "abc")
	p.SetRules(Rule{Kind: DropResponseMD5})
	resp, data, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil)
	if err != nil || !bytes.Equal(data, blob) || resp.Header.Get("Content-MD5") != "" || p.Injected(DropResponseMD5) != 1 {
		t.Fatalf("err %v, Content-MD5 %q", err, resp.Header.Get("Content-MD5"))
	}
}

func TestEveryCountMethodAndPathSelectWhichRequestsAreFaulted(t *testing.T) {
	_, up := startUpstream(t)
	p := startProxy(t, up.URL, Rule{Kind: Status, Method: http.MethodGet, Path: DataBlob, Every: 3, Count: 2})
	var faulted []int
	for i := 1; i <= 10; i++ {
		resp, _, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			faulted = append(faulted, i)
		}
	}
	if len(faulted) != 2 || faulted[0] != 3 || faulted[1] != 6 {
		t.Fatalf("faulted requests %v, want [3 6]", faulted)
	}
	p.SetRules(Rule{Kind: Status, Method: http.MethodGet, Path: DataBlob})
	for _, path := range []string{"/acct/c/.bufferstart", "/acct/c", "/acct/c/.bufferend"} {
		if resp, _, _ := do(t, http.MethodGet, p.URL+path, nil, nil); resp.StatusCode == http.StatusServiceUnavailable {
			t.Errorf("%s was faulted, but it is not a data blob", path)
		}
	}
	if resp, _, _ := do(t, http.MethodPut, p.URL+"/acct/c/00/000", nil, nil); resp.StatusCode == http.StatusServiceUnavailable {
		t.Error("a PUT was faulted by a GET rule")
	}
}

func TestDataBlobMatchesTygerBlobPathsOnly(t *testing.T) {
	for path, want := range map[string]bool{
		"/devstoreaccount1/c/00/000":       true,
		"/devstoreaccount1/c/01/FFF":       true,
		"/devstoreaccount1/c/0A/00/00/000": true,
		"/devstoreaccount1/c/.bufferstart": false,
		"/devstoreaccount1/c/.bufferend":   false,
		"/devstoreaccount1/c":              false,
		"/devstoreaccount1/c/00/00g":       false,
	} {
		if DataBlob.MatchString(path) != want {
			t.Errorf("DataBlob.MatchString(%q) = %v", path, !want)
		}
	}
}

func TestFlipRequestBodyKeepsAnEmptyPutUnchunked(t *testing.T) {
	var chunked bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunked = len(r.TransferEncoding) > 0 || r.ContentLength != 0
		w.WriteHeader(http.StatusCreated)
	}))
	defer up.Close()
	p := startProxy(t, up.URL, Rule{Kind: FlipRequestBody})
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/acct/c/00/001", nil)
	req.ContentLength = 0
	resp, err := noReuse.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated || chunked || p.Injected(FlipRequestBody) != 0 {
		t.Fatalf("resp %v, err %v, chunked upstream %v, injected %d", resp, err, chunked, p.Injected(FlipRequestBody))
	}
	resp.Body.Close()
}

func TestStallBodySendsHalfThenHoldsUntilTheClientGivesUp(t *testing.T) {
	store, up := startUpstream(t)
	store.put("/acct/c/00/000", blob, "m")
	p := startProxy(t, up.URL, Rule{Kind: StallBody, Stall: time.Minute})
	c := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get(p.URL + "/acct/c/00/000")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || len(data) != len(blob)/2 || time.Since(start) > 5*time.Second {
		t.Fatalf("read %d bytes, err %v, after %s", len(data), err, time.Since(start))
	}
	if p.Injected(StallBody) != 1 {
		t.Fatalf("injected %d", p.Injected(StallBody))
	}
}

func TestRulesCombineOnOneRequest(t *testing.T) {
	store, up := startUpstream(t)
	p := startProxy(t, up.URL,
		Rule{Kind: FlipRequestBody, Method: http.MethodPut},
		Rule{Kind: DropRequestMD5, Method: http.MethodPut})
	if _, _, err := do(t, http.MethodPut, p.URL+"/acct/c/00/000", blob, http.Header{"Content-Md5": {"abc"}}); err != nil {
		t.Fatal(err)
	}
	got, md5, _ := store.get("/acct/c/00/000")
	if differingBytes(got, blob) != 1 || md5 != "" || p.TotalInjected() != 2 {
		t.Fatalf("%d bytes differ, Content-MD5 %q, injected %d", differingBytes(got, blob), md5, p.TotalInjected())
	}
	// Reset, Status and Stall take the whole exchange: the first one listed wins.
	p.SetRules(Rule{Kind: Status, Status: http.StatusInternalServerError}, Rule{Kind: Reset})
	if resp, _, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil); err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("resp %v, err %v", resp, err)
	}
}

func TestPerPathLetsARetryOfTheSameBlobThroughAfterItsQuota(t *testing.T) {
	_, up := startUpstream(t)
	p := startProxy(t, up.URL, Rule{Kind: Status, Method: http.MethodGet, Path: DataBlob, PerPath: 2})
	var statuses []int
	for range 4 {
		resp, _, err := do(t, http.MethodGet, p.URL+"/acct/c/00/000", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, resp.StatusCode)
	}
	if statuses[0] != 503 || statuses[1] != 503 || statuses[2] == 503 || statuses[3] == 503 {
		t.Fatalf("statuses %v: want the first two faulted, then none", statuses)
	}
	if resp, _, _ := do(t, http.MethodGet, p.URL+"/acct/c/00/001", nil, nil); resp.StatusCode != 503 {
		t.Errorf("another blob got %d: its own quota is unused", resp.StatusCode)
	}
}
