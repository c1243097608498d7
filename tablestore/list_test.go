package tablestore_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/model"
	"spool/internal/storetest"
	"spool/tablestore"
)

// Tokens of the table store's own format (base64 of {"v":1,"after":row key}) that
// are wrong inside, beyond those the contract suite tries.
func TestTamperedContinuationIsInvalidNotAPanic(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{})
	storetest.CheckTamperedContinuations(t, s, func(good string) []string {
		raw, _ := base64.RawURLEncoding.DecodeString(good)
		enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		return []string{
			"garbage!!", "====", "e30", good[:len(good)-3], good + "x",
			base64.RawURLEncoding.EncodeToString(append(raw, '}')),
			enc(map[string]any{"v": 2, "after": "x"}),
			enc(map[string]any{"v": 1, "after": "' or 1 eq 1 or RowKey eq '"}),
			enc(map[string]any{"v": 1, "after": "9999999999999999999zz~"}),
			enc(map[string]any{"v": 1, "after": 7}),
			enc([]any{1, 2}),
		}
	})
}

// state is what a buffer's tags are known to be between two Updates.
type state struct {
	seq   int64 // odd while an Update is running
	color string
}

// Not parallel: it needs Azurite to itself to see enough lists between updates.
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
		got, _ := storetest.ListAll(t, s, model.Filter{Tags: map[string]string{"color": c}}, 3)
		var want []model.Buffer
		for i := range bufs {
			if states[i].Load().color == c {
				want = append(want, bufs[i])
			}
		}
		if ids(got) != ids(storetest.NewestFirst(want...)) {
			t.Fatalf("color %s at rest: got %s want %s", c, ids(got), ids(storetest.NewestFirst(want...)))
		}
	}
}

func putEntity(t *testing.T, table *aztables.Client, raw []byte) {
	t.Helper()
	if _, err := table.UpsertEntity(context.Background(), raw, nil); err != nil {
		t.Fatal(err)
	}
}

// putPending writes what a writer's first step leaves: a pending copy of b.
func putPending(t *testing.T, table *aztables.Client, pk string, b model.Buffer) {
	t.Helper()
	raw, err := tablestore.CopyEntity(pk, tablestore.OrderRowKey(b.CreatedAt, b.ID), b, true)
	if err != nil {
		t.Fatal(err)
	}
	putEntity(t, table, raw)
}

func entity(t *testing.T, table *aztables.Client, pk, rk string) map[string]any {
	t.Helper()
	resp, err := table.GetEntity(context.Background(), pk, rk, nil)
	if err != nil {
		return nil
	}
	var props map[string]any
	if err := json.Unmarshal(resp.Value, &props); err != nil {
		t.Fatal(err)
	}
	return props
}

func TestLeftoverIndexEntriesNeverChangeAListAndGetSettledWhenOld(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s := newStore(t, tablestore.Options{Now: now})
	ctx := context.Background()
	kept := insert(t, s, base, map[string]string{"color": "red"})
	moved := insert(t, s, base.Add(time.Second), map[string]string{"color": "blue"})
	// Each buffer's entries live in the partitions of its shard.
	redPK := func(id string) string { return s.Partition(id, tablestore.TagPartition("color", "red")) }
	orderPK := func(id string) string { return s.Partition(id, tablestore.OrderPartition) }

	// An Update of moved to red that crashed after marking its entries.
	wouldBe := moved
	wouldBe.Tags = map[string]string{"color": "red"}
	putPending(t, s.TagTable(), redPK(moved.ID), wouldBe)
	putPending(t, s.OrderTable(), orderPK(moved.ID), wouldBe)
	putPending(t, s.TagTable(), s.Partition(moved.ID, tablestore.TagPartition("color", "blue")), wouldBe)
	// An Insert that crashed before its record landed (or a Delete after it went).
	ghost := model.Buffer{ID: newID(), CreatedAt: base.Add(2 * time.Second), Tags: map[string]string{"color": "red"}}
	putPending(t, s.TagTable(), redPK(ghost.ID), ghost)
	putPending(t, s.OrderTable(), orderPK(ghost.ID), ghost)
	// An entry of an earlier buffer with kept's ID, and entries nobody could write.
	earlier := kept
	earlier.CreatedAt = base.Add(-time.Hour)
	putPending(t, s.TagTable(), redPK(kept.ID), earlier)
	putEntity(t, s.TagTable(), []byte(`{"PartitionKey":"`+redPK(kept.ID)+`","RowKey":"not-a-row-key"}`))
	stray := newID()
	putEntity(t, s.OrderTable(), []byte(`{"PartitionKey":"`+orderPK(stray)+`","RowKey":"`+tablestore.OrderRowKey(base.Add(3*time.Second), stray)+`"}`))

	red := model.Filter{Tags: map[string]string{"color": "red"}}
	blue := model.Filter{Tags: map[string]string{"color": "blue"}}
	check := func() {
		t.Helper()
		for _, limit := range []int{1, 2, 10} {
			if got, _ := storetest.ListAll(t, s, red, limit); ids(got) != kept.ID {
				t.Fatalf("red, limit %d: got %s, want %s", limit, ids(got), kept.ID)
			}
			if got, _ := storetest.ListAll(t, s, blue, limit); ids(got) != moved.ID || got[0].Tags["color"] != "blue" || got[0].ETag != moved.ETag {
				t.Fatalf("blue, limit %d: got %+v, want %s", limit, got, moved.ID)
			}
			got, _ := storetest.ListAll(t, s, model.Filter{}, limit)
			if ids(got) != ids([]model.Buffer{moved, kept}) || got[0].Tags["color"] != "blue" || got[0].ETag != moved.ETag {
				t.Fatalf("all, limit %d: got %+v", limit, got)
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
	// Young pending entries may belong to writers in flight: left alone.
	movedRK := tablestore.OrderRowKey(moved.CreatedAt, moved.ID)
	ghostRK := tablestore.OrderRowKey(ghost.CreatedAt, ghost.ID)
	if entity(t, s.TagTable(), redPK(moved.ID), movedRK) == nil || entity(t, s.OrderTable(), orderPK(ghost.ID), ghostRK) == nil {
		t.Fatal("list removed a young pending entry that may belong to a writer in flight")
	}
	// Once old, they are settled: removed, or committed from the record.
	mu.Lock()
	clock = time.Now().Add(tablestore.LeftoverAge + time.Minute)
	mu.Unlock()
	check()
	check()
	for _, e := range []struct {
		table  *aztables.Client
		pk, rk string
	}{
		{s.TagTable(), redPK(moved.ID), movedRK},
		{s.TagTable(), redPK(ghost.ID), ghostRK},
		{s.OrderTable(), orderPK(ghost.ID), ghostRK},
		{s.TagTable(), redPK(kept.ID), tablestore.OrderRowKey(earlier.CreatedAt, earlier.ID)},
	} {
		if entity(t, e.table, e.pk, e.rk) != nil {
			t.Fatalf("old leftover %s/%s was kept", e.pk, e.rk)
		}
	}
	for _, table := range []*aztables.Client{s.OrderTable(), s.TagTable()} {
		pk := orderPK(moved.ID)
		if table == s.TagTable() {
			pk = s.Partition(moved.ID, tablestore.TagPartition("color", "blue"))
		}
		props := entity(t, table, pk, movedRK)
		if props == nil || props["Pending"] != false || props["ETag"] != moved.ETag || !strings.Contains(props["Tags"].(string), "blue") {
			t.Fatalf("moved's entry in %s was not committed from its record: %v", pk, props)
		}
	}
	// A later Update that gains the tag back must be listed despite the cleanup.
	if _, err := s.Update(ctx, moved.ID, model.BufferUpdate{Tags: map[string]string{"color": "red"}}, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := storetest.ListAll(t, s, red, 10); ids(got) != ids([]model.Buffer{moved, kept}) {
		t.Fatalf("after regaining red: %s", ids(got))
	}
}

func TestWritesLeaveNoPendingEntriesBehind(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insert(t, s, base, map[string]string{"a": "1", "b": "2"})
	got, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: map[string]string{"a": "1", "c": "3"}}, b.ETag)
	if err != nil {
		t.Fatal(err)
	}
	rk := tablestore.OrderRowKey(b.CreatedAt, b.ID)
	for _, pk := range []string{s.Partition(b.ID, tablestore.TagPartition("a", "1")), s.Partition(b.ID, tablestore.TagPartition("c", "3"))} {
		if props := entity(t, s.TagTable(), pk, rk); props == nil || props["Pending"] != false || props["ETag"] != got.ETag {
			t.Fatalf("entry %s: %v", pk, props)
		}
	}
	if props := entity(t, s.OrderTable(), s.Partition(b.ID, tablestore.OrderPartition), rk); props == nil || props["Pending"] != false || props["ETag"] != got.ETag {
		t.Fatalf("order entry: %v", props)
	}
	if entity(t, s.TagTable(), s.Partition(b.ID, tablestore.TagPartition("b", "2")), rk) != nil {
		t.Fatal("entry of the lost pair b=2 is still there")
	}
	markPurging(t, s, b.ID)
	if err := s.Purge(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	for _, pk := range []string{s.Partition(b.ID, tablestore.TagPartition("a", "1")), s.Partition(b.ID, tablestore.TagPartition("c", "3"))} {
		if entity(t, s.TagTable(), pk, rk) != nil {
			t.Fatalf("entry %s survived the purge", pk)
		}
	}
	if entity(t, s.OrderTable(), s.Partition(b.ID, tablestore.OrderPartition), rk) != nil {
		t.Fatal("order entry survived the purge")
	}
}
