package memstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/memstore"
	"spool/internal/model"
	"spool/internal/storetest"
)

func TestMemstoreKeepsTheStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) handler.Store { return memstore.New(memstore.Options{}) })
}

func TestFaultIsTheAnswerOfEveryOperation(t *testing.T) {
	injected := errors.New("injected")
	var seen []string
	var s handler.Store = memstore.New(memstore.Options{Fault: func(op string) error {
		seen = append(seen, op)
		return injected
	}})
	ctx := context.Background()
	errs := []error{
		second(s.Insert(ctx, model.Buffer{ID: "a", CreatedAt: time.Now()})),
		second(s.Get(ctx, "a")),
		second(s.Update(ctx, "a", model.BufferUpdate{}, "")),
		second(s.List(ctx, model.ListQuery{Limit: 1})),
		second(s.Count(ctx, model.Filter{})),
		second(s.Modify(ctx, "a", func(b model.Buffer) (model.Buffer, error) { return b, nil })),
		s.Purge(ctx, "a"),
		second(s.Expired(ctx, time.Now(), 1)),
	}
	for i, err := range errs {
		if !errors.Is(err, injected) {
			t.Errorf("operation %d: %v, want the injected fault", i, err)
		}
	}
	if want := []string{"Insert", "Get", "Update", "List", "Count", "Modify", "Purge", "Expired"}; !slices.Equal(seen, want) {
		t.Errorf("Fault saw %v, want %v", seen, want)
	}
}

func second[T any](_ T, err error) error { return err }
