package handler

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"spool/internal/model"
)

// The lifecycle half of the Store contract for fakeStore. The lifecycle itself is
// tested against the real table store on Azurite (lifecycle_test.go); these keep
// the fake a Store.

func (s *fakeStore) Modify(_ context.Context, id string, change func(model.Buffer) (model.Buffer, error)) (model.Buffer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return model.Buffer{}, err
	}
	cur, ok := s.buffers[id]
	if !ok {
		return model.Buffer{}, fmt.Errorf("modifying %s: %w", id, model.ErrNotFound)
	}
	cur.Tags = maps.Clone(cur.Tags)
	next, err := change(cur)
	if err != nil {
		return model.Buffer{}, err
	}
	next.ID, next.CreatedAt, next.ETag = cur.ID, cur.CreatedAt, s.nextETag()
	s.buffers[id] = next
	return next, nil
}

func (s *fakeStore) Purge(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	if b, ok := s.buffers[id]; ok && !b.Purging {
		return fmt.Errorf("purging %s: not marked", id)
	}
	delete(s.buffers, id)
	return nil
}

func (s *fakeStore) Expired(_ context.Context, now time.Time, limit int) ([]model.Buffer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	var due []model.Buffer
	for _, b := range s.buffers {
		if b.ExpiresAt != nil && !b.ExpiresAt.After(now) {
			due = append(due, b)
		}
	}
	slices.SortFunc(due, func(a, b model.Buffer) int { return a.ExpiresAt.Compare(*b.ExpiresAt) })
	return due[:min(limit, len(due))], nil
}
