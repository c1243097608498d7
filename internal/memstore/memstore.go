// Package memstore keeps buffer records in memory, with the promises of the table
// store (internal/storetest checks both), for tests of handler logic that need no
// storage.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"spool/internal/model"
)

// ErrExists is returned (wrapped) by Insert when a buffer with the ID already exists.
var ErrExists = errors.New("buffer already exists")

// ErrNotPurging is returned (wrapped) by Purge for a buffer not marked Purging.
var ErrNotPurging = errors.New("buffer is not marked for purging")

// maxModifyAttempts bounds Modify's retries when other writers keep winning, as the
// table store does.
const maxModifyAttempts = 20

// Options configures a Store.
type Options struct {
	// Fault, when set, is called first by every operation with the operation's name
	// ("Insert", "Get", "Update", "List", "Count", "Modify", "Purge", "Expired", "RecordGrant", "Grants");
	// an error it returns is the operation's answer. Tests inject storage faults
	// with it.
	Fault func(op string) error
}

// Store is an in-memory buffer store, safe for concurrent use.
type Store struct {
	fault   func(op string) error
	mu      sync.Mutex
	buffers map[string]model.Buffer
	grants  map[string][]model.Grant // by buffer ID, newest first
	version uint64
}

// New returns an empty Store.
func New(opts Options) *Store {
	return &Store{fault: opts.Fault, buffers: map[string]model.Buffer{}, grants: map[string][]model.Grant{}}
}

func (s *Store) check(op string) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(op)
}

// Len is the number of records held, in any state.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buffers)
}

// clone copies b deeply, so no caller shares a map or time with the store.
func clone(b model.Buffer) model.Buffer {
	b.Tags = maps.Clone(b.Tags)
	if b.Tags == nil {
		b.Tags = map[string]string{}
	}
	b.ExpiresAt = cloneTime(b.ExpiresAt)
	b.KeptExpiresAt = cloneTime(b.KeptExpiresAt)
	return b
}

func cloneTime(t *time.Time) *time.Time {
	if t != nil {
		t = new(t.UTC())
	}
	return t
}

// put stores b under a new ETag; the caller holds s.mu.
func (s *Store) put(b model.Buffer) model.Buffer {
	s.version++
	b = clone(b)
	b.ETag = fmt.Sprintf("m%d", s.version)
	s.buffers[b.ID] = b
	return clone(b)
}

// Insert stores a new record (create-only) and returns it with its ETag.
func (s *Store) Insert(_ context.Context, b model.Buffer) (model.Buffer, error) {
	if err := s.check("Insert"); err != nil {
		return model.Buffer{}, err
	}
	if b.ID == "" || b.CreatedAt.IsZero() {
		return model.Buffer{}, errors.New("inserting buffer: a record needs an ID and a creation time")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buffers[b.ID]; ok {
		return model.Buffer{}, fmt.Errorf("inserting buffer %s: %w", b.ID, ErrExists)
	}
	b.CreatedAt = b.CreatedAt.UTC()
	return s.put(b), nil
}

// Get is a point read of a record in any state; model.ErrNotFound when there is none.
func (s *Store) Get(_ context.Context, id string) (model.Buffer, error) {
	if err := s.check("Get"); err != nil {
		return model.Buffer{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buffers[id]
	if !ok {
		return model.Buffer{}, fmt.Errorf("buffer %q: %w", id, model.ErrNotFound)
	}
	return clone(b), nil
}

// Update replaces the tags (and the expiry when upd.ExpiresAt is set) of a buffer
// in the state upd names. A non-empty ifMatch other than "*" must be the current
// ETag, or the answer is model.ErrPreconditionFailed.
func (s *Store) Update(_ context.Context, id string, upd model.BufferUpdate, ifMatch string) (model.Buffer, error) {
	if err := s.check("Update"); err != nil {
		return model.Buffer{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buffers[id]
	if !ok || b.IsSoftDeleted != upd.SoftDeleted || b.Purging {
		return model.Buffer{}, fmt.Errorf("updating buffer %s (soft-deleted %v): %w", id, upd.SoftDeleted, model.ErrNotFound)
	}
	if ifMatch != "" && ifMatch != "*" && ifMatch != b.ETag {
		return model.Buffer{}, fmt.Errorf("updating buffer %s: %w", id, model.ErrPreconditionFailed)
	}
	b.Tags = upd.Tags
	if upd.ExpiresAt != nil {
		b.ExpiresAt = upd.ExpiresAt
	}
	return s.put(b), nil
}

// Modify reads the record, applies change outside the lock (so change may call the
// store) and swaps the result in only if nobody wrote in between, retrying on a
// fresh read otherwise. change's error comes back wrapped.
func (s *Store) Modify(ctx context.Context, id string, change func(model.Buffer) (model.Buffer, error)) (model.Buffer, error) {
	if err := s.check("Modify"); err != nil {
		return model.Buffer{}, err
	}
	for range maxModifyAttempts {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return model.Buffer{}, fmt.Errorf("modifying: %w", err)
		}
		next, err := change(clone(cur))
		if err != nil {
			return model.Buffer{}, fmt.Errorf("modifying buffer %s: %w", id, err)
		}
		if done, ok := s.swap(cur, next); ok {
			return done, nil
		}
		if err := ctx.Err(); err != nil {
			return model.Buffer{}, fmt.Errorf("modifying buffer %s: %w", id, err)
		}
	}
	return model.Buffer{}, fmt.Errorf("modifying buffer %s: %w: lost the compare-and-swap %d times", id, model.ErrPreconditionFailed, maxModifyAttempts)
}

// swap stores next in place of cur if the record still carries cur's ETag; the ID
// and creation time cannot change.
func (s *Store) swap(cur, next model.Buffer) (model.Buffer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, ok := s.buffers[cur.ID]
	if !ok || now.ETag != cur.ETag {
		return model.Buffer{}, false
	}
	next.ID, next.CreatedAt = cur.ID, cur.CreatedAt
	return s.put(next), true
}

// Purge removes a record marked Purging; a missing record is no error.
func (s *Store) Purge(_ context.Context, id string) error {
	if err := s.check("Purge"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buffers[id]
	if !ok {
		return nil
	}
	if !b.Purging {
		return fmt.Errorf("purging buffer %s: %w", id, ErrNotPurging)
	}
	delete(s.buffers, id)
	return nil
}

// Expired returns up to limit buffers, in any state, whose expiry is at or before
// now, soonest first (then by ID).
func (s *Store) Expired(_ context.Context, now time.Time, limit int) ([]model.Buffer, error) {
	if err := s.check("Expired"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []model.Buffer
	for _, b := range s.buffers {
		if b.ExpiresAt != nil && !b.ExpiresAt.After(now) {
			due = append(due, clone(b))
		}
	}
	slices.SortFunc(due, func(a, b model.Buffer) int {
		if c := a.ExpiresAt.Compare(*b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return due[:min(limit, len(due))], nil
}
