package handler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"spool/internal/model"
)

// SweepFunction is the timer-triggered function (functions/SweepExpired). The
// Functions host delivers each tick as a POST of its invocation payload to
// /<function name>, outside the /api prefix; the host alone can reach that path,
// since only declared HTTP routes are exposed.
const (
	SweepFunction = "SweepExpired"
	sweepPath     = "/" + SweepFunction
)

// invocationResult is what the host reads back from a non-HTTP function
// (HttpScriptInvocationResult.cs). DefaultHttpWorkerService.cs logs a warning on
// every invocation whose Outputs is empty or whose ReturnValue is null, so a tick
// fills both. Neither reaches a binding: HttpScriptInvocationResultExtensions.cs maps
// Outputs only onto declared output bindings and ReturnValue only onto a $return
// binding, and the timer function declares neither.
type invocationResult struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// SweepReport counts what one sweep did.
type SweepReport struct {
	SoftDeleted int `json:"softDeleted"`
	Purged      int `json:"purged"`
	Failed      int `json:"failed"`
}

// sweepTimer runs one sweep per timer tick. The payload (schedule status, past-due
// flag) changes nothing: each sweep works from the clock.
//
// A failed sweep is answered 500. DefaultHttpWorkerService.cs calls
// EnsureSuccessStatusCode before it reads the body, so the invocation is recorded
// as failed but the body (Logs included) is never read: the reason reaches the
// host's log only through the handler's own ERROR line on stderr, which
// WorkerProcess.cs logs at error level. That line carries the invocation ID.
func (a *api) sweepTimer(w http.ResponseWriter, r *http.Request) {
	rep, err := a.sweep(r.Context())
	summary := fmt.Sprintf("sweep: %d soft-deleted, %d purged, %d failed", rep.SoftDeleted, rep.Purged, rep.Failed)
	if err != nil {
		a.log.ErrorContext(r.Context(), "sweep stopped", "report", summary, "err", err)
		writeError(w, http.StatusInternalServerError, "SweepFailed", "sweep stopped: "+err.Error())
		return
	}
	a.log.InfoContext(r.Context(), "sweep done", "softDeleted", rep.SoftDeleted, "purged", rep.Purged, "failed", rep.Failed)
	writeJSON(w, http.StatusOK, invocationResult{
		Outputs:     map[string]any{"report": rep},
		Logs:        []string{summary},
		ReturnValue: rep,
	})
}

// sweep soft-deletes expired live buffers and purges expired soft-deleted ones, in
// batches from the expiry index, until none is due or half its time is gone (the
// next tick carries on). Each step is idempotent and decided on the current record,
// so a sweep stopped anywhere is finished by the next one.
func (a *api) sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	start := time.Now()
	budget := a.requestTimeout / 2
	if deadline, ok := ctx.Deadline(); ok {
		budget = time.Until(deadline) / 2
	}
	for time.Since(start) < budget {
		now := a.now()
		due, err := a.store.Expired(ctx, now, a.lifecycle.SweepBatch)
		if err != nil {
			return rep, fmt.Errorf("finding expired buffers: %w", err)
		}
		if len(due) == 0 {
			return rep, nil
		}
		results := make([]error, len(due))
		purged := make([]bool, len(due))
		g := errgroup.Group{}
		g.SetLimit(bulkFanOut)
		for i, b := range due {
			g.Go(func() error {
				if b.IsSoftDeleted {
					purged[i] = true
					results[i] = a.purge(ctx, b.ID, now)
				} else {
					results[i] = a.expire(ctx, b.ID, now)
				}
				return nil
			})
		}
		_ = g.Wait()
		for i, err := range results {
			switch {
			case err != nil:
				rep.Failed++
				a.log.WarnContext(ctx, "sweep could not finish a buffer", "id", due[i].ID, "err", err)
			case purged[i]:
				rep.Purged++
			default:
				rep.SoftDeleted++
			}
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if rep.Failed > 0 || len(due) < a.lifecycle.SweepBatch {
			// Failed buffers stay due: the next tick retries them, rather than
			// this one spinning on a storage fault.
			return rep, nil
		}
	}
	return rep, nil
}

// errSkip stops a sweep change that finds the buffer already past that step.
var errSkip = errors.New("nothing to do")

// expire soft-deletes an expired live buffer for the soft-deleted lifetime.
func (a *api) expire(ctx context.Context, id string, now time.Time) error {
	_, err := a.store.Modify(ctx, id, func(b model.Buffer) (model.Buffer, error) {
		if b.IsSoftDeleted || !expired(b, now) {
			return b, errSkip
		}
		purgeAt := now.Add(a.lifecycle.SoftDeletedLifetime).UTC()
		b.IsSoftDeleted, b.KeptExpiresAt, b.ExpiresAt = true, b.ExpiresAt, &purgeAt
		return b, nil
	})
	if errors.Is(err, errSkip) || errors.Is(err, model.ErrNotFound) {
		return nil
	}
	return err
}

// purge removes an expired soft-deleted buffer: mark it purging (from then on it is
// gone for every reader and writer), delete its container, then its index entries
// and record. No record is removed while its container may exist.
func (a *api) purge(ctx context.Context, id string, now time.Time) error {
	var marked model.Buffer // the record as last read: it names the account
	_, err := a.store.Modify(ctx, id, func(b model.Buffer) (model.Buffer, error) {
		marked = b
		if b.Purging {
			return b, errSkip // marked by an earlier, interrupted sweep
		}
		if !b.IsSoftDeleted || !expired(b, now) {
			return b, errNotDeleted // restored, or given more time, meanwhile
		}
		b.Purging = true
		return b, nil
	})
	switch {
	case errors.Is(err, errNotDeleted), errors.Is(err, model.ErrNotFound):
		return nil
	case err != nil && !errors.Is(err, errSkip):
		return fmt.Errorf("marking buffer %s for purge: %w", id, err)
	}
	containers, err := a.accounts.of(marked)
	if err != nil {
		return err
	}
	if err := containers.Delete(ctx, id); err != nil {
		return fmt.Errorf("deleting the container of buffer %s: %w", id, err)
	}
	if err := a.store.Purge(ctx, id); err != nil {
		return fmt.Errorf("removing buffer %s: %w", id, err)
	}
	return nil
}
