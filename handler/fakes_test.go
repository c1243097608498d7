package handler

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"spool/internal/memstore"
	"spool/internal/model"
)

// fakeStore is the in-memory store (which keeps the store contract, see
// internal/storetest) with the faults handler tests inject: insertErr fails
// Insert, err fails every operation, panicMsg makes every operation panic; and it
// remembers the last List query.
type fakeStore struct {
	*memstore.Store
	insertErr error
	err       error
	panicMsg  string
	lastQuery model.ListQuery
}

func newFakeStore() *fakeStore {
	s := &fakeStore{}
	s.Store = memstore.New(memstore.Options{Fault: s.fault})
	return s
}

func (s *fakeStore) fault(op string) error {
	if s.panicMsg != "" {
		panic(s.panicMsg)
	}
	if op == "Insert" && s.insertErr != nil {
		return s.insertErr
	}
	return s.err
}

func (s *fakeStore) List(ctx context.Context, q model.ListQuery) (model.ListPage, error) {
	s.lastQuery = q
	return s.Store.List(ctx, q)
}

func (s *fakeStore) buffersLen() int { return s.Len() }

// fakeContainers records containers and hands out recognisable fake URLs.
type fakeContainers struct {
	mu        sync.Mutex
	names     map[string]bool
	createErr error
	lastTTL   time.Duration
}

func newFakeContainers() *fakeContainers { return &fakeContainers{names: map[string]bool{}} }

func (c *fakeContainers) Create(_ context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.createErr != nil {
		return c.createErr
	}
	c.names[name] = true
	return nil
}

func (c *fakeContainers) Delete(_ context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.names, name)
	return nil
}

func (c *fakeContainers) AccessURL(_ context.Context, name string, writeable bool, ttl time.Duration) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastTTL = ttl
	perm := "r"
	if writeable {
		perm = "rc"
	}
	return "https://fake.blob/" + name + "?sp=" + perm, nil
}

func (c *fakeContainers) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.names)
}

// forwardingShim stands in for the Functions host in front of h, applying its
// forwarding rules: the path (with /api) and headers pass unchanged; the query is
// rebuilt with repeated keys joined by commas (the `code` key included); the body is
// forwarded only when the request had Content-Length > 0, so chunked bodies are
// dropped; the answer is buffered before it is sent on.
func forwardingShim(h http.Handler) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fwd := r.Clone(r.Context())
		fwd.URL.RawQuery = joinRepeatedKeys(r.URL.RawQuery)
		fwd.RequestURI = ""
		fwd.TransferEncoding = nil
		if r.ContentLength <= 0 {
			fwd.Body = http.NoBody
			fwd.ContentLength = 0
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, fwd)
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
}

func joinRepeatedKeys(rawQuery string) string {
	var order []string
	values := map[string][]string{}
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			key, val = k, v
		}
		if _, seen := values[key]; !seen {
			order = append(order, key)
		}
		values[key] = append(values[key], val)
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(strings.Join(values[k], ",")))
	}
	return strings.Join(parts, "&")
}
