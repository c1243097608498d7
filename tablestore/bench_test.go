package tablestore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spool/internal/model"
	"spool/tablestore"
)

// The big stores of the benchmarks: 100,000 buffers, 10 of them tagged rare=yes.
// In the "untagged" store the others have no tags; in the "tagged" store every
// buffer also has kind=bulk, so the tag index table is as big as the store (Azurite
// scans a whole table per query, Azure does not).
const rareBuffers = 10

// seededBuffers is 100,000, or SPOOL_BENCH_BUFFERS (at least 10) where seeding that
// many would take too long.
func seededBuffers() int {
	if n, err := strconv.Atoi(os.Getenv("SPOOL_BENCH_BUFFERS")); err == nil && n >= rareBuffers {
		return n
	}
	return 100_000
}

type seededStore struct {
	once   sync.Once
	prefix string
	store  *tablestore.Store
	ids    []string
	err    error
}

var (
	untaggedStore = &seededStore{}
	taggedStore   = &seededStore{}
)

func (ss *seededStore) get(b *testing.B) (*tablestore.Store, []string) {
	b.Helper()
	ss.once.Do(func() {
		ctx := context.Background()
		common := ss == taggedStore
		prefix := "benchuntagged"
		if common {
			prefix = "benchtagged"
		}
		ss.prefix = prefix
		ss.store, ss.err = tablestore.Open(ctx, tableService(b), tablestore.Options{TablePrefix: prefix})
		if ss.err != nil {
			return
		}
		start := time.Now()
		bufs := make([]model.Buffer, seededBuffers())
		for i := range bufs {
			tags := map[string]string{}
			if common {
				tags["kind"] = "bulk"
			}
			if i%(len(bufs)/rareBuffers) == 0 {
				tags["rare"] = "yes"
			}
			bufs[i] = model.Buffer{ID: newID(), CreatedAt: base.Add(time.Duration(i) * time.Millisecond), Location: "local", Tags: tags}
			ss.ids = append(ss.ids, bufs[i].ID)
		}
		ss.err = ss.store.InsertBatch(ctx, bufs)
		fmt.Printf("seeded %s with %d buffers in %v\n", prefix, len(bufs), time.Since(start).Round(time.Millisecond))
	})
	if ss.err != nil {
		b.Fatal(ss.err)
	}
	return ss.store, ss.ids
}

func benchList(b *testing.B, s *tablestore.Store, q model.ListQuery, wantItems int) {
	b.Helper()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		page, err := s.List(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Items) != wantItems {
			b.Fatalf("listed %d, want %d", len(page.Items), wantItems)
		}
	}
}

// BenchmarkListEmptyStore is the baseline the rare-tag list is held against.
func BenchmarkListEmptyStore(b *testing.B) {
	s := newStore(b, tablestore.Options{})
	benchList(b, s, model.ListQuery{Limit: 20}, 0)
}

func BenchmarkListEmptyStoreByTag(b *testing.B) {
	s := newStore(b, tablestore.Options{})
	benchList(b, s, model.ListQuery{Limit: 20, Filter: model.Filter{Tags: map[string]string{"rare": "yes"}}}, 0)
}

// BenchmarkListRareTag lists the 10 buffers of a tag among 100,000.
func BenchmarkListRareTag(b *testing.B) {
	rare := model.ListQuery{Limit: 20, Filter: model.Filter{Tags: map[string]string{"rare": "yes"}}}
	b.Run("others-untagged", func(b *testing.B) {
		s, _ := untaggedStore.get(b)
		benchList(b, s, rare, rareBuffers)
	})
	b.Run("others-tagged", func(b *testing.B) {
		s, _ := taggedStore.get(b)
		benchList(b, s, rare, rareBuffers)
	})
}

// BenchmarkListNewest lists the first page of 100,000 buffers, unfiltered.
func BenchmarkListNewest(b *testing.B) {
	s, _ := untaggedStore.get(b)
	benchList(b, s, model.ListQuery{Limit: 20}, 20)
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// The point-operation benchmarks run 16 clients at once, where Azurite's one thread
// reaches its throughput; ops/s is the rate, ns/op the inverse of it.
const clients = 16

// runClients runs op from 16 clients at once until the benchmark has its count; i
// numbers the calls from 1.
func runClients(b *testing.B, op func(ctx context.Context, i int64) error) {
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(clients)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx, n.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkCreate inserts into the big store with its index spread over 1 shard
// (every create writes the one order partition twice) and over the default 16. Both
// stores share the seeded tables: a store with fewer shards writes the legacy
// partitions, which every store reads.
func BenchmarkCreate(b *testing.B) {
	for _, shards := range []int{1, tablestore.DefaultIndexShards} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			untaggedStore.get(b)
			s, err := tablestore.New(tableService(b), tablestore.Options{TablePrefix: untaggedStore.prefix, IndexShards: shards})
			if err != nil {
				b.Fatal(err)
			}
			runClients(b, func(ctx context.Context, i int64) error {
				_, err := s.Insert(ctx, model.Buffer{ID: newID(), CreatedAt: time.Now(), Location: "local",
					Tags: map[string]string{"kind": "bench", "n": fmt.Sprint(i % 10)}})
				return err
			})
		})
	}
}

func BenchmarkShow(b *testing.B) {
	s, ids := untaggedStore.get(b)
	runClients(b, func(ctx context.Context, i int64) error {
		_, err := s.Get(ctx, ids[int(i*7919)%len(ids)])
		return err
	})
}

// BenchmarkSet replaces a buffer's tags with two pairs, on buffers spread over the
// store (the first round gains two pairs, later rounds of a buffer change one).
func BenchmarkSet(b *testing.B) {
	s, ids := untaggedStore.get(b)
	runClients(b, func(ctx context.Context, i int64) error {
		// Distinct buffers per call, so the rate is not contention on one record.
		id := ids[int(i*7919)%len(ids)]
		_, err := s.Update(ctx, id, model.BufferUpdate{Tags: map[string]string{"kind": "set", "step": fmt.Sprint(i)}}, "")
		return err
	})
}
