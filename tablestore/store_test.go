package tablestore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/azurite"
	"spool/internal/model"
	"spool/internal/storetest"
	"spool/tablestore"
)

var _ handler.Store = (*tablestore.Store)(nil)

// The promises every store keeps, each on tables of its own.
func TestTablestoreKeepsTheStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) handler.Store { return newStore(t, tablestore.Options{}) })
}

// The tests below pin what is particular to the table store: its named errors, its
// table names and limits, its faults.

func TestRefusalsCarryTheTablestoresNamedErrors(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insert(t, s, base, nil)
	for _, c := range []struct {
		name string
		op   func() error
		want error
	}{
		{"insert of an existing ID", func() error {
			_, err := s.Insert(ctx, model.Buffer{ID: b.ID, CreatedAt: base})
			return err
		}, tablestore.ErrExists},
		{"purge of a buffer not marked", func() error { return s.Purge(ctx, b.ID) }, tablestore.ErrNotPurging},
	} {
		if err := c.op(); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestLongTagSetsSurviveTheStringPropertyLimit(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{})
	tags := map[string]string{}
	for i := range 100 {
		tags[strings.Repeat("k", 125)+string(rune('a'+i%26))+string(rune('a'+i/26))] = strings.Repeat("é", 256)
	}
	b := insert(t, s, base, tags)
	got, err := s.Get(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Tags, tags) {
		t.Fatal("tags changed on the way through the table")
	}
}

func TestOpenRejectsABadTablePrefix(t *testing.T) {
	t.Parallel()
	svc := tableService(t)
	for _, p := range []string{"1abc", "a-b", "a_b", strings.Repeat("a", 60)} {
		t.Run(p, func(t *testing.T) {
			if _, err := tablestore.Open(context.Background(), svc, tablestore.Options{TablePrefix: p}); err == nil {
				t.Fatalf("prefix %q accepted", p)
			}
		})
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	t.Parallel()
	newStore(t, tablestore.Options{TablePrefix: "twice"})
	newStore(t, tablestore.Options{TablePrefix: "twice"})
}

// deadStore is a store over a loopback port where nothing listens.
func deadStore(t *testing.T) *tablestore.Store {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	svc := serviceAt(t, fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;TableEndpoint=http://127.0.0.1:%d/%s;",
		azurite.AccountName, azurite.AccountKey, port, azurite.AccountName))
	// The retry policy retries a refused connection; a short deadline stands in for
	// the caller's patience, and the timeout is a fault like any other.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := tablestore.Open(ctx, svc, tablestore.Options{}); !errors.Is(err, model.ErrUnavailable) {
		t.Errorf("Open: %v, want ErrUnavailable", err)
	}
	return tablestore.StoreWithoutTables(svc, "dead")
}

func TestStorageFaultsAreUnavailable(t *testing.T) {
	t.Parallel()
	s := deadStore(t)
	for name, op := range map[string]func(context.Context) error{
		"Insert": func(ctx context.Context) error {
			_, err := s.Insert(ctx, model.Buffer{ID: newID(), CreatedAt: base})
			return err
		},
		"Get": func(ctx context.Context) error { _, err := s.Get(ctx, newID()); return err },
		"Update": func(ctx context.Context) error {
			_, err := s.Update(ctx, newID(), model.BufferUpdate{}, "")
			return err
		},
		"List": func(ctx context.Context) error { _, err := s.List(ctx, model.ListQuery{Limit: 5}); return err },
		"Count": func(ctx context.Context) error {
			_, err := s.Count(ctx, model.Filter{Tags: map[string]string{"a": "b"}})
			return err
		},
		"Modify": func(ctx context.Context) error {
			_, err := s.Modify(ctx, newID(), func(b model.Buffer) (model.Buffer, error) { return b, nil })
			return err
		},
		"Purge":   func(ctx context.Context) error { return s.Purge(ctx, newID()) },
		"Expired": func(ctx context.Context) error { _, err := s.Expired(ctx, base, 5); return err },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := op(ctx); !errors.Is(err, model.ErrUnavailable) {
				t.Errorf("%s: %v, want ErrUnavailable", name, err)
			}
		})
	}
}
