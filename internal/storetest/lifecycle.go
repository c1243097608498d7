package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/model"
)

var lifecyclePromises = []promise{
	{"ModifyRetriesOnAFreshReadWhenAnotherWriterWins", modifyRetriesOnFreshRead},
	{"ModifyWrapsChangesErrorAndChangesNothing", modifyWrapsChangeError},
	{"ModifyKeepsIDAndCreationTimeAndNamesAMissingBufferNotFound", modifyKeepsIdentity},
	{"ConcurrentModifiesLoseNoChange", concurrentModifiesLoseNothing},
	{"SoftDeleteAndRestoreMoveABufferBetweenLiveAndDeletedListings", softDeleteAndRestore},
	{"PurgeRefusesAnUnmarkedBufferAndRemovesAMarkedOneEverywhere", purgeRemovesMarked},
	{"PurgeIsIdempotentAndAMissingRecordIsNoError", purgeIsIdempotent},
	{"ExpiredReturnsWhatIsDueSoonestFirstBoundedByLimit", expiredReturnsDue},
	{"ExpiredFollowsAMovedOrClearedExpiry", expiredFollowsMovedExpiry},
}

// softDelete is the handler's soft delete: deleted, purged at purgeAt.
func softDelete(t *testing.T, s handler.Store, b model.Buffer, purgeAt time.Time) model.Buffer {
	t.Helper()
	return modify(t, s, b.ID, func(b model.Buffer) model.Buffer {
		b.IsSoftDeleted, b.KeptExpiresAt, b.ExpiresAt = true, b.ExpiresAt, &purgeAt
		return b
	})
}

// MarkPurging is the sweep's first step of a purge.
func MarkPurging(t testing.TB, s handler.Store, id string) model.Buffer {
	t.Helper()
	return modify(t, s, id, func(b model.Buffer) model.Buffer {
		b.IsSoftDeleted, b.Purging = true, true
		return b
	})
}

func modify(t testing.TB, s handler.Store, id string, change func(model.Buffer) model.Buffer) model.Buffer {
	t.Helper()
	got, err := s.Modify(context.Background(), id, func(b model.Buffer) (model.Buffer, error) { return change(b), nil })
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func modifyRetriesOnFreshRead(t *testing.T, s handler.Store) {
	ctx := context.Background()
	b := insert(t, s, base, tags("n", "0"))
	var seen []string
	got, err := s.Modify(ctx, b.ID, func(cur model.Buffer) (model.Buffer, error) {
		seen = append(seen, cur.Tags["n"])
		if len(seen) == 1 {
			// Another writer wins between this read and the swap.
			if _, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: tags("n", "1", "other", "yes")}, ""); err != nil {
				return model.Buffer{}, err
			}
		}
		cur.Tags["mine"] = "yes"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[0 1]" {
		t.Fatalf("change saw n = %v, want a first read and a fresh one after the other write", seen)
	}
	if got.Tags["other"] != "yes" || got.Tags["mine"] != "yes" {
		t.Fatalf("the result lost a write: %v", got.Tags)
	}
	if read, _ := s.Get(ctx, b.ID); read.ETag != got.ETag || read.Tags["other"] != "yes" || read.Tags["mine"] != "yes" {
		t.Fatalf("stored %+v, Modify answered %+v", read, got)
	}
}

func modifyWrapsChangeError(t *testing.T, s handler.Store) {
	b := insert(t, s, base, tags("k", "v"))
	refusal := errors.New("not in this state")
	_, err := s.Modify(context.Background(), b.ID, func(cur model.Buffer) (model.Buffer, error) {
		cur.Tags = nil
		return cur, refusal
	})
	if !errors.Is(err, refusal) {
		t.Fatalf("Modify = %v, want change's error wrapped", err)
	}
	if got, _ := s.Get(context.Background(), b.ID); got.ETag != b.ETag || got.Tags["k"] != "v" {
		t.Fatalf("a refused change was stored: %+v", got)
	}
}

func modifyKeepsIdentity(t *testing.T, s handler.Store) {
	b := insert(t, s, base, nil)
	got := modify(t, s, b.ID, func(cur model.Buffer) model.Buffer {
		cur.ID, cur.CreatedAt, cur.ETag, cur.Tags = NewID(), base.Add(time.Hour), "forged", nil
		return cur
	})
	if got.ID != b.ID || !got.CreatedAt.Equal(b.CreatedAt) || got.ETag == b.ETag || got.ETag == "forged" || got.Tags == nil {
		t.Fatalf("Modify gave %+v from %+v", got, b)
	}
	if read, err := s.Get(context.Background(), b.ID); err != nil || read.ETag != got.ETag {
		t.Fatalf("read %+v, %v after Modify gave %+v", read, err, got)
	}
	_, err := s.Modify(context.Background(), NewID(), func(cur model.Buffer) (model.Buffer, error) { return cur, nil })
	if !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Modify of a missing buffer: %v, want ErrNotFound", err)
	}
}

func concurrentModifiesLoseNothing(t *testing.T, s handler.Store) {
	b := insert(t, s, base, nil)
	const writers = 6
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			_, err := s.Modify(context.Background(), b.ID, func(cur model.Buffer) (model.Buffer, error) {
				cur.Tags[fmt.Sprintf("w%d", w)] = "done"
				return cur, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, _ := s.Get(context.Background(), b.ID)
	if len(got.Tags) != writers {
		t.Fatalf("after %d concurrent Modifies the record has tags %v", writers, got.Tags)
	}
}

func softDeleteAndRestore(t *testing.T, s handler.Store) {
	now := base.Add(30 * time.Minute)
	purgeAt := base.Add(time.Hour)
	live := insert(t, s, base, tags("k", "v"))
	expired := insertExpiring(t, s, at(1), base.Add(time.Minute), tags("k", "v"))
	gone := softDelete(t, s, insert(t, s, at(2), tags("k", "v")), purgeAt)
	if !gone.IsSoftDeleted {
		t.Fatalf("soft delete gave %+v", gone)
	}
	byTag := tags("k", "v")
	ExpectSelected(t, s, model.Filter{LiveAt: now}, live)
	ExpectSelected(t, s, model.Filter{Tags: byTag, LiveAt: now}, live)
	ExpectSelected(t, s, model.Filter{LiveAt: base}, expired, live)
	ExpectSelected(t, s, model.Filter{SoftDeleted: true, LiveAt: now}, gone)
	ExpectSelected(t, s, model.Filter{Tags: byTag, SoftDeleted: true, LiveAt: now}, gone)
	ExpectSelected(t, s, model.Filter{SoftDeleted: true, LiveAt: purgeAt})

	restored := modify(t, s, gone.ID, func(b model.Buffer) model.Buffer {
		b.IsSoftDeleted, b.ExpiresAt, b.KeptExpiresAt = false, b.KeptExpiresAt, nil
		return b
	})
	if restored.IsSoftDeleted || restored.ExpiresAt != nil {
		t.Fatalf("restore gave %+v", restored)
	}
	ExpectSelected(t, s, model.Filter{Tags: byTag, LiveAt: now}, live, restored)
	ExpectSelected(t, s, model.Filter{Tags: byTag, SoftDeleted: true})
}

func purgeRemovesMarked(t *testing.T, s handler.Store) {
	ctx := context.Background()
	b := insertExpiring(t, s, base, base.Add(time.Minute), tags("a", "1", "b", "2"))
	if err := s.Purge(ctx, b.ID); err == nil {
		t.Fatal("a buffer not marked for purging was purged")
	}
	if _, err := s.Get(ctx, b.ID); err != nil {
		t.Fatalf("a refused purge removed the record: %v", err)
	}
	MarkPurging(t, s, b.ID)
	ExpectSelected(t, s, model.Filter{SoftDeleted: true, Tags: tags("a", "1")})
	if err := s.Purge(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, b.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("record survived: %v", err)
	}
	for _, f := range []model.Filter{{}, {SoftDeleted: true}, {Tags: tags("b", "2")}, {SoftDeleted: true, Tags: tags("b", "2")}} {
		ExpectSelected(t, s, f)
	}
	if due, err := s.Expired(ctx, base.Add(time.Hour), 10); err != nil || len(due) != 0 {
		t.Fatalf("Expired after purge: %s, %v", IDs(due), err)
	}
}

func purgeIsIdempotent(t *testing.T, s handler.Store) {
	b := MarkPurging(t, s, insert(t, s, base, nil).ID)
	for i := range 2 {
		if err := s.Purge(context.Background(), b.ID); err != nil {
			t.Fatalf("purge %d: %v", i+1, err)
		}
	}
	if err := s.Purge(context.Background(), NewID()); err != nil {
		t.Fatalf("purge of a buffer never stored: %v", err)
	}
}

func expiredReturnsDue(t *testing.T, s handler.Store) {
	ctx := context.Background()
	late := insertExpiring(t, s, base, base.Add(2*time.Hour), nil)
	soon := insertExpiring(t, s, at(1), base.Add(time.Hour), nil)
	deleted := softDelete(t, s, insert(t, s, at(2), nil), base.Add(90*time.Minute))
	insert(t, s, base, nil) // never expires
	insertExpiring(t, s, base, base.Add(48*time.Hour), nil)
	for _, c := range []struct {
		now   time.Time
		limit int
		want  string
	}{
		{base.Add(3 * time.Hour), 10, IDs([]model.Buffer{soon, deleted, late})},
		{base.Add(3 * time.Hour), 2, IDs([]model.Buffer{soon, deleted})},
		{base.Add(time.Hour), 10, soon.ID}, // an expiry equal to now is due
		{base.Add(time.Hour - time.Nanosecond), 10, ""},
		{base.Add(3 * time.Hour), 0, ""},
	} {
		got, err := s.Expired(ctx, c.now, c.limit)
		if err != nil || IDs(got) != c.want {
			t.Errorf("Expired(%s, %d) = %s, %v; want %s", c.now, c.limit, IDs(got), err, c.want)
		}
	}
}

func expiredFollowsMovedExpiry(t *testing.T, s handler.Store) {
	ctx := context.Background()
	b := insertExpiring(t, s, base, base.Add(time.Hour), nil)
	later := base.Add(10 * time.Hour)
	if _, err := s.Update(ctx, b.ID, model.BufferUpdate{ExpiresAt: &later}, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Expired(ctx, base.Add(2*time.Hour), 10); len(got) != 0 {
		t.Fatalf("the old expiry still finds %s", IDs(got))
	}
	if got, _ := s.Expired(ctx, later, 10); IDs(got) != b.ID || !got[0].ExpiresAt.Equal(later) {
		t.Fatalf("the new expiry finds %s", IDs(got))
	}
	modify(t, s, b.ID, func(b model.Buffer) model.Buffer { b.ExpiresAt = nil; return b })
	if got, _ := s.Expired(ctx, later.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("a cleared expiry still finds %s", IDs(got))
	}
}
