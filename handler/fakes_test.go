package handler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"spool/internal/funchost"
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

// hostShim stands in for the Functions host in front of h, passing each request on
// as the host does in mode (funchost.Pass): host.json's enableProxyingHttpRequest
// by default, the legacy forwarding mode for the tests that pin what it changes.
func hostShim(mode funchost.Mode, h http.Handler) *httptest.Server {
	return httptest.NewServer(funchost.Pass(mode, h))
}
