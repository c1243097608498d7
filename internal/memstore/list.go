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
	var after *position
	if q.Continuation != "" {
		p, err := decodeContinuation(q.Continuation)
		if err != nil {
			return model.ListPage{}, fmt.Errorf("listing buffers: %w", err)
		}
		after = &p
	}
	page := model.ListPage{Items: []model.Buffer{}}
	if q.Limit <= 0 {
		return page, nil
	}
	s.mu.Lock()
	all := s.selected(q.Filter)
	s.mu.Unlock()
	start := 0
	if after != nil {
		mark := model.Buffer{ID: after.ID, CreatedAt: after.CreatedAt}
		start = len(all)
		if i := slices.IndexFunc(all, func(b model.Buffer) bool { return newestFirst(mark, b) < 0 }); i >= 0 {
			start = i
		}
	}
	end := min(start+q.Limit, len(all))
	page.Items = append(page.Items, all[start:end]...)
	if end < len(all) {
		page.Continuation = encodeContinuation(all[end-1])
	}
	return page, nil
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
