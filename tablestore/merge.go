package tablestore

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"
)

// shardFanOut bounds the partition queries one merge has in flight: the default
// 16 shards and the legacy partition go out at once.
const shardFanOut = 32

// merge reads one row-key range of several partitions of a table (the shards of an
// index) as a single sequence in row-key order: a k-way merge of the partitions'
// own ordered pages, each fetched only when the merge reaches it. Row keys carry a
// buffer's place and ID, so a key seen in two partitions is one buffer with an entry
// where it should not have one: both come out marked pending, and the record, which
// names its shard, picks the one that counts (see index.holds).
type merge struct {
	cursors []*cursor
}

// cursor is one partition's query and the rows of its current page not yet taken.
type cursor struct {
	pk    string
	pager *runtime.Pager[aztables.ListEntitiesResponse]
	rows  []indexRow
}

// newMerge queries each partition for the rows rowFilter (an OData clause on
// RowKey, or empty) selects, top rows a page.
func newMerge(table *aztables.Client, partitions []string, rowFilter string, top int) *merge {
	m := &merge{}
	t := int32(min(top, maxPageRows))
	for _, pk := range partitions {
		filter := "PartitionKey eq " + odataQuote(pk)
		if rowFilter != "" {
			filter += " and " + rowFilter
		}
		pager := table.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Top: &t})
		m.cursors = append(m.cursors, &cursor{pk: pk, pager: pager})
	}
	return m
}

// next returns up to n more rows in row-key order; fewer only when every partition
// has run out.
func (m *merge) next(ctx context.Context, n int) ([]indexRow, error) {
	var out []indexRow
	for len(out) < n {
		if err := m.fill(ctx); err != nil {
			return nil, err
		}
		first := m.smallest()
		if first == nil {
			break
		}
		out = append(out, m.take(first.rows[0].rowKey)...)
	}
	return out, nil
}

// take removes the rows with key rk from the heads of the cursors (every cursor
// holds its next row, so a twin is at a head). Twins come out pending: only the
// record knows which of them is in its shard.
func (m *merge) take(rk string) []indexRow {
	var rows []indexRow
	for _, c := range m.cursors {
		if len(c.rows) > 0 && c.rows[0].rowKey == rk {
			rows = append(rows, c.rows[0])
			c.rows = c.rows[1:]
		}
	}
	if len(rows) > 1 {
		for i := range rows {
			rows[i].pending = true
		}
	}
	return rows
}

// smallest is the cursor whose next row comes first; nil when all are done.
func (m *merge) smallest() *cursor {
	var first *cursor
	for _, c := range m.cursors {
		if len(c.rows) > 0 && (first == nil || c.rows[0].rowKey < first.rows[0].rowKey) {
			first = c
		}
	}
	return first
}

// fill fetches pages, in parallel, until every cursor holds a row or has none left
// (a filtered query may answer empty pages while more remain).
func (m *merge) fill(ctx context.Context) error {
	for {
		var empty []*cursor
		for _, c := range m.cursors {
			if len(c.rows) == 0 && c.pager.More() {
				empty = append(empty, c)
			}
		}
		if len(empty) == 0 {
			return nil
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(shardFanOut)
		for _, c := range empty {
			g.Go(func() error { return c.fetch(gctx) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
}

func (c *cursor) fetch(ctx context.Context) error {
	resp, err := c.pager.NextPage(ctx)
	if err != nil {
		return storageError(fmt.Sprintf("querying index %s", c.pk), err)
	}
	for _, raw := range resp.Entities {
		r, err := parseIndexRow(raw)
		if err != nil {
			return fmt.Errorf("decoding index entry in %s: %w", c.pk, err)
		}
		r.pk = c.pk
		c.rows = append(c.rows, r)
	}
	return nil
}
