package tablestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/model"
	"spool/tablestore"
)

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

// The contract suite pins what Expired and Purge answer; these pin the index
// entities behind the answers.
func TestIndexEntitiesFollowExpiriesAndPurges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// change brings a fresh store to the state checked; it returns what the
		// expiry, order and tag tables must then hold.
		change func(t *testing.T, s *tablestore.Store) (expiry, order, tags int)
	}{
		{"one expiry entry per expiring buffer", func(t *testing.T, s *tablestore.Store) (int, int, int) {
			insertExpiring(t, s, base, base.Add(2*time.Hour), nil)
			insertExpiring(t, s, base, base.Add(time.Hour), map[string]string{"a": "1"})
			insert(t, s, base, nil) // never expires
			return 2, 3, 1
		}},
		{"a moved expiry keeps one entry", func(t *testing.T, s *tablestore.Store) (int, int, int) {
			b := insertExpiring(t, s, base, base.Add(time.Hour), nil)
			later := base.Add(10 * time.Hour)
			if _, err := s.Update(ctx, b.ID, model.BufferUpdate{ExpiresAt: &later}, ""); err != nil {
				t.Fatal(err)
			}
			return 1, 1, 0
		}},
		{"a purge leaves no entity", func(t *testing.T, s *tablestore.Store) (int, int, int) {
			b := insertExpiring(t, s, base, base.Add(time.Minute), map[string]string{"a": "1", "b": "2"})
			markPurging(t, s, b.ID)
			if err := s.Purge(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
			return 0, 0, 0
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, tablestore.Options{})
			expiry, order, tags := c.change(t, s)
			for table, want := range map[*aztables.Client]int{s.ExpiryTable(): expiry, s.OrderTable(): order, s.TagTable(): tags} {
				if n := countEntities(t, table); n != want {
					t.Errorf("%d entities in a table that should hold %d (expiry %v, order %v)", n, want, table == s.ExpiryTable(), table == s.OrderTable())
				}
			}
		})
	}
}

func TestExpiredDropsAPurgingEntryWhoseRecordIsGone(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insertExpiring(t, s, base, base.Add(time.Minute), nil)
	marked := markPurging(t, s, b.ID)
	// A purge that stopped right after deleting the record.
	if err := s.DeleteRecord(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	entity, _ := tablestore.CopyEntity(s.Partition(b.ID, tablestore.ExpiryPartition), tablestore.ExpiryRowKey(*marked.ExpiresAt, b.ID), marked, false)
	putEntity(t, s.ExpiryTable(), entity)
	if got, err := s.Expired(ctx, base.Add(time.Hour), 10); err != nil || len(got) != 0 {
		t.Fatalf("expired = %s, %v", ids(got), err)
	}
	if n := countEntities(t, s.ExpiryTable()); n != 0 {
		t.Fatalf("%d expiry entries left pointing at nothing", n)
	}
}

func TestExpiredDropsAStaleEntryButKeepsAFreshPendingOneWhoseInsertIsInFlight(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insertExpiring(t, s, base, base.Add(5*time.Hour), nil)
	// A write that moved the expiry but crashed before removing the old entry.
	stale := b
	old := base.Add(time.Hour)
	stale.ExpiresAt = &old
	entity, _ := tablestore.CopyEntity(s.Partition(b.ID, tablestore.ExpiryPartition), tablestore.ExpiryRowKey(old, b.ID), stale, false)
	if _, err := s.ExpiryTable().AddEntity(ctx, entity, nil); err != nil {
		t.Fatal(err)
	}
	// An insert that has marked its entry but not yet added its record.
	inFlight := model.Buffer{ID: newID(), CreatedAt: base, Tags: map[string]string{}, ExpiresAt: &old}
	entity, _ = tablestore.CopyEntity(s.Partition(inFlight.ID, tablestore.ExpiryPartition), tablestore.ExpiryRowKey(old, inFlight.ID), inFlight, true)
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
