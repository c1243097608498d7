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

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/azurite"
	"spool/internal/model"
	"spool/tablestore"
)

func TestInsertThenGetReturnsTheSameRecord(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	exp := base.Add(48 * time.Hour)
	in := model.Buffer{ID: newID(), CreatedAt: base.Add(123456789 * time.Nanosecond), Location: "eastus",
		Tags: map[string]string{"run-id": "a.b", "x": ""}, ExpiresAt: &exp}
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
}

func TestInsertIsCreateOnly(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	b := insert(t, s, base, nil)
	_, err := s.Insert(context.Background(), model.Buffer{ID: b.ID, CreatedAt: base})
	if !errors.Is(err, tablestore.ErrExists) {
		t.Fatalf("second insert: %v, want ErrExists", err)
	}
}

func TestInsertRejectsRecordsWithoutIDOrCreationTime(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	for _, b := range []model.Buffer{{CreatedAt: base}, {ID: newID()}} {
		if _, err := s.Insert(context.Background(), b); err == nil {
			t.Fatalf("insert %+v succeeded", b)
		}
	}
}

func TestGetUnknownOrOddIDIsNotFound(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	for _, id := range []string{newID(), "", "a/b", "x?y#z\\", strings.Repeat("a", 600), "'; drop"} {
		if _, err := s.Get(context.Background(), id); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestUpdateReplacesTagsAndKeepsTheRest(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insert(t, s, base, map[string]string{"a": "1", "b": "2"})
	got, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: map[string]string{"c": "3"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Tags, map[string]string{"c": "3"}) || got.ETag == b.ETag || !got.CreatedAt.Equal(b.CreatedAt) || got.Location != "local" {
		t.Fatalf("update gave %+v", got)
	}
	exp := base.Add(time.Hour)
	got, err = s.Update(ctx, b.ID, model.BufferUpdate{ExpiresAt: &exp}, got.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tags) != 0 || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("nil tags should clear them and expiry should be set: %+v", got)
	}
	read, _ := s.Get(ctx, b.ID)
	if read.ETag != got.ETag || !maps.Equal(read.Tags, got.Tags) {
		t.Fatalf("read %+v after update %+v", read, got)
	}
}

func TestUpdateWithCurrentETagSucceedsAndStaleETagFails(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insert(t, s, base, nil)
	first, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: map[string]string{"k": "1"}}, b.ETag)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ctx, b.ID, model.BufferUpdate{Tags: map[string]string{"k": "2"}}, b.ETag)
	if !errors.Is(err, model.ErrPreconditionFailed) {
		t.Fatalf("stale etag: %v, want ErrPreconditionFailed", err)
	}
	got, _ := s.Get(ctx, b.ID)
	if got.Tags["k"] != "1" || got.ETag != first.ETag {
		t.Fatalf("a failed update changed the record: %+v", got)
	}
	if _, err := s.Update(ctx, b.ID, model.BufferUpdate{}, "*"); err != nil {
		t.Fatalf("'*' means no precondition: %v", err)
	}
}

func TestUpdateWithMalformedETagIsPreconditionFailed(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	b := insert(t, s, base, nil)
	for _, etag := range []string{"not base64!", "12345678901234567890", `W/"x"`, "AAAA", "Vy8iZGF0ZXRpbWUnMjAyNi0xMS0yM1QyMSUzQTE5JTNBNTMuNzFaJyI"} {
		_, err := s.Update(context.Background(), b.ID, model.BufferUpdate{}, etag)
		if !errors.Is(err, model.ErrPreconditionFailed) {
			t.Fatalf("etag %q: %v, want ErrPreconditionFailed", etag, err)
		}
	}
}

func TestUpdateOfUnknownBufferIsNotFound(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	_, err := s.Update(context.Background(), newID(), model.BufferUpdate{}, "")
	if !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("%v, want ErrNotFound", err)
	}
}

func TestDeleteRemovesTheBufferFromGetAndListsAndIsIdempotent(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	b := insert(t, s, base, map[string]string{"k": "v"})
	keep := insert(t, s, base.Add(-time.Second), map[string]string{"k": "v"})
	if err := s.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, b.ID); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Get(ctx, b.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	for _, f := range []model.Filter{{}, {Tags: map[string]string{"k": "v"}}} {
		page, err := s.List(ctx, model.ListQuery{Filter: f, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if ids(page.Items) != keep.ID {
			t.Fatalf("filter %v lists %s, want only %s", f, ids(page.Items), keep.ID)
		}
	}
}

func TestTagsWithDashesDotsAndOddCharactersRoundTripAndFilter(t *testing.T) {
	s := newStore(t, tablestore.Options{})
	ctx := context.Background()
	tags := map[string]string{
		"run-id.v2":              "a.b-c_d",
		"empty":                  "",
		"weird/key#?\\'":         "va'lue/with=equals~7E",
		strings.Repeat("k", 128): strings.Repeat("v", 256),
		"ünïcode":                "値",
		strings.Repeat("/", 128): strings.Repeat("#", 256), // too long escaped: hashed partition
	}
	b := insert(t, s, base, tags)
	other := insert(t, s, base.Add(time.Second), map[string]string{"run-id.v2": "a.b-c_e", "weird/key#?\\'": "va'lue/with=equals~7F"})
	got, err := s.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Tags, tags) {
		t.Fatalf("tags came back as %v", got.Tags)
	}
	for k, v := range tags {
		page, err := s.List(ctx, model.ListQuery{Filter: model.Filter{Tags: map[string]string{k: v}}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if ids(page.Items) != b.ID {
			t.Fatalf("tag %q=%q lists %q, want %s (other %s)", k, v, ids(page.Items), b.ID, other.ID)
		}
	}
}

func TestLongTagSetsSurviveTheStringPropertyLimit(t *testing.T) {
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
	for _, p := range []string{"1abc", "a-b", "a_b", strings.Repeat("a", 60)} {
		if _, err := tablestore.Open(context.Background(), service, tablestore.Options{TablePrefix: p}); err == nil {
			t.Fatalf("prefix %q accepted", p)
		}
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	newStore(t, tablestore.Options{TablePrefix: "twice"})
	newStore(t, tablestore.Options{TablePrefix: "twice"})
}

// deadService is a table endpoint on a loopback port where nothing listens.
func deadService(t *testing.T) *aztables.ServiceClient {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	svc, err := tablestore.ServiceClientFromConnectionString(fmt.Sprintf(
		"DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;TableEndpoint=http://127.0.0.1:%d/%s;",
		azurite.AccountName, azurite.AccountKey, port, azurite.AccountName))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestStorageFaultsAreUnavailable(t *testing.T) {
	svc := deadService(t)
	// The SDK retries a refused connection for seconds; a short deadline stands in
	// for the caller's patience, and the timeout is a fault like any other.
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 300*time.Millisecond)
	}
	ctx, cancel := short()
	_, err := tablestore.Open(ctx, svc, tablestore.Options{})
	cancel()
	if !errors.Is(err, model.ErrUnavailable) {
		t.Fatalf("Open: %v, want ErrUnavailable", err)
	}
	s := tablestore.StoreWithoutTables(svc, "dead")
	ops := map[string]func(context.Context) error{
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
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, newID()) },
	}
	for name, op := range ops {
		ctx, cancel := short()
		err := op(ctx)
		cancel()
		if !errors.Is(err, model.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}
}
