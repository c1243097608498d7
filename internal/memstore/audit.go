package memstore

import (
	"context"
	"fmt"
	"slices"

	"spool/internal/model"
)

// RecordGrant appends g to its buffer's audit trail.
func (s *Store) RecordGrant(_ context.Context, g model.Grant) error {
	if err := s.check("RecordGrant"); err != nil {
		return err
	}
	if g.BufferID == "" || g.ID == "" {
		return fmt.Errorf("recording a grant: buffer ID and grant ID are required")
	}
	g.GrantedAt, g.ExpiresAt = g.GrantedAt.UTC(), g.ExpiresAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	trail := append(s.grants[g.BufferID], g)
	slices.SortFunc(trail, func(a, b model.Grant) int { return newestFirst(grantMark(a), grantMark(b)) })
	s.grants[g.BufferID] = trail
	return nil
}

// Grants returns one page of a buffer's audit trail, newest first.
func (s *Store) Grants(_ context.Context, q model.GrantQuery) (model.GrantPage, error) {
	if err := s.check("Grants"); err != nil {
		return model.GrantPage{}, err
	}
	s.mu.Lock()
	trail := slices.Clone(s.grants[q.BufferID])
	s.mu.Unlock()
	items, next, err := pageAfter(trail, grantMark, q.Continuation, q.Limit)
	if err != nil {
		return model.GrantPage{}, fmt.Errorf("listing grants of buffer %s: %w", q.BufferID, err)
	}
	return model.GrantPage{Items: items, Continuation: next}, nil
}

// grantMark places a grant in the newest-first order buffers use.
func grantMark(g model.Grant) model.Buffer {
	return model.Buffer{ID: g.ID, CreatedAt: g.GrantedAt}
}
