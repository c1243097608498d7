package storetest

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/model"
)

var recordPromises = []promise{
	{"InsertThenGetReturnsTheSameRecordWithAnOpaqueETag", insertThenGet},
	{"RecordsAreCopiesNoCallerCanChangeInPlace", recordsAreCopies},
	{"InsertIsCreateOnly", insertIsCreateOnly},
	{"InsertRejectsRecordsWithoutIDOrCreationTime", insertRejectsIncomplete},
	{"GetOfAnUnknownOrOddIDIsNotFound", getUnknownIsNotFound},
	{"TagsWithOddCharactersRoundTripAndFilter", oddTagsRoundTrip},
	{"UpdateReplacesTagsAndKeepsTheRest", updateReplacesTags},
	{"UpdateWithAStaleOrMalformedETagIsPreconditionFailedAndChangesNothing", updateWithStaleETag},
	{"UpdateReachesOnlyTheStateItNames", updateReachesOnlyItsState},
	{"ConcurrentUpdatesOnOneETagHaveExactlyOneWinner", concurrentUpdatesOneWinner},
}

func insertThenGet(t *testing.T, s handler.Store) {
	ctx := context.Background()
	exp := base.Add(48 * time.Hour)
	in := model.Buffer{ID: NewID(), CreatedAt: base.Add(123456789 * time.Nanosecond), Location: "eastus",
		Tags: tags("run-id", "a.b", "x", ""), ExpiresAt: &exp}
	created, err := s.Insert(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if created.ETag == "" || strings.ContainsAny(created.ETag, "\" '\\/") {
		t.Fatalf("etag %q is not opaque and shell-safe", created.ETag)
	}
	got, err := s.Get(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != in.ID || !got.CreatedAt.Equal(in.CreatedAt) || got.Location != "eastus" ||
		!maps.Equal(got.Tags, in.Tags) || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.ETag != created.ETag {
		t.Fatalf("got %+v, want %+v", got, created)
	}
	if untagged := insert(t, s, base, nil); untagged.Tags == nil {
		t.Error("a buffer inserted without tags comes back with nil tags, want an empty set")
	}
}

func recordsAreCopies(t *testing.T, s handler.Store) {
	ctx := context.Background()
	mine := tags("k", "v")
	b := insert(t, s, base, mine)
	mine["k"] = "changed by the caller after Insert"
	b.Tags["k"] = "changed in Insert's answer"
	got, _ := s.Get(ctx, b.ID)
	got.Tags["k"] = "changed in Get's answer"
	page, _ := s.List(ctx, model.ListQuery{Limit: 1})
	page.Items[0].Tags["k"] = "changed in List's answer"
	if again, _ := s.Get(ctx, b.ID); again.Tags["k"] != "v" {
		t.Fatalf("the stored tags changed in place: %v", again.Tags)
	}
	ExpectSelected(t, s, model.Filter{Tags: tags("k", "v")}, b)
}

func insertIsCreateOnly(t *testing.T, s handler.Store) {
	b := insert(t, s, base, tags("first", "1"))
	if _, err := s.Insert(context.Background(), model.Buffer{ID: b.ID, CreatedAt: base}); err == nil {
		t.Fatal("a second insert of the same ID succeeded")
	}
	if got, err := s.Get(context.Background(), b.ID); err != nil || got.ETag != b.ETag || got.Tags["first"] != "1" {
		t.Fatalf("the refused insert changed the record: %+v, %v", got, err)
	}
}

func insertRejectsIncomplete(t *testing.T, s handler.Store) {
	for _, b := range []model.Buffer{{CreatedAt: base}, {ID: NewID()}} {
		if _, err := s.Insert(context.Background(), b); err == nil {
			t.Fatalf("insert %+v succeeded", b)
		}
	}
}

func getUnknownIsNotFound(t *testing.T, s handler.Store) {
	insert(t, s, base, nil)
	for _, id := range []string{NewID(), "", "a/b", "x?y#z\\", strings.Repeat("a", 600), "'; drop"} {
		if _, err := s.Get(context.Background(), id); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func oddTagsRoundTrip(t *testing.T, s handler.Store) {
	odd := map[string]string{
		"run-id.v2":              "a.b-c_d",
		"empty":                  "",
		"weird/key#?\\'":         "va'lue/with=equals~7E",
		strings.Repeat("k", 128): strings.Repeat("v", 256),
		"ünïcode":                "値",
		strings.Repeat("/", 128): strings.Repeat("#", 256),
	}
	b := insert(t, s, base, odd)
	insert(t, s, at(1), tags("run-id.v2", "a.b-c_e", "weird/key#?\\'", "va'lue/with=equals~7F"))
	got, err := s.Get(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Tags, odd) {
		t.Fatalf("tags came back as %v", got.Tags)
	}
	for k, v := range odd {
		ExpectSelected(t, s, model.Filter{Tags: tags(k, v)}, b)
	}
}

func updateReplacesTags(t *testing.T, s handler.Store) {
	ctx := context.Background()
	b := insert(t, s, base, tags("a", "1", "b", "2"))
	got, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: tags("c", "3")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Tags, tags("c", "3")) || got.ETag == b.ETag || !got.CreatedAt.Equal(b.CreatedAt) || got.Location != "local" {
		t.Fatalf("update gave %+v", got)
	}
	exp := base.Add(time.Hour)
	got, err = s.Update(ctx, b.ID, model.BufferUpdate{ExpiresAt: &exp}, got.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tags == nil || len(got.Tags) != 0 || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("nil tags should clear them and expiry should be set: %+v", got)
	}
	read, _ := s.Get(ctx, b.ID)
	if read.ETag != got.ETag || !maps.Equal(read.Tags, got.Tags) {
		t.Fatalf("read %+v after update %+v", read, got)
	}
	if _, err := s.Update(ctx, NewID(), model.BufferUpdate{}, ""); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("update of an unknown buffer: %v, want ErrNotFound", err)
	}
}

func updateWithStaleETag(t *testing.T, s handler.Store) {
	ctx := context.Background()
	b := insert(t, s, base, nil)
	first, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: tags("k", "1")}, b.ETag)
	if err != nil {
		t.Fatalf("a fresh etag: %v", err)
	}
	stale := []string{b.ETag, "not base64!", "12345678901234567890", `W/"x"`, "AAAA",
		"Vy8iZGF0ZXRpbWUnMjAyNi0xMS0yM1QyMSUzQTE5JTNBNTMuNzFaJyI"}
	for _, etag := range stale {
		if _, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: tags("k", "2")}, etag); !errors.Is(err, model.ErrPreconditionFailed) {
			t.Fatalf("etag %q: %v, want ErrPreconditionFailed", etag, err)
		}
	}
	got, _ := s.Get(ctx, b.ID)
	if got.Tags["k"] != "1" || got.ETag != first.ETag {
		t.Fatalf("a failed update changed the record: %+v", got)
	}
	if _, err := s.Update(ctx, b.ID, model.BufferUpdate{}, "*"); err != nil {
		t.Fatalf("'*' means no precondition: %v", err)
	}
}

func updateReachesOnlyItsState(t *testing.T, s handler.Store) {
	ctx := context.Background()
	live := insert(t, s, base, nil)
	deleted := softDelete(t, s, insert(t, s, at(1), nil), base.Add(time.Hour))
	purging := MarkPurging(t, s, insert(t, s, at(2), nil).ID)
	for _, c := range []struct {
		name        string
		b           model.Buffer
		softDeleted bool
	}{
		{"live as soft-deleted", live, true},
		{"soft-deleted as live", deleted, false},
		{"purging as soft-deleted", purging, true},
		{"purging as live", purging, false},
	} {
		if _, err := s.Update(ctx, c.b.ID, model.BufferUpdate{SoftDeleted: c.softDeleted}, ""); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.name, err)
		}
	}
	got, err := s.Update(ctx, deleted.ID, model.BufferUpdate{SoftDeleted: true, Tags: tags("k", "v")}, deleted.ETag)
	if err != nil || !got.IsSoftDeleted || got.Tags["k"] != "v" {
		t.Errorf("an update of a soft-deleted buffer: %+v, %v", got, err)
	}
}

func concurrentUpdatesOneWinner(t *testing.T, s handler.Store) {
	ctx := context.Background()
	b := insert(t, s, base, nil)
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			_, errs[w] = s.Update(ctx, b.ID, model.BufferUpdate{Tags: tags("writer", string(rune('a'+w)))}, b.ETag)
		})
	}
	wg.Wait()
	winners := 0
	for w, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, model.ErrPreconditionFailed):
			t.Errorf("writer %d: %v, want ErrPreconditionFailed", w, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d writers won on one etag, want exactly 1", winners)
	}
}
