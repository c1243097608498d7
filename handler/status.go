package handler

import (
	"context"
	"sync"

	"spool/internal/model"
)

// markerReader is a Containers that can read the markers a writer leaves in a
// buffer's container; blobstore.Containers can. Without it, show and list report
// only the seals already stored.
type markerReader interface {
	Markers(ctx context.Context, name string) (model.Markers, error)
}

// statusReads bounds the marker reads one list page makes at once.
const statusReads = 16

// withStatus fills in b's data status. A final status is stored already; any
// other is read from the container's markers, which every writer leaves, one
// with only an access URL too, and a seal found there is stored, so each buffer's
// markers are read until it is sealed and never after. A failed read leaves the
// status out rather than failing the request: the record is still right.
func (a *api) withStatus(ctx context.Context, b model.Buffer) model.Buffer {
	if b.Final() {
		return b
	}
	containers, err := a.accounts.of(b)
	if err != nil {
		a.log.WarnContext(ctx, "could not place the buffer's storage", "id", b.ID, "err", err)
		return b
	}
	mr, ok := containers.(markerReader)
	if !ok {
		return b
	}
	m, err := mr.Markers(ctx, b.ID)
	if err == nil {
		b.DataStatus, err = m.Status()
	}
	if err != nil {
		a.log.WarnContext(ctx, "could not read the data markers", "id", b.ID, "err", err)
		return b
	}
	if !b.Final() {
		return b
	}
	seal := b.DataStatus
	sealed, err := a.store.Modify(ctx, b.ID, func(cur model.Buffer) (model.Buffer, error) {
		if !cur.Final() {
			cur.DataStatus = seal
		}
		return cur, nil
	})
	if err != nil {
		a.log.WarnContext(ctx, "could not store the seal", "id", b.ID, "err", err)
		return b
	}
	return sealed
}

// withStatuses fills in the data status of a page of buffers, a few at a time.
func (a *api) withStatuses(ctx context.Context, items []model.Buffer) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, statusReads)
	for i := range items {
		if items[i].Final() {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			items[i] = a.withStatus(ctx, items[i])
		})
	}
	wg.Wait()
}

// selectStatus keeps the buffers in status; every buffer when status is empty.
func selectStatus(items []model.Buffer, status string) []model.Buffer {
	if status == "" {
		return items
	}
	kept := items[:0]
	for _, b := range items {
		if b.Status == status {
			kept = append(kept, b)
		}
	}
	return kept
}
