package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"spool/internal/model"
)

// LifecycleOptions sets how long deleted buffers stay restorable and how the expiry
// sweep paces itself. Zero values take the defaults.
type LifecycleOptions struct {
	// SoftDeletedLifetime is how long a deleted buffer stays restorable when the
	// delete names no ttl, and after the sweep soft-deletes an expired buffer.
	// Default 1 day, as Tyger's installers set it.
	SoftDeletedLifetime time.Duration
	// RestoreGrace is the life a restored buffer gets when the expiry it had before
	// its deletion passed while it was deleted: restoring it as already expired would
	// let the next sweep delete it again at once. Default 1 day.
	RestoreGrace time.Duration
	// SweepBatch bounds the buffers one sweep batch handles; a sweep invocation runs
	// batches until none is due or its time is half gone. Default 100.
	SweepBatch int
}

func (o LifecycleOptions) withDefaults() LifecycleOptions {
	if o.SoftDeletedLifetime <= 0 {
		o.SoftDeletedLifetime = 24 * time.Hour
	}
	if o.RestoreGrace <= 0 {
		o.RestoreGrace = 24 * time.Hour
	}
	if o.SweepBatch <= 0 {
		o.SweepBatch = 100
	}
	return o
}

// stateError is a transition the buffer's state does not allow: 412, as Tyger answers.
type stateError struct{ msg string }

func (e stateError) Error() string { return e.msg }

var (
	errAlreadyDeleted = stateError{"Buffer is already soft-deleted"}
	errNotDeleted     = stateError{"Buffer is not soft-deleted"}
)

// expired reports whether b's expiry is at or before now. An expired buffer is on its
// way out (to soft deletion or purge) whether or not the sweep has reached it yet,
// so it is neither shown, listed nor changed.
func expired(b model.Buffer, now time.Time) bool {
	return b.ExpiresAt != nil && !b.ExpiresAt.After(now)
}

// inState checks that b is visible in the state asked for (live, or soft-deleted).
func inState(b model.Buffer, softDeleted bool, now time.Time) error {
	if b.IsSoftDeleted != softDeleted || b.Purging || expired(b, now) {
		return fmt.Errorf("buffer %s (soft-deleted %v): %w", b.ID, b.IsSoftDeleted, model.ErrNotFound)
	}
	return nil
}

// getInState reads a buffer that must be visible in the given state: a live buffer
// for show, set and access; a soft-deleted one with softDeleted=true.
func (a *api) getInState(ctx context.Context, id string, softDeleted bool) (model.Buffer, error) {
	b, err := a.store.Get(ctx, id)
	if err != nil {
		return model.Buffer{}, err
	}
	return b, inState(b, softDeleted, a.now())
}

// change is one lifecycle transition of one buffer, decided on its current record.
type change func(model.Buffer) (model.Buffer, error)

// from is a change allowed in one state only: a visible buffer (not purging, not
// expired) that is soft-deleted, or live, as deleted says; apply makes the change.
func from(deleted bool, now time.Time, apply func(*model.Buffer)) change {
	return func(b model.Buffer) (model.Buffer, error) {
		switch {
		case b.Purging || expired(b, now):
			return b, model.ErrNotFound
		case deleted && !b.IsSoftDeleted:
			return b, errNotDeleted
		case !deleted && b.IsSoftDeleted:
			return b, errAlreadyDeleted
		}
		apply(&b)
		return b, nil
	}
}

// softDelete is the change of DELETE /buffers/{id}: a live buffer becomes
// soft-deleted until now+ttl, keeping aside the expiry it had for a restore.
func softDelete(now time.Time, ttl time.Duration) change {
	return from(false, now, func(b *model.Buffer) {
		purgeAt := now.Add(ttl).UTC()
		b.IsSoftDeleted, b.KeptExpiresAt, b.ExpiresAt = true, b.ExpiresAt, &purgeAt
	})
}

// schedulePurge is the change of DELETE /buffers/{id}?softDeleted=true: a
// soft-deleted buffer's purge moves to now+ttl (ttl=0: the next sweep purges it).
func schedulePurge(now time.Time, ttl time.Duration) change {
	return from(true, now, func(b *model.Buffer) {
		purgeAt := now.Add(ttl).UTC()
		b.ExpiresAt = &purgeAt
	})
}

// restore is the change of POST /buffers/{id}/restore. Unlike Tyger, it gives back
// the expiry the buffer had before its deletion (none stays none); only when that
// moment passed meanwhile does the buffer get RestoreGrace from now.
func restore(now time.Time, grace time.Duration) change {
	return from(true, now, func(b *model.Buffer) {
		b.IsSoftDeleted, b.ExpiresAt, b.KeptExpiresAt = false, b.KeptExpiresAt, nil
		if expired(*b, now) {
			later := now.Add(grace).UTC()
			b.ExpiresAt = &later
		}
	})
}

// lifetime reads the ttl of a delete or purge: a non-negative TimeSpan, or the
// soft-deleted lifetime when absent.
func (a *api) lifetime(q *query) (time.Duration, error) {
	ttl, ok, err := q.timeSpan("ttl", "ttl must be a valid, non-negative TimeSpan such as 1.00:00:00")
	if err == nil && !ok {
		return a.lifecycle.SoftDeletedLifetime, nil
	}
	return ttl, err
}

// deleteParams is the query of a delete: softDeleted=true makes it a purge (a new
// purge time for a deleted buffer), and ttl is how long until the purge.
type deleteParams struct {
	filter model.Filter
	purge  bool
	ttl    time.Duration
}

func (a *api) readDeleteParams(q *query) (deleteParams, error) {
	var p deleteParams
	var err error
	if p.purge, err = q.softDeleted(); err != nil {
		return p, err
	}
	p.ttl, err = a.lifetime(q)
	return p, err
}

func (a *api) readBulkDeleteParams(q *query) (deleteParams, error) {
	p, err := a.readDeleteParams(q)
	if err != nil {
		return p, err
	}
	p.filter, err = q.filter()
	return p, err
}

// change is the transition the delete asks for at now.
func (p deleteParams) change(now time.Time) change {
	if p.purge {
		return schedulePurge(now, p.ttl)
	}
	return softDelete(now, p.ttl)
}

// transition answers one lifecycle change of one buffer.
func (a *api) transition(w http.ResponseWriter, r *http.Request, id string, c change) error {
	b, err := a.store.Modify(r.Context(), id, c)
	if err != nil {
		return err
	}
	a.writeBuffer(w, http.StatusOK, b)
	return nil
}

// deleteBuffer soft-deletes a live buffer, or with softDeleted=true moves a
// soft-deleted buffer's purge time (ttl=0 is the CLI's purge).
func (a *api) deleteBuffer(w http.ResponseWriter, r *http.Request) error {
	id, err := bufferID(r)
	if err != nil {
		return err
	}
	p, err := readQuery(r, a.readDeleteParams)
	if err != nil {
		return err
	}
	return a.transition(w, r, id, p.change(a.now()))
}

func (a *api) restoreBuffer(w http.ResponseWriter, r *http.Request) error {
	id, err := bufferID(r)
	if err != nil {
		return err
	}
	if _, err := readQuery(r, noParams); err != nil {
		return err
	}
	return a.transition(w, r, id, restore(a.now(), a.lifecycle.RestoreGrace))
}

// deleteBuffers is the bulk form of deleteBuffer over the buffers a tag filter
// selects (all buffers when the query names none); it answers how many it changed.
func (a *api) deleteBuffers(w http.ResponseWriter, r *http.Request) error {
	p, err := readQuery(r, a.readBulkDeleteParams)
	if err != nil {
		return err
	}
	now := a.now()
	p.filter.SoftDeleted, p.filter.LiveAt = p.purge, now
	return a.bulk(w, r, p.filter, p.change(now))
}

func (a *api) restoreBuffers(w http.ResponseWriter, r *http.Request) error {
	filter, err := readQuery(r, (*query).filter)
	if err != nil {
		return err
	}
	now := a.now()
	filter.SoftDeleted, filter.LiveAt = true, now
	return a.bulk(w, r, filter, restore(now, a.lifecycle.RestoreGrace))
}

// Bulk operations walk the list a page at a time and change each buffer with a few
// requests in flight.
const (
	bulkPage   = 1000
	bulkFanOut = 8
)

// bulk applies c to every buffer filter selects and answers the count changed.
// Buffers that changed state meanwhile are skipped, not failures. Stopped halfway
// (its time ran out), it answers the error; a rerun picks up the rest, since changed
// buffers no longer match.
func (a *api) bulk(w http.ResponseWriter, r *http.Request, filter model.Filter, c change) error {
	changed := 0
	q := model.ListQuery{Filter: filter, Limit: bulkPage}
	for {
		page, err := a.store.List(r.Context(), q)
		if err != nil {
			return err
		}
		n, err := a.changeAll(r.Context(), page.Items, c)
		changed += n
		if err != nil {
			a.log.WarnContext(r.Context(), "bulk lifecycle change stopped", "changed", changed, "err", err)
			return err
		}
		if page.Continuation == "" {
			break
		}
		q.Continuation = page.Continuation
	}
	writeCount(w, changed)
	return nil
}

// changeAll applies c to each buffer with a few requests in flight and counts the
// buffers it changed, including those changed before an error stopped it.
func (a *api) changeAll(ctx context.Context, buffers []model.Buffer, c change) (int, error) {
	results := make([]bool, len(buffers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bulkFanOut)
	for i, b := range buffers {
		g.Go(func() error {
			_, err := a.store.Modify(gctx, b.ID, c)
			var se stateError
			switch {
			case err == nil:
				results[i] = true
			case errors.As(err, &se), errors.Is(err, model.ErrNotFound):
			default:
				return fmt.Errorf("buffer %s: %w", b.ID, err)
			}
			return nil
		})
	}
	err := g.Wait()
	changed := 0
	for _, ok := range results {
		if ok {
			changed++
		}
	}
	return changed, err
}

func writeCount(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, strconv.Itoa(n))
}
