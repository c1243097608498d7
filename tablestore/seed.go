package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"spool/internal/model"
)

// maxBatch is the most operations one entity group transaction may carry.
const maxBatch = 100

// InsertBatch stores many new buffers quickly, as entity group transactions of up to
// 100 entities per partition. It is meant for seeding benchmarks and imports: unlike
// Insert it is not create-only per buffer (an existing ID fails its whole batch), and
// it must not race with writers of the same IDs. It follows Insert's order (pending
// index entries, records, commit), so an interruption leaves only pending entries.
func (s *Store) InsertBatch(ctx context.Context, bufs []model.Buffer) error {
	bufs = slices.Clone(bufs)
	records := map[string][][]byte{}
	for i := range bufs {
		b := &bufs[i]
		if err := validateNew(*b); err != nil {
			return fmt.Errorf("batch insert: %w", err)
		}
		b.CreatedAt = b.CreatedAt.UTC()
		entity, err := recordEntity(*b, shardOf(b.ID, s.shards))
		if err != nil {
			return fmt.Errorf("batch insert: %w", err)
		}
		records[recordPartition(b.ID)] = append(records[recordPartition(b.ID)], entity)
	}
	if err := s.submitCopies(ctx, bufs, true); err != nil {
		return fmt.Errorf("batch insert: pending index entries: %w", err)
	}
	if err := submitBatches(ctx, s.records, records, aztables.TransactionTypeAdd); err != nil {
		return fmt.Errorf("batch insert: records: %w", err)
	}
	// Transactions do not return ETags, and committed copies carry them.
	etags, err := s.recordETags(ctx, slices.Collect(maps.Keys(records)))
	if err != nil {
		return fmt.Errorf("batch insert: %w", err)
	}
	committed := make([]model.Buffer, len(bufs))
	for i, b := range bufs {
		b.ETag = encodeETag(etags[b.ID])
		committed[i] = b
	}
	if err := s.submitCopies(ctx, committed, false); err != nil {
		return fmt.Errorf("batch insert: committing index entries: %w", err)
	}
	return nil
}

func (s *Store) submitCopies(ctx context.Context, bufs []model.Buffer, pending bool) error {
	order := map[string][][]byte{}
	tags := map[string][][]byte{}
	expiry := map[string][][]byte{}
	byTable := map[*aztables.Client]map[string][][]byte{s.order: order, s.tags: tags, s.expiry: expiry}
	for _, b := range bufs {
		for _, e := range s.entriesOf(shardOf(b.ID, s.shards), b, nil) {
			entity, err := copyEntity(e.pk, e.rk, b, pending)
			if err != nil {
				return err
			}
			byTable[e.table][e.pk] = append(byTable[e.table][e.pk], entity)
		}
	}
	if err := submitBatches(ctx, s.order, order, aztables.TransactionTypeInsertReplace); err != nil {
		return err
	}
	if err := submitBatches(ctx, s.expiry, expiry, aztables.TransactionTypeInsertReplace); err != nil {
		return err
	}
	return submitBatches(ctx, s.tags, tags, aztables.TransactionTypeInsertReplace)
}

// recordETags reads the ETags of every record in the given partitions, by ID.
func (s *Store) recordETags(ctx context.Context, partitions []string) (map[string]azcore.ETag, error) {
	etags := map[string]azcore.ETag{}
	for _, pk := range partitions {
		filter := "PartitionKey eq " + odataQuote(pk)
		pager := s.records.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: ptr("ID")})
		for pager.More() {
			resp, err := pager.NextPage(ctx)
			if err != nil {
				return nil, storageError(fmt.Sprintf("reading records of partition %s", pk), err)
			}
			for _, raw := range resp.Entities {
				var e struct {
					ID   string `json:"ID"`
					ETag string `json:"odata.etag"`
				}
				if err := json.Unmarshal(raw, &e); err != nil {
					return nil, fmt.Errorf("decoding record in partition %s: %w", pk, err)
				}
				etags[e.ID] = azcore.ETag(e.ETag)
			}
		}
	}
	return etags, nil
}

func ptr[T any](v T) *T { return &v }

func submitBatches(ctx context.Context, table *aztables.Client, byPartition map[string][][]byte, action aztables.TransactionType) error {
	g, gctx := errgroup.WithContext(ctx)
	// Azurite runs one thread; a few batches in flight keep it busy.
	g.SetLimit(4)
	for _, pk := range slices.Sorted(maps.Keys(byPartition)) {
		entities := byPartition[pk]
		for start := 0; start < len(entities); start += maxBatch {
			chunk := entities[start:min(start+maxBatch, len(entities))]
			g.Go(func() error {
				actions := make([]aztables.TransactionAction, len(chunk))
				for i, e := range chunk {
					actions[i] = aztables.TransactionAction{ActionType: action, Entity: e}
				}
				if _, err := table.SubmitTransaction(gctx, actions, nil); err != nil {
					return storageError(fmt.Sprintf("batch of %d entities in partition %s", len(chunk), pk), err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}
