package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/model"
)

var auditPromises = []promise{
	{"GrantsAreKeptPerBufferNewestFirstInExactPages", grantsNewestFirstInExactPages},
	{"AGrantComesBackAsRecorded", grantRoundTrips},
	{"GrantsOutliveTheBuffersPurge", grantsOutlivePurge},
	{"AGrantsContinuationItDidNotMakeIsRefused", grantsRefuseForeignContinuation},
}

func grant(bufferID string, i int, writeable bool) model.Grant {
	return model.Grant{
		ID: NewID(), BufferID: bufferID, GrantedAt: at(i), Writeable: writeable,
		ExpiresAt: at(i).Add(time.Hour),
		Caller:    model.Caller{Method: model.CallerBearerToken, ObjectID: "oid-1", Name: "ada@example.com"},
	}
}

func recordGrant(t *testing.T, s handler.Store, g model.Grant) {
	t.Helper()
	if err := s.RecordGrant(context.Background(), g); err != nil {
		t.Fatalf("recording grant: %v", err)
	}
}

// grantsNewestFirstInExactPages records seven grants of one buffer (two in the same
// second) and one of another, and pages through the first by three.
func grantsNewestFirstInExactPages(t *testing.T, s handler.Store) {
	id, other := NewID(), NewID()
	var want []string
	for i := range 7 {
		g := grant(id, i/2, i%2 == 0)
		recordGrant(t, s, g)
		want = append(want, g.ID)
	}
	recordGrant(t, s, grant(other, 100, false))
	var got []model.Grant
	q := model.GrantQuery{BufferID: id, Limit: 3}
	for pages := 0; ; pages++ {
		page, err := s.Grants(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if pages < 2 && len(page.Items) != 3 || pages == 2 && len(page.Items) != 1 || pages > 2 {
			t.Fatalf("page %d holds %d grants; want pages of 3, 3, 1", pages, len(page.Items))
		}
		got = append(got, page.Items...)
		if q.Continuation = page.Continuation; q.Continuation == "" {
			break
		}
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.GrantedAt.Before(b.GrantedAt) || a.GrantedAt.Equal(b.GrantedAt) && a.ID < b.ID {
			t.Errorf("grant %d (%s %s) is listed before an older one (%s %s)", i, a.GrantedAt, a.ID, b.GrantedAt, b.ID)
		}
	}
	if len(got) != len(want) {
		t.Errorf("listed %d grants, want %d (no grant of the other buffer)", len(got), len(want))
	}
}

func grantRoundTrips(t *testing.T, s handler.Store) {
	g := grant(NewID(), 1, true)
	g.Caller.Name = "Zoë Ölçek"
	recordGrant(t, s, g)
	page, err := s.Grants(context.Background(), model.GrantQuery{BufferID: g.BufferID, Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("grants: %v, %+v", err, page)
	}
	got := page.Items[0]
	if got.ID != g.ID || got.BufferID != g.BufferID || !got.GrantedAt.Equal(g.GrantedAt) ||
		!got.ExpiresAt.Equal(g.ExpiresAt) || got.Writeable != g.Writeable || got.Caller != g.Caller {
		t.Errorf("grant came back as %+v, recorded %+v", got, g)
	}
	if page.Continuation != "" {
		t.Errorf("a single page has continuation %q", page.Continuation)
	}
}

func grantsOutlivePurge(t *testing.T, s handler.Store) {
	b := insert(t, s, at(0), nil)
	recordGrant(t, s, grant(b.ID, 1, false))
	softDelete(t, s, b, at(2))
	MarkPurging(t, s, b.ID)
	if err := s.Purge(context.Background(), b.ID); err != nil {
		t.Fatal(err)
	}
	page, err := s.Grants(context.Background(), model.GrantQuery{BufferID: b.ID, Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Errorf("after the purge the trail holds %d grants (%v), want 1", len(page.Items), err)
	}
}

func grantsRefuseForeignContinuation(t *testing.T, s handler.Store) {
	_, err := s.Grants(context.Background(), model.GrantQuery{BufferID: NewID(), Limit: 5, Continuation: "'; drop"})
	if !errors.Is(err, model.ErrInvalidContinuation) {
		t.Errorf("foreign continuation: %v, want model.ErrInvalidContinuation", err)
	}
}
