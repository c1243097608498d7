package tablestore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/model"
	"spool/tablestore"
)

func insertExpiring(t *testing.T, s *tablestore.Store, createdAt, expiresAt time.Time, tags map[string]string) model.Buffer {
	t.Helper()
	b, err := s.Insert(context.Background(), model.Buffer{ID: newID(), CreatedAt: createdAt, Location: "local", Tags: tags, ExpiresAt: &expiresAt})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func countEntities(t *testing.T, table *aztables.Client) int {
	t.Helper()
	n := 0
	pager := table.NewListEntitiesPager(nil)
	for pager.More() {
		resp, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(resp.Entities)
	}
	return n
}

func TestExpiredFindsDueBuffersThroughTheExpiryIndexSoonestFirst(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	late := insertExpiring(t, s, base, base.Add(2*time.Hour), nil)
	soon := insertExpiring(t, s, base, base.Add(time.Hour), nil)
	insert(t, s, base, nil) // never expires
	insertExpiring(t, s, base, base.Add(48*time.Hour), nil)

	got, err := s.Expired(ctx, base.Add(3*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids(got) != soon.ID+","+late.ID {
		t.Fatalf("expired = %s, want %s,%s", ids(got), soon.ID, late.ID)
	}
	if got, _ := s.Expired(ctx, base.Add(3*time.Hour), 1); ids(got) != soon.ID {
		t.Fatalf("limit 1 gave %s", ids(got))
	}
	if got, _ := s.Expired(ctx, base.Add(time.Hour), 10); ids(got) != soon.ID {
		t.Fatalf("an expiry equal to now is due: got %s", ids(got))
	}
	if n := countEntities(t, s.ExpiryTable()); n != 3 {
		t.Fatalf("%d expiry entries, want 3 (one per expiring buffer)", n)
	}
}

func TestMovingAnExpiryMovesItsIndexEntry(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insertExpiring(t, s, base, base.Add(time.Hour), nil)
	later := base.Add(10 * time.Hour)
	if _, err := s.Update(ctx, b.ID, model.BufferUpdate{ExpiresAt: &later}, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Expired(ctx, base.Add(2*time.Hour), 10); len(got) != 0 {
		t.Fatalf("the old expiry still finds %s", ids(got))
	}
	if got, _ := s.Expired(ctx, later, 10); ids(got) != b.ID {
		t.Fatalf("the new expiry finds %s", ids(got))
	}
	if n := countEntities(t, s.ExpiryTable()); n != 1 {
		t.Fatalf("%d expiry entries, want 1", n)
	}
}

func TestSoftDeletedBuffersAreListedOnlyWhenAskedForAndExpiredOnesNever(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	live := insert(t, s, base, map[string]string{"k": "v"})
	expired := insertExpiring(t, s, base.Add(time.Second), base.Add(time.Minute), map[string]string{"k": "v"})
	gone := insert(t, s, base.Add(2*time.Second), map[string]string{"k": "v"})
	purgeAt := base.Add(time.Hour)
	deleted, err := s.Modify(ctx, gone.ID, func(b model.Buffer) (model.Buffer, error) {
		b.IsSoftDeleted, b.ExpiresAt = true, &purgeAt
		return b, nil
	})
	if err != nil || !deleted.IsSoftDeleted {
		t.Fatalf("soft delete: %+v, %v", deleted, err)
	}
	now := base.Add(30 * time.Minute)
	for _, tc := range []struct {
		name string
		f    model.Filter
		want string
	}{
		{"live", model.Filter{LiveAt: now}, live.ID},
		{"live by tag", model.Filter{Tags: map[string]string{"k": "v"}, LiveAt: now}, live.ID},
		{"live before expiry", model.Filter{LiveAt: base}, expired.ID + "," + live.ID},
		{"soft-deleted", model.Filter{SoftDeleted: true, LiveAt: now}, gone.ID},
		{"soft-deleted by tag", model.Filter{Tags: map[string]string{"k": "v"}, SoftDeleted: true, LiveAt: now}, gone.ID},
		{"soft-deleted past purge time", model.Filter{SoftDeleted: true, LiveAt: purgeAt}, ""},
	} {
		page, err := s.List(ctx, model.ListQuery{Filter: tc.f, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Items); got != tc.want {
			t.Errorf("%s: listed %q, want %q", tc.name, got, tc.want)
		}
		if n, _ := s.Count(ctx, tc.f); n != len(page.Items) {
			t.Errorf("%s: count %d, list %d", tc.name, n, len(page.Items))
		}
	}
	if _, err := s.Update(ctx, gone.ID, model.BufferUpdate{}, ""); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("an update of a live buffer reached a soft-deleted one: %v", err)
	}
	if _, err := s.Update(ctx, gone.ID, model.BufferUpdate{SoftDeleted: true, Tags: deleted.Tags}, ""); err != nil {
		t.Errorf("an update of a soft-deleted buffer: %v", err)
	}
}

func TestPurgeRefusesABufferNotMarkedAndRemovesEveryEntityOfAMarkedOne(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insertExpiring(t, s, base, base.Add(time.Minute), map[string]string{"a": "1", "b": "2"})
	if err := s.Purge(ctx, b.ID); !errors.Is(err, tablestore.ErrNotPurging) {
		t.Fatalf("purge of an unmarked buffer: %v", err)
	}
	if _, err := s.Modify(ctx, b.ID, func(b model.Buffer) (model.Buffer, error) {
		b.IsSoftDeleted, b.Purging = true, true
		return b, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, b.ID); err != nil {
		t.Fatalf("a second purge: %v", err)
	}
	if _, err := s.Get(ctx, b.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("record survived: %v", err)
	}
	for name, table := range map[string]*aztables.Client{"order": s.OrderTable(), "tags": s.TagTable(), "expiry": s.ExpiryTable()} {
		if n := countEntities(t, table); n != 0 {
			t.Errorf("%d %s entries left", n, name)
		}
	}
}

func TestExpiredDropsAPurgingEntryWhoseRecordIsGone(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insertExpiring(t, s, base, base.Add(time.Minute), nil)
	marked, err := s.Modify(ctx, b.ID, func(b model.Buffer) (model.Buffer, error) {
		b.IsSoftDeleted, b.Purging = true, true
		return b, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A purge that stopped right after deleting the record.
	if err := s.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	entity, _ := tablestore.CopyEntity("due", tablestore.ExpiryRowKey(*marked.ExpiresAt, b.ID), marked, false)
	if _, err := s.ExpiryTable().AddEntity(ctx, entity, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Expired(ctx, base.Add(time.Hour), 10); err != nil || len(got) != 0 {
		t.Fatalf("expired = %s, %v", ids(got), err)
	}
	if n := countEntities(t, s.ExpiryTable()); n != 0 {
		t.Fatalf("%d expiry entries left pointing at nothing", n)
	}
}

func TestExpiredDropsAStaleEntryButKeepsAFreshPendingOneWhoseInsertIsInFlight(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insertExpiring(t, s, base, base.Add(5*time.Hour), nil)
	// A write that moved the expiry but crashed before removing the old entry.
	stale := b
	old := base.Add(time.Hour)
	stale.ExpiresAt = &old
	entity, _ := tablestore.CopyEntity("due", tablestore.ExpiryRowKey(old, b.ID), stale, false)
	if _, err := s.ExpiryTable().AddEntity(ctx, entity, nil); err != nil {
		t.Fatal(err)
	}
	// An insert that has marked its entry but not yet added its record.
	inFlight := model.Buffer{ID: newID(), CreatedAt: base, Tags: map[string]string{}, ExpiresAt: &old}
	entity, _ = tablestore.CopyEntity("due", tablestore.ExpiryRowKey(old, inFlight.ID), inFlight, true)
	if _, err := s.ExpiryTable().AddEntity(ctx, entity, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Expired(ctx, base.Add(2*time.Hour), 10); err != nil || len(got) != 0 {
		t.Fatalf("expired = %s, %v; want none", ids(got), err)
	}
	if n := countEntities(t, s.ExpiryTable()); n != 2 {
		t.Fatalf("%d expiry entries, want the buffer's own and the in-flight insert's", n)
	}
}
