package tablestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"spool/internal/model"
)

// The expiry index is one partition per shard ("due" in the legacy layout): the
// sweep reads each as a range of row keys, which Azure serves at the same cost
// whatever the table size, and merges them soonest first.
const expiryPartition = "due"

// expiryRowKey sorts by expiry time, then ID. Times outside the representable range
// are clamped; every reader computes keys with this same function, so a clamped key
// still matches its record.
func expiryRowKey(at time.Time, id string) string {
	at = at.UTC()
	if at.Before(minCreatedAt) {
		at = minCreatedAt
	}
	if !at.Before(maxCreatedAt) {
		at = maxCreatedAt
	}
	return fmt.Sprintf("%0*d_%s", timeDigits, at.UnixNano(), escapeKey(id))
}

// dueBound is a row key after every expiry key of time at or before t ('~' sorts
// after '_').
func dueBound(t time.Time) string {
	return strings.SplitN(expiryRowKey(t, ""), "_", 2)[0] + "~"
}

// ErrNotPurging is returned (wrapped) by Purge for a buffer not marked Purging: its
// container may still exist, so its record must stay.
var ErrNotPurging = errors.New("buffer is not marked for purging")

// Modify reads a buffer, applies change to it and swaps the result in, retrying from
// a fresh read when another writer wins. An error from change is returned as is
// (wrapped). The ID and creation time cannot change. Lifecycle transitions (soft
// delete, restore, purge marks) use it so that they are decided on the current
// record, never on a stale copy.
func (s *Store) Modify(ctx context.Context, id string, change func(model.Buffer) (model.Buffer, error)) (model.Buffer, error) {
	for attempt := 1; ; attempt++ {
		cur, err := s.getRecord(ctx, id)
		if err != nil {
			return model.Buffer{}, fmt.Errorf("modifying: %w", err)
		}
		next, err := change(cur.buf)
		if err != nil {
			return model.Buffer{}, fmt.Errorf("modifying buffer %s: %w", id, err)
		}
		next.ID, next.CreatedAt, next.ETag = cur.buf.ID, cur.buf.CreatedAt, ""
		if next.Tags == nil {
			next.Tags = map[string]string{}
		}
		updated, err := s.replaceRecord(ctx, cur, next)
		if errors.Is(err, model.ErrPreconditionFailed) && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return model.Buffer{}, fmt.Errorf("modifying buffer %s: %w", id, err)
		}
		return updated, nil
	}
}

// Purge removes a buffer that is marked Purging (whose container the caller has
// deleted): first its order and tag entries, then the record, last its expiry entry.
// A purge stopped at any step leaves the expiry entry, through which Expired finds
// the buffer again, so a rerun finishes it. A missing buffer is not an error.
func (s *Store) Purge(ctx context.Context, id string) error {
	for attempt := 1; ; attempt++ {
		cur, err := s.getRecord(ctx, id)
		if errors.Is(err, model.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("purging: %w", err)
		}
		if !cur.buf.Purging {
			return fmt.Errorf("purging buffer %s: %w", id, ErrNotPurging)
		}
		var expiryEntry *indexEntry
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(fanOut)
		for _, e := range s.entriesOf(cur.shard, cur.buf, nil) {
			if e.table == s.expiry {
				expiryEntry = &e
				continue
			}
			g.Go(func() error { return deleteEntry(gctx, e) })
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("purging buffer %s: %w", id, err)
		}
		_, err = s.records.DeleteEntity(ctx, recordPartition(id), escapeKey(id), &aztables.DeleteEntityOptions{IfMatch: &cur.etag})
		if isStatus(err, 412) && attempt < maxUpdateAttempts {
			// Changed since our read (a late update to its tags or expiry): purge
			// what it holds now.
			continue
		}
		if err != nil && !isStatus(err, 404) {
			return storageError(fmt.Sprintf("purging buffer %s: deleting record", id), err)
		}
		if expiryEntry != nil {
			if err := deleteEntry(ctx, *expiryEntry); err != nil {
				return fmt.Errorf("purging buffer %s: record deleted: %w", id, err)
			}
		}
		return nil
	}
}

func deleteEntry(ctx context.Context, e indexEntry) error {
	_, err := e.table.DeleteEntity(ctx, e.pk, e.rk, nil)
	if err != nil && !isStatus(err, 404) {
		return storageError(fmt.Sprintf("deleting index entry %s/%s", e.pk, e.rk), err)
	}
	return nil
}

// Expired returns up to limit buffers whose expiry is at or before now, soonest
// first, read from their records (the expiry index only points at candidates). On
// the way it removes expiry entries that point at nothing: entries of an expiry a
// record no longer has, and entries whose record is gone (purged, or never
// inserted) once they are old enough that no writer can still be adding it. Each
// shard answers at most limit entries a page, and only as many entries as buffers
// are still wanted are checked at a time.
func (s *Store) Expired(ctx context.Context, now time.Time, limit int) ([]model.Buffer, error) {
	if limit <= 0 {
		return nil, nil
	}
	ix := index{table: s.expiry, base: expiryPartition}
	m := newMerge(s.expiry, ix.partitions(s.shards), "RowKey lt "+odataQuote(dueBound(now)), limit)
	var due []model.Buffer
	for len(due) < limit {
		rows, err := m.next(ctx, limit-len(due))
		if err != nil {
			return nil, fmt.Errorf("reading the expiry index: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		found := make([]*model.Buffer, len(rows))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(fanOut)
		for i, row := range rows {
			g.Go(func() error {
				b, err := s.checkExpiryEntry(gctx, row)
				found[i] = b
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for _, b := range found {
			if b != nil && len(due) < limit {
				due = append(due, *b)
			}
		}
	}
	return due, nil
}

// checkExpiryEntry returns the buffer an expiry entry stands for, or nil (removing
// the entry when it points at nothing).
func (s *Store) checkExpiryEntry(ctx context.Context, row indexRow) (*model.Buffer, error) {
	id := row.copy.ID
	if row.copyErr != nil || id == "" {
		return nil, nil
	}
	rec, err := s.getRecord(ctx, id)
	switch {
	case errors.Is(err, model.ErrNotFound):
		// A purge stopped after deleting the record leaves a purging copy; an
		// insert in flight has marked the entry moments ago.
		if row.copy.Purging || s.now().Sub(row.timestamp) > leftoverAge {
			s.dropEntry(ctx, row)
		}
		return nil, nil
	case err != nil:
		return nil, err
	}
	if rec.buf.ExpiresAt == nil || expiryRowKey(*rec.buf.ExpiresAt, id) != row.rowKey || rec.shard.partition(expiryPartition) != row.pk {
		// The record's current expiry has its own entry, written before the
		// record changed; this one is a leftover unless a writer is using it.
		if !row.pending || s.now().Sub(row.timestamp) > leftoverAge {
			s.dropEntry(ctx, row)
		}
		return nil, nil
	}
	return &rec.buf, nil
}

// dropEntry deletes an expiry entry only if nobody wrote it since it was read.
func (s *Store) dropEntry(ctx context.Context, row indexRow) {
	if row.etag == "" {
		return
	}
	_, _ = s.expiry.DeleteEntity(ctx, row.pk, row.rowKey, &aztables.DeleteEntityOptions{IfMatch: &row.etag})
}
