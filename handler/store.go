package handler

import (
	"context"
	"time"

	"spool/internal/model"
)

// Store keeps buffer records. tablestore.Store implements it over Azure Table
// Storage, memstore.Store in memory for tests of handler logic; internal/storetest
// checks both against the promises below. There is no plain delete: a record
// leaves only through soft delete, a purge mark and Purge.
type Store interface {
	// Insert stores a new record (ID, CreatedAt, Location, Tags, ExpiresAt set by the
	// caller) and returns it with its ETag.
	Insert(ctx context.Context, b model.Buffer) (model.Buffer, error)
	// Get is a point read; model.ErrNotFound when there is no such buffer.
	Get(ctx context.Context, id string) (model.Buffer, error)
	// Update replaces the buffer's tags (and its expiry when upd.ExpiresAt is set).
	// A non-empty ifMatch is compared by the table itself (If-Match on the entity):
	// model.ErrPreconditionFailed when it is stale.
	Update(ctx context.Context, id string, upd model.BufferUpdate, ifMatch string) (model.Buffer, error)
	// List returns one page, newest first (createdAt desc, then id desc).
	List(ctx context.Context, q model.ListQuery) (model.ListPage, error)
	// Count counts the buffers the filter selects.
	Count(ctx context.Context, f model.Filter) (int, error)

	// Modify reads the record, applies change and swaps the result in, retrying on a
	// fresh read when another writer wins; change's error comes back wrapped. The
	// lifecycle transitions (soft delete, restore, purge marks) go through it.
	Modify(ctx context.Context, id string, change func(model.Buffer) (model.Buffer, error)) (model.Buffer, error)
	// Purge removes a record marked Purging and all its index entries, in an order
	// that a rerun can finish; a missing record is no error.
	Purge(ctx context.Context, id string) error
	// Expired returns up to limit buffers whose expiresAt is at or before now, from
	// an expiry index (never a scan of all buffers), read from their records.
	Expired(ctx context.Context, now time.Time, limit int) ([]model.Buffer, error)

	// RecordGrant appends g to its buffer's audit trail. It returns only once the
	// entry is stored: the handler hands out an access URL after that, never before.
	RecordGrant(ctx context.Context, g model.Grant) error
	// Grants returns one page of a buffer's audit trail, newest first (grantedAt
	// desc, then id desc); model.ErrInvalidContinuation for a token it did not make.
	// Entries outlive the buffer: a purge leaves them.
	Grants(ctx context.Context, q model.GrantQuery) (model.GrantPage, error)
}
