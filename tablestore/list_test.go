package tablestore_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/model"
	"spool/tablestore"
)

func listAll(t *testing.T, s *tablestore.Store, f model.Filter, limit int) ([]model.Buffer, int) {
	t.Helper()
	var all []model.Buffer
	pages := 0
	token := ""
	for {
		page, err := s.List(context.Background(), model.ListQuery{Filter: f, Limit: limit, Continuation: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Items) > limit {
			t.Fatalf("page of %d items for limit %d", len(page.Items), limit)
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

// newestFirst sorts as List must: createdAt desc, then id desc.
func newestFirst(bufs []model.Buffer) []model.Buffer {
	out := slices.Clone(bufs)
	slices.SortFunc(out, func(a, b model.Buffer) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

func TestListIsNewestFirstThenIDDescendingAcrossPages(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	var bufs []model.Buffer
	for i := range 7 {
		bufs = append(bufs, insert(t, s, base.Add(time.Duration(i%4)*time.Second), nil))
	}
	// Same-instant buffers with IDs of different lengths, one a prefix of the other.
	for _, id := range []string{"abc", "abcd", "abb"} {
		b, err := s.Insert(context.Background(), model.Buffer{ID: id, CreatedAt: base.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, b)
	}
	want := ids(newestFirst(bufs))
	for _, limit := range []int{1, 3, 10, 11, 2000} {
		got, pages := listAll(t, s, model.Filter{}, limit)
		if ids(got) != want {
			t.Fatalf("limit %d:\n got %s\nwant %s", limit, ids(got), want)
		}
		if wantPages := max(1, (len(bufs)+limit-1)/limit); pages != wantPages {
			t.Fatalf("limit %d took %d pages, want %d", limit, pages, wantPages)
		}
	}
}

func TestListWithLimitZeroIsEmpty(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	insert(t, s, base, nil)
	page, err := s.List(context.Background(), model.ListQuery{Limit: 0})
	if err != nil || page.Items == nil || len(page.Items) != 0 || page.Continuation != "" {
		t.Fatalf("got %+v, %v", page, err)
	}
}

func TestListOfEmptyStoreIsEmpty(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	page, err := s.List(context.Background(), model.ListQuery{Limit: 20})
	if err != nil || len(page.Items) != 0 || page.Continuation != "" {
		t.Fatalf("got %+v, %v", page, err)
	}
}

func TestTagFiltersAreANDedAndExcludesDropAnyMatchingPair(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	ab := insert(t, s, at(1), map[string]string{"a": "1", "b": "2"})
	a := insert(t, s, at(2), map[string]string{"a": "1"})
	abc := insert(t, s, at(3), map[string]string{"a": "1", "b": "2", "c": "3"})
	abX := insert(t, s, at(4), map[string]string{"a": "1", "b": "other"})
	none := insert(t, s, at(5), nil)
	cases := []struct {
		f    model.Filter
		want []model.Buffer
	}{
		{model.Filter{}, []model.Buffer{none, abX, abc, a, ab}},
		{model.Filter{Tags: map[string]string{"a": "1"}}, []model.Buffer{abX, abc, a, ab}},
		{model.Filter{Tags: map[string]string{"a": "1", "b": "2"}}, []model.Buffer{abc, ab}},
		{model.Filter{Tags: map[string]string{"a": "1", "b": "2", "c": "3"}}, []model.Buffer{abc}},
		{model.Filter{Tags: map[string]string{"a": "1", "zzz": "1"}}, nil},
		{model.Filter{Tags: map[string]string{"a": "2"}}, nil},
		{model.Filter{Tags: map[string]string{"a": "1"}, ExcludeTags: map[string]string{"c": "3"}}, []model.Buffer{abX, a, ab}},
		{model.Filter{Tags: map[string]string{"a": "1"}, ExcludeTags: map[string]string{"c": "3", "b": "other"}}, []model.Buffer{a, ab}},
		{model.Filter{ExcludeTags: map[string]string{"a": "1"}}, []model.Buffer{none}},
		{model.Filter{ExcludeTags: map[string]string{"a": "9", "unknown": "x"}}, []model.Buffer{none, abX, abc, a, ab}},
	}
	for _, c := range cases {
		for _, limit := range []int{1, 2, 20} {
			got, _ := listAll(t, s, c.f, limit)
			if ids(got) != ids(c.want) {
				t.Errorf("filter %+v limit %d:\n got %s\nwant %s", c.f, limit, ids(got), ids(c.want))
			}
		}
		n, err := s.Count(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(c.want) {
			t.Errorf("Count(%+v) = %d, want %d", c.f, n, len(c.want))
		}
	}
}

func TestListKeepsPagingPastCandidatesTheFilterRejects(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	// 60 buffers share a=1; only every 20th also has b=2, so index pages of
	// candidates mostly fail the full filter.
	var want []model.Buffer
	for i := range 60 {
		tags := map[string]string{"a": "1"}
		if i%20 == 0 {
			tags["b"] = "2"
		}
		b := insert(t, s, base.Add(time.Duration(i)*time.Millisecond), tags)
		if i%20 == 0 {
			want = append(want, b)
		}
	}
	got, pages := listAll(t, s, model.Filter{Tags: map[string]string{"a": "1", "b": "2"}}, 1)
	if ids(got) != ids(newestFirst(want)) || pages != 3 {
		t.Fatalf("got %s in %d pages, want %s in 3", ids(got), pages, ids(newestFirst(want)))
	}
	got, _ = listAll(t, s, model.Filter{Tags: map[string]string{"a": "1"}, ExcludeTags: map[string]string{"b": "2"}}, 7)
	if len(got) != 57 {
		t.Fatalf("exclude listed %d, want 57", len(got))
	}
}

func TestTamperedContinuationIsInvalidNotAPanic(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	for range 3 {
		insert(t, s, base, nil)
	}
	page, err := s.List(context.Background(), model.ListQuery{Limit: 1})
	if err != nil || page.Continuation == "" {
		t.Fatalf("%+v %v", page, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(page.Continuation)
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	bad := []string{
		"garbage!!", "====", "e30", page.Continuation[:len(page.Continuation)-3], page.Continuation + "x",
		base64.RawURLEncoding.EncodeToString(append(raw, '}')),
		enc(map[string]any{"v": 2, "after": "x"}),
		enc(map[string]any{"v": 1, "after": "' or 1 eq 1 or RowKey eq '"}),
		enc(map[string]any{"v": 1, "after": "9999999999999999999zz~"}),
		enc(map[string]any{"v": 1, "after": 7}),
		enc([]any{1, 2}),
	}
	for _, token := range bad {
		for _, f := range []model.Filter{{}, {Tags: map[string]string{"a": "b"}}} {
			_, err := s.List(context.Background(), model.ListQuery{Filter: f, Limit: 5, Continuation: token})
			if !errors.Is(err, model.ErrInvalidContinuation) {
				t.Fatalf("token %q: %v, want ErrInvalidContinuation", token, err)
			}
		}
	}
}

func TestCountWithoutFilterCountsEveryBuffer(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	for i := range 25 {
		insert(t, s, base.Add(time.Duration(i)*time.Second), map[string]string{"i": fmt.Sprint(i % 3)})
	}
	n, err := s.Count(context.Background(), model.Filter{})
	if err != nil || n != 25 {
		t.Fatalf("Count = %d, %v; want 25", n, err)
	}
	n, err = s.Count(context.Background(), model.Filter{Tags: map[string]string{"i": "0"}})
	if err != nil || n != 9 {
		t.Fatalf("Count(i=0) = %d, %v; want 9", n, err)
	}
}

func TestListFollowsTagChangesImmediately(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insert(t, s, base, map[string]string{"color": "red"})
	red := model.Filter{Tags: map[string]string{"color": "red"}}
	blue := model.Filter{Tags: map[string]string{"color": "blue"}}
	for i := range 4 {
		if _, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: map[string]string{"color": "blue"}}, ""); err != nil {
			t.Fatal(err)
		}
		if got, _ := listAll(t, s, red, 10); len(got) != 0 {
			t.Fatalf("round %d: still listed as red", i)
		}
		if got, _ := listAll(t, s, blue, 10); ids(got) != b.ID {
			t.Fatalf("round %d: not listed as blue", i)
		}
		if _, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: map[string]string{"color": "red"}}, ""); err != nil {
			t.Fatal(err)
		}
		if got, _ := listAll(t, s, blue, 10); len(got) != 0 {
			t.Fatalf("round %d: still listed as blue", i)
		}
		if got, _ := listAll(t, s, red, 10); ids(got) != b.ID {
			t.Fatalf("round %d: not listed as red", i)
		}
	}
}

// state is what a buffer's tags are known to be between two Updates.
type state struct {
	seq   int64 // odd while an Update is running
	color string
}

func TestListsStayCorrectWhileTagsChangeConcurrently(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	const buffers, rounds = 8, 25
	colors := []string{"red", "blue", "green"}
	bufs := make([]model.Buffer, buffers)
	states := make([]atomic.Pointer[state], buffers)
	for i := range bufs {
		bufs[i] = insert(t, s, base.Add(time.Duration(i)*time.Second), map[string]string{"color": "red"})
		states[i].Store(&state{seq: 0, color: "red"})
	}
	var writers sync.WaitGroup
	done := make(chan struct{})
	for i := range bufs {
		writers.Add(1)
		go func() {
			defer writers.Done()
			etag := bufs[i].ETag
			for r := range rounds {
				color := colors[(r+i)%len(colors)]
				prev := states[i].Load()
				states[i].Store(&state{seq: prev.seq + 1})
				// Alternate between conditional and unconditional updates.
				ifMatch := ""
				if r%2 == 0 {
					ifMatch = etag
				}
				got, err := s.Update(ctx, bufs[i].ID, model.BufferUpdate{Tags: map[string]string{"color": color, "n": fmt.Sprint(r)}}, ifMatch)
				if err != nil {
					t.Error(err)
					return
				}
				etag = got.ETag
				states[i].Store(&state{seq: prev.seq + 2, color: color})
			}
		}()
	}
	var listers sync.WaitGroup
	var checked atomic.Int64
	for l := range 3 {
		listers.Add(1)
		go func() {
			defer listers.Done()
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				color := colors[(n+l)%len(colors)]
				before := make([]*state, buffers)
				for i := range states {
					before[i] = states[i].Load()
				}
				page, err := s.List(ctx, model.ListQuery{Filter: model.Filter{Tags: map[string]string{"color": color}}, Limit: 100})
				if err != nil {
					t.Error(err)
					return
				}
				listed := map[string]bool{}
				for _, b := range page.Items {
					listed[b.ID] = true
				}
				for i := range states {
					after := states[i].Load()
					if before[i].seq%2 == 1 || after.seq != before[i].seq {
						continue // an Update overlapped this List: either answer is fine
					}
					checked.Add(1)
					if want := after.color == color; listed[bufs[i].ID] != want {
						t.Errorf("buffer %d (color %s, seq %d): listed under %s = %v", i, after.color, after.seq, color, listed[bufs[i].ID])
					}
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	listers.Wait()
	if checked.Load() < 50 {
		t.Fatalf("only %d stable observations; the test proved little", checked.Load())
	}
	t.Logf("%d stable observations checked", checked.Load())
	// At rest every buffer is listed exactly under its last color.
	for _, c := range colors {
		got, _ := listAll(t, s, model.Filter{Tags: map[string]string{"color": c}}, 3)
		var want []model.Buffer
		for i := range bufs {
			if states[i].Load().color == c {
				want = append(want, bufs[i])
			}
		}
		if ids(got) != ids(newestFirst(want)) {
			t.Fatalf("color %s at rest: got %s want %s", c, ids(got), ids(newestFirst(want)))
		}
	}
}

func addEntity(t *testing.T, table *aztables.Client, pk, rk string) {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"PartitionKey": pk, "RowKey": rk})
	if _, err := table.UpsertEntity(context.Background(), raw, nil); err != nil {
		t.Fatal(err)
	}
}

func entityExists(t *testing.T, table *aztables.Client, pk, rk string) bool {
	t.Helper()
	_, err := table.GetEntity(context.Background(), pk, rk, nil)
	return err == nil
}

func TestLeftoverIndexEntriesNeverChangeAList(t *testing.T) {
	clock := time.Now()
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s := newStore(t, tablestore.Options{Now: now})
	ctx := context.Background()
	kept := insert(t, s, base, map[string]string{"color": "red"})
	moved := insert(t, s, base.Add(time.Second), map[string]string{"color": "blue"})

	// Leftovers as crashes leave them: a tag entry the buffer no longer carries (Update
	// crashed before cleanup), entries for a buffer whose record never landed (Insert
	// crashed) or is gone (Delete crashed), and a row key nobody wrote.
	redPK := tablestore.TagPartition("color", "red")
	staleRK := tablestore.OrderRowKey(moved.CreatedAt, moved.ID)
	ghostRK := tablestore.OrderRowKey(base.Add(2*time.Second), newID())
	addEntity(t, s.TagTable(), redPK, staleRK)
	addEntity(t, s.TagTable(), redPK, ghostRK)
	addEntity(t, s.OrderTable(), tablestore.OrderPartition, ghostRK)
	addEntity(t, s.TagTable(), redPK, "not-a-row-key")
	// An entry at the right position but written for an older record with this ID.
	addEntity(t, s.TagTable(), redPK, tablestore.OrderRowKey(base.Add(-time.Hour), kept.ID))

	red := model.Filter{Tags: map[string]string{"color": "red"}}
	check := func() {
		for _, limit := range []int{1, 2, 10} {
			if got, _ := listAll(t, s, red, limit); ids(got) != kept.ID {
				t.Fatalf("red, limit %d: got %s, want %s", limit, ids(got), kept.ID)
			}
			if got, _ := listAll(t, s, model.Filter{}, limit); ids(got) != ids([]model.Buffer{moved, kept}) {
				t.Fatalf("all, limit %d: got %s", limit, ids(got))
			}
		}
		if n, err := s.Count(ctx, red); err != nil || n != 1 {
			t.Fatalf("Count(red) = %d, %v", n, err)
		}
		if n, err := s.Count(ctx, model.Filter{}); err != nil || n != 2 {
			t.Fatalf("Count() = %d, %v", n, err)
		}
	}
	check()
	// The stale tag entry is gone after a list; the ghost stays while it could still
	// be an Insert in flight...
	if entityExists(t, s.TagTable(), redPK, staleRK) {
		t.Fatal("list left a stale tag entry of a live buffer in place")
	}
	if !entityExists(t, s.OrderTable(), tablestore.OrderPartition, ghostRK) {
		t.Fatal("list removed a young entry that may belong to an Insert in flight")
	}
	// ...and goes once it is old enough to be surely a crash leftover.
	mu.Lock()
	clock = time.Now().Add(tablestore.LeftoverAge + time.Minute)
	mu.Unlock()
	check()
	if entityExists(t, s.OrderTable(), tablestore.OrderPartition, ghostRK) || entityExists(t, s.TagTable(), redPK, ghostRK) {
		t.Fatal("old leftovers of a missing record were kept")
	}
	// A later Update that gains the tag back must be listed despite the cleanup.
	if _, err := s.Update(ctx, moved.ID, model.BufferUpdate{Tags: map[string]string{"color": "red"}}, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := listAll(t, s, red, 10); ids(got) != ids([]model.Buffer{moved, kept}) {
		t.Fatalf("after regaining red: %s", ids(got))
	}
}
