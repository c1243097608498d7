package tablestore_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/model"
	"spool/internal/reliability"
	"spool/internal/storetest"
	"spool/tablestore"
)

// writeCounter is a table service that accepts every entity write and counts them
// by table and partition: the model of the service's per-partition load, driven by
// the store's real write path. It answers nothing else.
type writeCounter struct {
	mu     sync.Mutex
	writes map[string]map[string]int // table → partition → writes
}

var entityPath = regexp.MustCompile(`^/([A-Za-z0-9]+)\(PartitionKey='((?:[^']|'')*)',RowKey='(?:[^']|'')*'\)$`)

func (wc *writeCounter) Do(req *http.Request) (*http.Response, error) {
	path, err := url.PathUnescape(req.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	table, pk, status := "", "", http.StatusNoContent
	switch m := entityPath.FindStringSubmatch(path); {
	case req.Method == http.MethodPut && m != nil: // upsert, or update with If-Match
		table, pk = m[1], m[2]
	case req.Method == http.MethodPost && !strings.Contains(path[1:], "/"): // add
		var e struct{ PartitionKey string }
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, err
		}
		table, pk, status = path[1:], e.PartitionKey, http.StatusCreated
	default:
		return nil, fmt.Errorf("write counter: unexpected %s %s", req.Method, path)
	}
	wc.mu.Lock()
	if wc.writes[table] == nil {
		wc.writes[table] = map[string]int{}
	}
	wc.writes[table][pk]++
	wc.mu.Unlock()
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Request: req, Body: io.NopCloser(bytes.NewReader(nil))}
	resp.Header.Set("ETag", `W/"datetime'2026-11-25T12%3A00%3A00Z'"`)
	if status == http.StatusCreated {
		resp.Header.Set("Content-Type", "application/json")
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// countingStore is a store over a writeCounter, with the given number of shards.
func countingStore(t *testing.T, shards int, now func() time.Time) (*tablestore.Store, *writeCounter) {
	t.Helper()
	wc := &writeCounter{writes: map[string]map[string]int{}}
	svc, err := aztables.NewServiceClientWithNoCredential("http://127.0.0.1:1",
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: wc}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tablestore.New(svc, tablestore.Options{TablePrefix: "model", IndexShards: shards, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s, wc
}

// seededIDs makes n IDs the way the handler does (16 random bytes, lowercase
// base32), from a fixed seed so the model test is deterministic.
func seededIDs(n int) []string {
	rng := rand.New(rand.NewPCG(13, 2))
	enc := base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	ids := make([]string, n)
	for i := range ids {
		var b [16]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		ids[i] = enc.EncodeToString(b[:])
	}
	return ids
}

// 10,000 creates, each with an expiry and the tag pair every buffer carries
// (kind=bulk, the hottest tag partition there can be), through Insert's real write
// path: no partition of any index takes more than 1/N + 5% of that index's writes.
// With one shard the single partition takes them all, the cap this lifts.
func TestCreatesSpreadIndexWritesEvenlyOverTheShards(t *testing.T) {
	const creates = 10_000
	ids := seededIDs(creates)
	for _, shards := range []int{1, tablestore.DefaultIndexShards} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			clock := base
			now := func() time.Time { return clock }
			s, wc := countingStore(t, shards, now)
			for _, id := range ids {
				clock = clock.Add(time.Millisecond)
				exp := clock.Add(time.Hour)
				b := model.Buffer{ID: id, CreatedAt: clock, Location: "local", ExpiresAt: &exp, Tags: map[string]string{"kind": "bulk"}}
				if _, err := s.Insert(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			limit := 1/float64(shards) + 0.05
			for _, index := range []string{"modelbufferorder", "modelbuffertags", "modelbufferexpiry"} {
				checkSpread(t, index, wc.writes[index], shards, 2*creates, limit)
			}
			if n := wc.writes["modelbuffers"]; len(n) == 0 {
				t.Fatal("no record writes counted: the counter saw nothing")
			}
		})
	}
}

// checkSpread checks that an index took total writes over exactly shards
// partitions, none over limit of them.
func checkSpread(t *testing.T, index string, byPartition map[string]int, shards, total int, limit float64) {
	t.Helper()
	sum, hottest := 0, 0
	for _, n := range byPartition {
		sum += n
		hottest = max(hottest, n)
	}
	if sum != total || len(byPartition) != shards {
		t.Fatalf("%s: %d writes over %d partitions, want %d over %d", index, sum, len(byPartition), total, shards)
	}
	share := float64(hottest) / float64(total)
	if share > limit {
		t.Errorf("%s: the hottest partition took %.1f%% of the writes, over the %.1f%% allowed", index, 100*share, 100*limit)
	}
	// Each create writes its entry twice; one partition takes ~2,000 writes/s.
	t.Logf("%s: hottest of %d partitions takes %.2f%% of the writes (ideal %.2f%%): creates cap near %.0f/s",
		index, shards, 100*share, 100/float64(shards), 2000/(2*share))
}

// Paging over 16 shards with 300 buffers, many created at the same instant, while a
// writer adds buffers both newer than all of them and among them: every buffer
// listed once, newest first, none skipped (storetest.PageWhileCreating).
func TestPagingOverShardsIsExactWhileBuffersAreCreated(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{IndexShards: tablestore.DefaultIndexShards})
	ctx := context.Background()
	seeded := make([]model.Buffer, 300)
	for i := range seeded {
		seeded[i] = model.Buffer{ID: newID(), CreatedAt: base.Add(time.Duration(i/5) * time.Second), Location: "local",
			Tags: map[string]string{"third": fmt.Sprint(i % 3)}}
	}
	if err := s.InsertBatch(ctx, seeded); err != nil {
		t.Fatal(err)
	}
	create := func(i int) (model.Buffer, error) {
		createdAt := time.Now()
		if i%2 == 1 {
			createdAt = base.Add(time.Duration(i%60)*time.Second + time.Millisecond)
		}
		return s.Insert(ctx, model.Buffer{ID: newID(), CreatedAt: createdAt, Location: "local", Tags: map[string]string{"third": fmt.Sprint(i % 3)}})
	}
	filters := []model.Filter{{}, {Tags: map[string]string{"third": "1"}}}
	for _, f := range filters {
		seeded = append(seeded, storetest.PageWhileCreating(t, s, f, 7, seeded, 60, create)...)
	}
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "a writer creating buffers (newer than all, and among them) while a list pages over 16 index shards, against Azurite",
		Tries:   len(filters) * 60,
		Outcome: "every buffer present before paging listed exactly once, strictly newest first; created ones at most once",
	})
}

// A store that used to run unsharded (the layout before IndexShards, or
// IndexShards 1) keeps its buffers' entries in the legacy partitions, and their
// records name no shard. Opened with 16 shards it lists old and new buffers as one
// exact order, updates and purges old ones in place, and finds both due.
func TestBuffersOfTheUnshardedLayoutStayListedUpdatableAndDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := fmt.Sprintf("t%d", prefixSeq.Add(1))
	unsharded := newStore(t, tablestore.Options{TablePrefix: prefix, IndexShards: 1})
	// Buffer i is created at i seconds, due at i minutes, red when i%4 < 2; the
	// even ones are written unsharded.
	all := make([]model.Buffer, 12)
	s := newStore(t, tablestore.Options{TablePrefix: prefix})
	for i := range all {
		writer := s
		if i%2 == 0 {
			writer = unsharded
		}
		color := map[bool]string{true: "red", false: "blue"}[i%4 < 2]
		all[i] = insertExpiring(t, writer, base.Add(time.Duration(i)*time.Second), base.Add(time.Duration(i)*time.Minute), map[string]string{"color": color})
	}
	red, blue := model.Filter{Tags: map[string]string{"color": "red"}}, model.Filter{Tags: map[string]string{"color": "blue"}}
	storetest.ExpectSelected(t, s, model.Filter{}, all...)
	storetest.ExpectSelected(t, s, red, all[0], all[1], all[4], all[5], all[8], all[9])
	if got, err := s.Expired(ctx, base.Add(time.Hour), 5); err != nil || ids(got) != ids(all[:5]) {
		t.Fatalf("Expired = %s, %v; want %s", ids(got), err, ids(all[:5]))
	}
	// An old buffer turns red in place: its record still names no shard.
	moved, err := s.Update(ctx, all[2].ID, model.BufferUpdate{Tags: map[string]string{"color": "red"}}, all[2].ETag)
	if err != nil {
		t.Fatal(err)
	}
	all[2] = moved
	storetest.ExpectSelected(t, s, red, all[0], all[1], all[2], all[4], all[5], all[8], all[9])
	storetest.ExpectSelected(t, s, blue, all[3], all[6], all[7], all[10], all[11])
	rk := tablestore.OrderRowKey(moved.CreatedAt, moved.ID)
	if props := entity(t, s.TagTable(), tablestore.TagPartition("color", "red"), rk); props == nil || props["ETag"] != moved.ETag {
		t.Fatalf("the moved old buffer's red entry is not in the legacy partition: %v", props)
	}
	markPurging(t, s, all[0].ID)
	if err := s.Purge(ctx, all[0].ID); err != nil {
		t.Fatal(err)
	}
	storetest.ExpectSelected(t, s, model.Filter{}, all[1:]...)
	if n := countEntities(t, s.ExpiryTable()); n != len(all)-1 {
		t.Fatalf("%d expiry entries after purging one of %d buffers", n, len(all))
	}
}

func TestNewRefusesAnIndexShardCountOutOfRange(t *testing.T) {
	svc, err := aztables.NewServiceClientWithNoCredential("http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{-1, tablestore.MaxIndexShards + 1} {
		if _, err := tablestore.New(svc, tablestore.Options{IndexShards: n}); err == nil {
			t.Errorf("%d shards accepted", n)
		}
	}
	for _, n := range []int{0, 1, tablestore.MaxIndexShards} {
		if _, err := tablestore.New(svc, tablestore.Options{IndexShards: n}); err != nil {
			t.Errorf("%d shards: %v", n, err)
		}
	}
}

// An entry of a buffer in a partition other than its shard's (no writer of this
// package leaves one; an operator's copy or a bug might) carries the buffer's row
// key, so the merge meets it beside the real entry: the record decides, and the
// buffer is listed once, as the record has it.
func TestAnEntryOutsideTheBuffersShardNeverListsItTwiceOrStale(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{})
	b := insert(t, s, base, map[string]string{"color": "red"})
	other := insert(t, s, base.Add(time.Second), nil)
	stale := b
	stale.Tags = map[string]string{"color": "stale"}
	rk := tablestore.OrderRowKey(b.CreatedAt, b.ID)
	for _, pk := range []string{tablestore.OrderPartition, s.Partition(other.ID, tablestore.OrderPartition), "~s0f-all"} {
		if pk == s.Partition(b.ID, tablestore.OrderPartition) {
			continue
		}
		raw, err := tablestore.CopyEntity(pk, rk, stale, false)
		if err != nil {
			t.Fatal(err)
		}
		putEntity(t, s.OrderTable(), raw)
	}
	for _, limit := range []int{1, 10} {
		got, _ := storetest.ListAll(t, s, model.Filter{}, limit)
		if ids(got) != ids([]model.Buffer{other, b}) || got[1].Tags["color"] != "red" || got[1].ETag != b.ETag {
			t.Fatalf("limit %d: got %+v, want %s then %s as recorded", limit, got, other.ID, b.ID)
		}
	}
	if n, err := s.Count(context.Background(), model.Filter{}); err != nil || n != 2 {
		t.Fatalf("Count = %d, %v; want 2", n, err)
	}
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "stale committed copies of a buffer's order entry planted in partitions outside its shard (the legacy one and others), against Azurite",
		Tries:   3,
		Outcome: "lists at page sizes 1 and 10 and Count show the buffer once, as its record has it",
	})
}
