package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"golang.org/x/sync/singleflight"

	"spool/handler"
	"spool/internal/model"
	"spool/internal/redact"
	"spool/tablestore"
)

// tables is the handler's Store over a tablestore.Store whose tables may not exist:
// not yet (the first start, before storage answers or the app's roles apply) or no
// longer (a fresh account, an emulator that lost its data). Until they exist every
// call fails fast with a handler.NotReadyError (503 with Retry-After) while
// keepCreated creates them in the background; a call that meets a missing table
// creates the tables and tries once more.
type tables struct {
	store    *tablestore.Store
	log      *slog.Logger
	wake     chan struct{}
	creating singleflight.Group // one CreateTables at a time, however many calls meet missing tables

	mu     sync.Mutex
	ready  bool
	reason string // why not ready, for healthz: no endpoint, key or error text
	err    error  // the last failure, for the log
}

// Backoff between attempts to create the tables while storage does not answer.
const (
	firstBackoff  = 250 * time.Millisecond
	maxBackoff    = 15 * time.Second
	createTimeout = 30 * time.Second
)

func newTables(store *tablestore.Store, log *slog.Logger) *tables {
	return &tables{store: store, log: log, wake: make(chan struct{}, 1), reason: "tables not created yet"}
}

// keepCreated creates the tables, retrying with backoff until it succeeds, and again
// whenever a call or a health check finds them missing; it returns when ctx ends.
func (t *tables) keepCreated(ctx context.Context) {
	backoff := firstBackoff
	for {
		var retry <-chan time.Time
		if !t.isReady() {
			if err := t.create(ctx); err != nil {
				t.log.Warn("tables not ready", "err", redact.Error(err), "retry_in", backoff)
				retry = time.After(backoff)
				backoff = min(2*backoff, maxBackoff)
			} else {
				t.log.Info("tables ready")
				backoff = firstBackoff
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		case <-retry:
		}
	}
}

// create makes whichever tables are missing and records the outcome. Concurrent
// callers share one attempt (bound to the first caller's context).
func (t *tables) create(ctx context.Context) error {
	_, err, _ := t.creating.Do("create", func() (any, error) {
		attempt, cancel := context.WithTimeout(ctx, createTimeout)
		defer cancel()
		err := t.store.CreateTables(attempt)
		t.mu.Lock()
		defer t.mu.Unlock()
		t.ready, t.err = err == nil, err
		if err != nil && ctx.Err() == nil {
			t.reason = "tables not created yet: " + whyNot("table", err)
		}
		return nil, err
	})
	return err
}

// missing records that a call met a missing table and wakes keepCreated.
func (t *tables) missing(err error) {
	t.mu.Lock()
	t.ready, t.reason, t.err = false, "tables missing", err
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *tables) isReady() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ready
}

// notReady is the error calls get while the tables are not ready.
func (t *tables) notReady() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ready {
		return nil
	}
	return &handler.NotReadyError{Reason: t.reason, Err: t.err}
}

// whyNot names a failure of the storage service in words safe for healthz.
func whyNot(service string, err error) string {
	var re *azcore.ResponseError
	switch {
	case errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized):
		return "access denied (role assignments can take minutes to apply)"
	case errors.As(err, &re):
		return "the " + service + " service answered " + http.StatusText(re.StatusCode)
	case errors.Is(err, context.DeadlineExceeded):
		return "the " + service + " service did not answer in time"
	default:
		return "no answer from the " + service + " service"
	}
}

// call runs op on the store once the tables are ready; when op meets a missing
// table it creates the tables and runs op once more (every Store operation is safe
// to repeat: writes are upserts or compare-and-swaps).
func call[T any](ctx context.Context, t *tables, op func(*tablestore.Store) (T, error)) (T, error) {
	var zero T
	if err := t.notReady(); err != nil {
		return zero, err
	}
	v, err := op(t.store)
	if !errors.Is(err, tablestore.ErrTablesMissing) {
		return v, err
	}
	t.log.Warn("a table is missing; creating the tables", "err", redact.Error(err))
	if err := t.create(ctx); err != nil {
		t.missing(err)
		return zero, &handler.NotReadyError{Reason: "tables missing", Err: err}
	}
	return op(t.store)
}

// Ping reports whether the tables exist and answer, for healthz. It does not repair
// what it finds, so the probe tells the truth; finding tables missing wakes
// keepCreated to create them.
func (t *tables) Ping(ctx context.Context) error {
	if err := t.notReady(); err != nil {
		return err
	}
	err := t.store.Ping(ctx)
	if errors.Is(err, tablestore.ErrTablesMissing) {
		t.missing(err)
		return &handler.NotReadyError{Reason: "tables missing", Err: err}
	}
	return err
}

func (t *tables) Insert(ctx context.Context, b model.Buffer) (model.Buffer, error) {
	return call(ctx, t, func(s *tablestore.Store) (model.Buffer, error) { return s.Insert(ctx, b) })
}

func (t *tables) Get(ctx context.Context, id string) (model.Buffer, error) {
	return call(ctx, t, func(s *tablestore.Store) (model.Buffer, error) { return s.Get(ctx, id) })
}

func (t *tables) Update(ctx context.Context, id string, upd model.BufferUpdate, ifMatch string) (model.Buffer, error) {
	return call(ctx, t, func(s *tablestore.Store) (model.Buffer, error) { return s.Update(ctx, id, upd, ifMatch) })
}

func (t *tables) List(ctx context.Context, q model.ListQuery) (model.ListPage, error) {
	return call(ctx, t, func(s *tablestore.Store) (model.ListPage, error) { return s.List(ctx, q) })
}

func (t *tables) Count(ctx context.Context, f model.Filter) (int, error) {
	return call(ctx, t, func(s *tablestore.Store) (int, error) { return s.Count(ctx, f) })
}

func (t *tables) Modify(ctx context.Context, id string, change func(model.Buffer) (model.Buffer, error)) (model.Buffer, error) {
	return call(ctx, t, func(s *tablestore.Store) (model.Buffer, error) { return s.Modify(ctx, id, change) })
}

func (t *tables) Purge(ctx context.Context, id string) error {
	_, err := call(ctx, t, func(s *tablestore.Store) (struct{}, error) { return struct{}{}, s.Purge(ctx, id) })
	return err
}

func (t *tables) Expired(ctx context.Context, now time.Time, limit int) ([]model.Buffer, error) {
	return call(ctx, t, func(s *tablestore.Store) ([]model.Buffer, error) { return s.Expired(ctx, now, limit) })
}

func (t *tables) RecordGrant(ctx context.Context, g model.Grant) error {
	_, err := call(ctx, t, func(s *tablestore.Store) (struct{}, error) { return struct{}{}, s.RecordGrant(ctx, g) })
	return err
}

func (t *tables) Grants(ctx context.Context, q model.GrantQuery) (model.GrantPage, error) {
	return call(ctx, t, func(s *tablestore.Store) (model.GrantPage, error) { return s.Grants(ctx, q) })
}
