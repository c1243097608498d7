package handler

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"spool/internal/funchost"
	"spool/internal/model"
)

// fakeStore keeps records in memory with the Store contract's semantics, so handler
// logic can be tested without storage.
type fakeStore struct {
	mu        sync.Mutex
	buffers   map[string]model.Buffer
	version   int
	insertErr error // returned by Insert when set
	err       error // returned by every method when set
	panicMsg  string
	lastQuery model.ListQuery
}

func newFakeStore() *fakeStore { return &fakeStore{buffers: map[string]model.Buffer{}} }

func (s *fakeStore) check() error {
	if s.panicMsg != "" {
		panic(s.panicMsg)
	}
	return s.err
}

func (s *fakeStore) nextETag() string {
	s.version++
	return fmt.Sprintf("v%d", s.version)
}

func (s *fakeStore) Insert(_ context.Context, b model.Buffer) (model.Buffer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return model.Buffer{}, err
	}
	if s.insertErr != nil {
		return model.Buffer{}, s.insertErr
	}
	if _, ok := s.buffers[b.ID]; ok {
		return model.Buffer{}, fmt.Errorf("buffer %s exists", b.ID)
	}
	b.Tags = maps.Clone(b.Tags)
	b.ETag = s.nextETag()
	s.buffers[b.ID] = b
	return b, nil
}

func (s *fakeStore) Get(_ context.Context, id string) (model.Buffer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return model.Buffer{}, err
	}
	b, ok := s.buffers[id]
	if !ok {
		return model.Buffer{}, fmt.Errorf("getting %s: %w", id, model.ErrNotFound)
	}
	return b, nil
}

func (s *fakeStore) Update(_ context.Context, id string, upd model.BufferUpdate, ifMatch string) (model.Buffer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return model.Buffer{}, err
	}
	b, ok := s.buffers[id]
	if !ok || b.IsSoftDeleted != upd.SoftDeleted || b.Purging {
		return model.Buffer{}, model.ErrNotFound
	}
	if ifMatch != "" && ifMatch != b.ETag {
		return model.Buffer{}, model.ErrPreconditionFailed
	}
	b.Tags = maps.Clone(upd.Tags)
	if upd.ExpiresAt != nil {
		b.ExpiresAt = upd.ExpiresAt
	}
	b.ETag = s.nextETag()
	s.buffers[id] = b
	return b, nil
}

func matches(b model.Buffer, f model.Filter) bool { return f.Selects(b) }

func (s *fakeStore) sorted(f model.Filter) []model.Buffer {
	var out []model.Buffer
	for _, b := range s.buffers {
		if matches(b, f) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b model.Buffer) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// The fake's token is base64 of the last returned ID: opaque enough to be tampered with.
func (s *fakeStore) List(_ context.Context, q model.ListQuery) (model.ListPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return model.ListPage{}, err
	}
	s.lastQuery = q
	all := s.sorted(q.Filter)
	start := 0
	if q.Continuation != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Continuation)
		if err != nil {
			return model.ListPage{}, model.ErrInvalidContinuation
		}
		i := slices.IndexFunc(all, func(b model.Buffer) bool { return b.ID == string(raw) })
		if i < 0 {
			return model.ListPage{}, model.ErrInvalidContinuation
		}
		start = i + 1
	}
	end := min(start+q.Limit, len(all))
	page := model.ListPage{Items: all[start:end]}
	if end < len(all) {
		page.Continuation = base64.RawURLEncoding.EncodeToString([]byte(all[end-1].ID))
	}
	return page, nil
}

func (s *fakeStore) Count(_ context.Context, f model.Filter) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return 0, err
	}
	return len(s.sorted(f)), nil
}

func (s *fakeStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.buffers, id)
	return nil
}

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

func (s *fakeStore) buffersLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buffers)
}
