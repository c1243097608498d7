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
// id desc). A tag filter reads only the index partition of one of its pairs, so the
// cost follows the buffers carrying that pair, not the size of the store.
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

// indexRow is one entity of the order or tag index as a query returns it.
type indexRow struct {
	PartitionKey string    `json:"PartitionKey"`
	RowKey       string    `json:"RowKey"`
	Timestamp    time.Time `json:"Timestamp"`
	ETag         string    `json:"odata.etag"`
}

// scan walks the index the filter points at, from after (exclusive), and calls visit
// with each buffer that the filter selects, in index order, until visit returns false
// or want buffers were visited (0: no limit).
func (s *Store) scan(ctx context.Context, f model.Filter, after string, want int, visit func(model.Buffer, string) bool) error {
	table, pk, probe := s.order, orderPartition, (*tagPair)(nil)
	if len(f.Tags) > 0 {
		// Any included pair finds every match; the first key keeps it deterministic.
		keys := make([]string, 0, len(f.Tags))
		for k := range f.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		probe = &tagPair{keys[0], f.Tags[keys[0]]}
		table, pk = s.tags, tagPartition(probe.key, probe.value)
	}
	filter := "PartitionKey eq " + odataQuote(pk)
	if after != "" {
		filter += " and RowKey gt " + odataQuote(after)
	}
	top := int32(maxPageRows)
	if want > 0 && want < maxPageRows {
		top = int32(want)
	}
	pager := table.NewListEntitiesPager(&aztables.ListEntitiesOptions{
		Filter: &filter,
		Select: ptr("RowKey,Timestamp"),
		Top:    &top,
	})
	var stale []indexRow
	defer func() { s.removeLeftovers(ctx, table, pk, stale) }()
	visited := 0
	// With a filter a page may come back short or empty while more remain: keep
	// paging until the pager runs out.
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return storageError(fmt.Sprintf("querying index %s", pk), err)
		}
		rows := make([]indexRow, 0, len(resp.Entities))
		for _, raw := range resp.Entities {
			var r indexRow
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decoding index entry in %s: %w", pk, err)
			}
			r.PartitionKey = pk
			rows = append(rows, r)
		}
		for len(rows) > 0 {
			// Check only about as many candidates as buffers are still wanted, so a
			// small page does not pay for a full index page of point reads.
			n := len(rows)
			if want > 0 {
				n = min(n, max(want-visited, fanOut))
			}
			checked, err := s.checkCandidates(ctx, rows[:n], f, probe)
			if err != nil {
				return err
			}
			for i, c := range checked {
				if c.stale {
					stale = append(stale, rows[i])
				}
				if !c.selected {
					continue
				}
				if !visit(c.buf, rows[i].RowKey) {
					return nil
				}
				visited++
				if want > 0 && visited == want {
					return nil
				}
			}
			rows = rows[n:]
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

type candidate struct {
	buf      model.Buffer
	selected bool
	// stale marks an index entry that no longer describes its buffer.
	stale bool
}

// checkCandidates reads the records behind index rows in parallel and decides each
// against the whole filter: the records, not the index, are the truth.
func (s *Store) checkCandidates(ctx context.Context, rows []indexRow, f model.Filter, probe *tagPair) ([]candidate, error) {
	out := make([]candidate, len(rows))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i, row := range rows {
		g.Go(func() error {
			id, err := parseOrderRowKey(row.RowKey)
			if err != nil {
				// Not written by this package; ignore rather than fail every list.
				return nil
			}
			rec, err := s.getRecord(gctx, id)
			if errors.Is(err, model.ErrNotFound) {
				// Either an Insert in flight (its index entries go first) or a crash
				// leftover; only age tells them apart.
				out[i].stale = s.now().Sub(row.Timestamp) > leftoverAge
				return nil
			}
			if err != nil {
				return err
			}
			if orderRowKey(rec.buf.CreatedAt, rec.buf.ID) != row.RowKey {
				// An entry for an earlier buffer that had the same ID.
				out[i].stale = true
				return nil
			}
			if probe != nil {
				if v, ok := rec.buf.Tags[probe.key]; !ok || v != probe.value {
					out[i].stale = true
					return nil
				}
			}
			out[i] = candidate{buf: rec.buf, selected: matches(rec.buf.Tags, f)}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// matches applies a filter: every pair of f.Tags present, no pair of f.ExcludeTags.
func matches(tags map[string]string, f model.Filter) bool {
	for k, v := range f.Tags {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	for k, v := range f.ExcludeTags {
		if got, ok := tags[k]; ok && got == v {
			return false
		}
	}
	return true
}

// removeLeftovers deletes index entries found stale while listing, best effort.
// Each delete is conditional on the ETag the query returned, which was read before
// the record: if an Update has rewritten the entry since, the delete fails and the
// entry stays, as it must.
func (s *Store) removeLeftovers(ctx context.Context, table *aztables.Client, pk string, rows []indexRow) {
	if len(rows) == 0 || ctx.Err() != nil {
		return
	}
	g := &errgroup.Group{}
	g.SetLimit(fanOut)
	for _, r := range rows {
		if r.ETag == "" {
			continue
		}
		etag := azcore.ETag(r.ETag)
		g.Go(func() error {
			_, _ = table.DeleteEntity(ctx, pk, r.RowKey, &aztables.DeleteEntityOptions{IfMatch: &etag})
			return nil
		})
	}
	_ = g.Wait()
}
