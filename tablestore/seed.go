package tablestore

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"spool/internal/model"
)

// maxBatch is the most operations one entity group transaction may carry.
const maxBatch = 100

// InsertBatch stores many new buffers quickly, as entity group transactions of up to
// 100 entities per partition. It is meant for seeding benchmarks and imports: unlike
// Insert it is not create-only per buffer (an existing ID fails its whole batch),
// and the records of a batch that failed may be partly indexed (harmless leftovers).
func (s *Store) InsertBatch(ctx context.Context, bufs []model.Buffer) error {
	records := map[string][][]byte{}
	order := map[string][][]byte{}
	tags := map[string][][]byte{}
	for _, b := range bufs {
		if err := validateNew(b); err != nil {
			return fmt.Errorf("batch insert: %w", err)
		}
		b.CreatedAt = b.CreatedAt.UTC()
		entity, err := recordEntity(b)
		if err != nil {
			return fmt.Errorf("batch insert: %w", err)
		}
		rk := orderRowKey(b.CreatedAt, b.ID)
		records[recordPartition(b.ID)] = append(records[recordPartition(b.ID)], entity)
		order[orderPartition] = append(order[orderPartition], indexEntity(orderPartition, rk))
		for k, v := range b.Tags {
			pk := tagPartition(k, v)
			tags[pk] = append(tags[pk], indexEntity(pk, rk))
		}
	}
	// Indexes first, as in Insert.
	if err := s.submitBatches(ctx, s.order, order, aztables.TransactionTypeInsertReplace); err != nil {
		return err
	}
	if err := s.submitBatches(ctx, s.tags, tags, aztables.TransactionTypeInsertReplace); err != nil {
		return err
	}
	return s.submitBatches(ctx, s.records, records, aztables.TransactionTypeAdd)
}

func (s *Store) submitBatches(ctx context.Context, table *aztables.Client, byPartition map[string][][]byte, action aztables.TransactionType) error {
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
