// Package storetest is the contract of handler.Store as one suite, run on every
// implementation (the table store over Azurite, the in-memory store), so that what
// handler tests learn on one holds for the other.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"slices"
	"strings"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/model"
)

// NewStore returns an empty store that no other test sees.
type NewStore func(t *testing.T) handler.Store

// promise is one behaviour every store keeps, checked on a fresh store.
type promise struct {
	name  string
	check func(t *testing.T, s handler.Store)
}

func allPromises() []promise {
	return slices.Concat(recordPromises, listPromises, pagingPromises, indexPromises, lifecyclePromises, auditPromises, statusPromises)
}

// Run checks every promise on a store of its own, the promises in parallel (table
// stores keep them apart by table prefix).
func Run(t *testing.T, newStore NewStore) {
	for _, p := range allPromises() {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			p.check(t, newStore(t))
		})
	}
}

// base is a fixed creation time; promises place buffers relative to it.
var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID makes an ID the way the handler does: 16 random bytes, lowercase base32.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

func at(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }

func insert(t *testing.T, s handler.Store, createdAt time.Time, tags map[string]string) model.Buffer {
	t.Helper()
	return InsertBuffer(t, s, model.Buffer{ID: NewID(), CreatedAt: createdAt, Tags: tags})
}

func insertExpiring(t *testing.T, s handler.Store, createdAt, expiresAt time.Time, tags map[string]string) model.Buffer {
	t.Helper()
	return InsertBuffer(t, s, model.Buffer{ID: NewID(), CreatedAt: createdAt, Tags: tags, ExpiresAt: &expiresAt})
}

// InsertBuffer inserts b with location "local" and fails t if the store refuses.
func InsertBuffer(t testing.TB, s handler.Store, b model.Buffer) model.Buffer {
	t.Helper()
	b.Location = "local"
	got, err := s.Insert(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// IDs joins the buffers' IDs with commas, in order, for comparisons and messages.
func IDs(bufs []model.Buffer) string {
	var s []string
	for _, b := range bufs {
		s = append(s, b.ID)
	}
	return strings.Join(s, ",")
}

// NewestFirst sorts as List must: createdAt desc, then id desc.
func NewestFirst(bufs ...model.Buffer) []model.Buffer {
	out := slices.Clone(bufs)
	slices.SortFunc(out, func(a, b model.Buffer) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// ListAll follows continuations to the end and returns every buffer and the number
// of pages; a buffer listed twice fails t.
func ListAll(t *testing.T, s handler.Store, f model.Filter, limit int) ([]model.Buffer, int) {
	t.Helper()
	var all []model.Buffer
	seen := map[string]bool{}
	token := ""
	for pages := 1; ; pages++ {
		page, err := s.List(context.Background(), model.ListQuery{Filter: f, Limit: limit, Continuation: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > limit {
			t.Fatalf("page of %d items for limit %d", len(page.Items), limit)
		}
		for _, b := range page.Items {
			if seen[b.ID] {
				t.Fatalf("buffer %s listed twice, again on page %d", b.ID, pages)
			}
			seen[b.ID] = true
		}
		all = append(all, page.Items...)
		if page.Continuation == "" {
			return all, pages
		}
		if len(page.Items) == 0 {
			t.Fatal("empty page with a continuation")
		}
		token = page.Continuation
	}
}

// ExpectSelected checks that f selects exactly want (in newest-first order), paged
// at several sizes, and that Count agrees.
func ExpectSelected(t *testing.T, s handler.Store, f model.Filter, want ...model.Buffer) {
	t.Helper()
	want = NewestFirst(want...)
	for _, limit := range []int{1, 2, 20} {
		if got, _ := ListAll(t, s, f, limit); IDs(got) != IDs(want) {
			t.Errorf("filter %+v, limit %d:\n got %s\nwant %s", f, limit, IDs(got), IDs(want))
		}
	}
	if n, err := s.Count(context.Background(), f); err != nil || n != len(want) {
		t.Errorf("Count(%+v) = %d, %v; want %d", f, n, err, len(want))
	}
}

func tags(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
