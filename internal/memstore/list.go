package memstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"spool/internal/model"
)

// position is where a page ended: the last buffer's place in the newest-first
// order. A continuation holds it rather than an ID, so paging goes on past a
// buffer removed in between.
type position struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"id"`
}

// newestFirst orders by createdAt desc, then ID desc.
func newestFirst(a, b model.Buffer) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

func encodeContinuation(b model.Buffer) string {
	raw, _ := json.Marshal(position{CreatedAt: b.CreatedAt, ID: b.ID})
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeContinuation(token string) (position, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	var p position
	if err == nil {
		err = json.Unmarshal(raw, &p)
	}
	if err != nil || p.ID == "" || p.CreatedAt.IsZero() {
		return position{}, fmt.Errorf("continuation %q: %w", token, model.ErrInvalidContinuation)
	}
	return p, nil
}

// selected returns the buffers f selects, newest first; the caller holds s.mu.
func (s *Store) selected(f model.Filter) []model.Buffer {
	var out []model.Buffer
	for _, b := range s.buffers {
		if f.Selects(b) {
			out = append(out, clone(b))
		}
	}
	slices.SortFunc(out, newestFirst)
	return out
}

// List returns one page of the buffers q selects, newest first; the last page
// carries no continuation.
func (s *Store) List(_ context.Context, q model.ListQuery) (model.ListPage, error) {
	if err := s.check("List"); err != nil {
		return model.ListPage{}, err
	}
	s.mu.Lock()
	all := s.selected(q.Filter)
	s.mu.Unlock()
	items, next, err := pageAfter(all, func(b model.Buffer) model.Buffer { return b }, q.Continuation, q.Limit)
	if err != nil {
		return model.ListPage{}, fmt.Errorf("listing buffers: %w", err)
	}
	return model.ListPage{Items: items, Continuation: next}, nil
}

// pageAfter returns up to limit of all (sorted newest first by the createdAt and ID
// that mark gives each) after the position continuation names, and the
// continuation of the page after, if any.
func pageAfter[T any](all []T, mark func(T) model.Buffer, continuation string, limit int) ([]T, string, error) {
	start := 0
	if continuation != "" {
		p, err := decodeContinuation(continuation)
		if err != nil {
			return nil, "", err
		}
		after := model.Buffer{ID: p.ID, CreatedAt: p.CreatedAt}
		start = len(all)
		if i := slices.IndexFunc(all, func(v T) bool { return newestFirst(after, mark(v)) < 0 }); i >= 0 {
			start = i
		}
	}
	items := []T{}
	if limit <= 0 {
		return items, "", nil
	}
	end := min(start+limit, len(all))
	items = append(items, all[start:end]...)
	if end < len(all) {
		return items, encodeContinuation(mark(all[end-1])), nil
	}
	return items, "", nil
}

// Count counts the buffers f selects.
func (s *Store) Count(_ context.Context, f model.Filter) (int, error) {
	if err := s.check("Count"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.selected(f)), nil
}
