package tablestore

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Hooks for the external tests, which plant index entries as a crash would leave them.
var (
	OrderRowKey    = orderRowKey
	TagPartition   = tagPartition
	OrderPartition = orderPartition
	LeftoverAge    = leftoverAge
	CopyEntity     = copyEntity
)

func (s *Store) OrderTable() *aztables.Client { return s.order }
func (s *Store) TagTable() *aztables.Client   { return s.tags }
func (s *Store) ExpiryTable() *aztables.Client {
	return s.expiry
}

var (
	ExpiryRowKey    = expiryRowKey
	ExpiryPartition = expiryPartition
)

// Partition is where s keeps buffer id's entries of the index whose unsharded
// partition is base (OrderPartition, ExpiryPartition, or a TagPartition).
func (s *Store) Partition(id, base string) string {
	return shardOf(id, s.shards).partition(base)
}

// DeleteRecord removes only the record of a buffer, as a purge stopped right after
// that step leaves it.
func (s *Store) DeleteRecord(ctx context.Context, id string) error {
	_, err := s.records.DeleteEntity(ctx, recordPartition(id), escapeKey(id), nil)
	return err
}

// StoreWithoutTables builds a Store over svc without creating its tables, so tests
// can point one at an endpoint where nothing listens.
func StoreWithoutTables(svc *aztables.ServiceClient, prefix string) *Store {
	return &Store{
		records: svc.NewClient(prefix + "buffers"),
		order:   svc.NewClient(prefix + "bufferorder"),
		tags:    svc.NewClient(prefix + "buffertags"),
		expiry:  svc.NewClient(prefix + "bufferexpiry"),
		now:     time.Now,
		shards:  DefaultIndexShards,
	}
}
