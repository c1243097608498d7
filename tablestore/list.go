package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"spool/internal/model"
)

// maxPageRows is the most entities one table query page returns.
const maxPageRows = 1000

// List returns one page of the buffers f selects, newest first (createdAt desc, then
// id desc). A tag filter reads only the index partitions of one of its pairs, so the
// cost follows the buffers carrying that pair, not the size of the store. Every
// shard orders its rows the same way, so the last row key of a page is each shard's
// position too: the continuation holds that one key.
func (s *Store) List(ctx context.Context, q model.ListQuery) (model.ListPage, error) {
	var after string
	if q.Continuation != "" {
		var err error
		if after, err = decodeContinuation(q.Continuation); err != nil {
			return model.ListPage{}, err
		}
	}
	page := model.ListPage{Items: []model.Buffer{}}
	if q.Limit <= 0 {
		return page, nil
	}
	var lastRowKey string
	more := false
	// Looking for one buffer past the page tells whether a next page exists, so the
	// last page carries no continuation.
	err := s.scan(ctx, q.Filter, after, q.Limit+1, func(b model.Buffer, rowKey string) bool {
		if len(page.Items) == q.Limit {
			more = true
			return false
		}
		page.Items = append(page.Items, b)
		lastRowKey = rowKey
		return true
	})
	if err != nil {
		return model.ListPage{}, fmt.Errorf("listing buffers: %w", err)
	}
	if more {
		page.Continuation = encodeContinuation(lastRowKey)
	}
	return page, nil
}

// Count counts the buffers f selects. Every candidate is checked against its record,
// so without tag filters this costs one point read per buffer in the store.
func (s *Store) Count(ctx context.Context, f model.Filter) (int, error) {
	n := 0
	err := s.scan(ctx, f, "", 0, func(model.Buffer, string) bool { n++; return true })
	if err != nil {
		return 0, fmt.Errorf("counting buffers: %w", err)
	}
	return n, nil
}

// indexRow is one entity of an index as a query returns it.
type indexRow struct {
	pk, rowKey string
	timestamp  time.Time
	etag       azcore.ETag
	// pending entries are being written; only the record can say what they mean.
	pending bool
	// copy is the buffer as the entry holds it, trusted when not pending.
	copy    model.Buffer
	copyErr error
}

func parseIndexRow(raw []byte) (indexRow, error) {
	var props map[string]any
	if err := json.Unmarshal(raw, &props); err != nil {
		return indexRow{}, err
	}
	r := indexRow{}
	r.rowKey, _ = props["RowKey"].(string)
	r.pending, _ = props["Pending"].(bool)
	if s, ok := props["odata.etag"].(string); ok {
		r.etag = azcore.ETag(s)
	}
	if s, ok := props["Timestamp"].(string); ok {
		r.timestamp, _ = time.Parse(time.RFC3339Nano, s)
	}
	r.copy, r.copyErr = parseBuffer(props)
	r.copy.ETag, _ = props["ETag"].(string)
	return r, nil
}

// scan walks the index the filter points at, all its shards merged in row-key
// order, from after (exclusive), and calls visit with each buffer that the filter
// selects, in index order, until visit returns false or want buffers were visited
// (0: no limit).
func (s *Store) scan(ctx context.Context, f model.Filter, after string, want int, visit func(model.Buffer, string) bool) error {
	ix := s.indexFor(f)
	rowFilter := ""
	if after != "" {
		rowFilter = "RowKey gt " + odataQuote(after)
	}
	top := maxPageRows
	if want > 0 {
		top = want
	}
	m := newMerge(ix.table, ix.partitions(s.shards), rowFilter, top)
	sc := &scanner{store: s, filter: f, index: ix, want: want, visit: visit}
	defer func() { s.tidy(ctx, ix.table, sc.leftovers, sc.settled) }()
	for {
		// Check only about as many candidates as buffers are still wanted, so a
		// small page does not pay for a full index page of point reads.
		n := maxPageRows
		if want > 0 {
			n = max(want-sc.visited, fanOut)
		}
		rows, err := m.next(ctx, n)
		if err != nil || len(rows) == 0 {
			return err
		}
		if done, err := sc.visitRows(ctx, rows); done || err != nil {
			return err
		}
	}
}

// index names the partitions a scan reads: those of the order index, or those of
// one included tag pair, the probe.
type index struct {
	table *aztables.Client
	// base is the index's legacy partition; each shard's is derived from it.
	base  string
	probe *tagPair
}

func (ix index) partitions(shards int) []string {
	var pks []string
	for _, sh := range readShards(shards) {
		pks = append(pks, sh.partition(ix.base))
	}
	return pks
}

// indexFor picks the index that finds every buffer f selects: the order index, or
// the entries of one included tag pair (the first key, so it is deterministic).
func (s *Store) indexFor(f model.Filter) index {
	if len(f.Tags) == 0 {
		return index{table: s.order, base: orderPartition}
	}
	keys := make([]string, 0, len(f.Tags))
	for k := range f.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	probe := &tagPair{keys[0], f.Tags[keys[0]]}
	return index{table: s.tags, base: tagPartition(probe.key, probe.value), probe: probe}
}

// scanner is one scan's state across index pages.
type scanner struct {
	store   *Store
	filter  model.Filter
	index   index
	want    int
	visit   func(model.Buffer, string) bool
	visited int
	// leftovers are stale pending entries to settle once the scan is over.
	leftovers []indexRow
	settled   []candidate
}

// visitRows decides a batch of index rows and visits those selected; done means the
// scan is over (visit said stop, or want buffers were visited).
func (sc *scanner) visitRows(ctx context.Context, rows []indexRow) (done bool, err error) {
	checked, err := sc.store.checkCandidates(ctx, rows, sc.filter, sc.index)
	if err != nil {
		return true, err
	}
	for i, c := range checked {
		if c.tidy {
			sc.leftovers = append(sc.leftovers, rows[i])
			sc.settled = append(sc.settled, c)
		}
		if !c.selected {
			continue
		}
		if !sc.visit(c.buf, rows[i].rowKey) {
			return true, nil
		}
		sc.visited++
		if sc.want > 0 && sc.visited == sc.want {
			return true, nil
		}
	}
	return false, nil
}

type tagPair struct{ key, value string }

// holds tells whether row is where ix keeps rec's entry: the row key of rec, in
// rec's shard, and for a tag index a pair rec has. Anything else is an entry of an
// earlier buffer with the same ID, of a pair rec lost, or a stray.
func (ix index) holds(rec record, row indexRow) bool {
	if orderRowKey(rec.buf.CreatedAt, rec.buf.ID) != row.rowKey || rec.shard.partition(ix.base) != row.pk {
		return false
	}
	if ix.probe == nil {
		return true
	}
	v, ok := rec.buf.Tags[ix.probe.key]
	return ok && v == ix.probe.value
}

type candidate struct {
	buf      model.Buffer
	selected bool
	// tidy marks an entry that is pending (or unreadable) and untouched for so long
	// that its writer is surely gone: List settles it, committing a copy of the
	// record (keep) or removing the entry.
	tidy, keep bool
}

// checkCandidates decides each index row against the whole filter. A committed
// entry's copy is trusted; a pending one is decided by its record, read in
// parallel with the others.
func (s *Store) checkCandidates(ctx context.Context, rows []indexRow, f model.Filter, ix index) ([]candidate, error) {
	out := make([]candidate, len(rows))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i, row := range rows {
		if !row.pending && row.copyErr == nil && row.copy.ETag != "" {
			out[i] = candidate{buf: row.copy, selected: f.Selects(row.copy)}
			continue
		}
		g.Go(func() error {
			old := s.now().Sub(row.timestamp) > leftoverAge
			id, err := parseOrderRowKey(row.rowKey)
			if err != nil {
				// Not written by this package; ignore rather than fail every list.
				return nil
			}
			rec, err := s.getRecord(gctx, id)
			if errors.Is(err, model.ErrNotFound) {
				out[i].tidy = old
				return nil
			}
			if err != nil {
				return err
			}
			if !ix.holds(rec, row) {
				out[i].tidy = old
				return nil
			}
			out[i] = candidate{buf: rec.buf, selected: f.Selects(rec.buf), tidy: old, keep: true}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// tidy settles index entries that their writers left pending long ago, best effort.
// Each write is conditional on the entry's ETag from the query, which was read before
// the record: a writer that has marked the entry since wins, and one that starts
// later reads a record at least as new as ours.
func (s *Store) tidy(ctx context.Context, table *aztables.Client, rows []indexRow, settled []candidate) {
	if len(rows) == 0 || ctx.Err() != nil {
		return
	}
	g := &errgroup.Group{}
	g.SetLimit(fanOut)
	for i, r := range rows {
		if r.etag == "" {
			continue
		}
		c := settled[i]
		g.Go(func() error {
			if !c.keep {
				_, _ = table.DeleteEntity(ctx, r.pk, r.rowKey, &aztables.DeleteEntityOptions{IfMatch: &r.etag})
				return nil
			}
			entity, err := copyEntity(r.pk, r.rowKey, c.buf, false)
			if err == nil {
				_, _ = table.UpdateEntity(ctx, entity, &aztables.UpdateEntityOptions{IfMatch: &r.etag, UpdateMode: aztables.UpdateModeReplace})
			}
			return nil
		})
	}
	_ = g.Wait()
}
