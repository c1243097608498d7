package handler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"spool/internal/model"
)

// landsThenFails stores the record but reports a failure, as when the table's
// answer is lost and the SDK's retry then finds the ID taken.
type landsThenFails struct{ *fakeStore }

func (s landsThenFails) Insert(ctx context.Context, b model.Buffer) (model.Buffer, error) {
	if _, err := s.fakeStore.Insert(ctx, b); err != nil {
		return model.Buffer{}, err
	}
	return model.Buffer{}, errors.New("entity already exists")
}

// blind fails inserts and point reads alike, so the outcome cannot be known.
type blind struct{ *fakeStore }

func (blind) Insert(context.Context, model.Buffer) (model.Buffer, error) {
	return model.Buffer{}, errors.New("entity already exists")
}

func (blind) Get(context.Context, string) (model.Buffer, error) {
	return model.Buffer{}, fmt.Errorf("timeout: %w", model.ErrUnavailable)
}

func TestCreateWhoseInsertLandedDespiteAnErrorAnswers201AndKeepsTheContainer(t *testing.T) {
	f := newAPIFixture(t)
	store := landsThenFails{newFakeStore()}
	f.serve(t, Options{Store: store, Containers: f.containers})
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(`{"tags":{"a":"1"}}`))
	if r.status != http.StatusCreated {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	b := decode[model.Buffer](t, r)
	if _, err := store.Get(t.Context(), b.ID); err != nil || f.containers.count() != 1 {
		t.Errorf("record stored: %v, containers %d", err, f.containers.count())
	}
}

func TestCreateWhoseOutcomeIsUnknownAnswers503AndKeepsTheContainer(t *testing.T) {
	f := newAPIFixture(t)
	f.serve(t, Options{Store: blind{newFakeStore()}, Containers: f.containers})
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(`{}`))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	// The record may exist: deleting its container would leave it pointing at nothing.
	if f.containers.count() != 1 {
		t.Errorf("containers: %d", f.containers.count())
	}
}
