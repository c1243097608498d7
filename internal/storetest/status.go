package storetest

import (
	"context"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/model"
)

var statusPromises = []promise{
	{"ASealKeptByModifyIsReadBackByGetListAndSurvivesATagUpdate", sealRoundTrips},
}

func sealRoundTrips(t *testing.T, s handler.Store) {
	ctx := context.Background()
	b := insert(t, s, base, tags("k", "v"))
	size, blobs := int64(1<<40+3), int64(262145)
	done := base.Add(time.Minute)
	seal := model.DataStatus{Status: model.StatusComplete, Size: &size, Blobs: &blobs,
		HashChain: "LV4PrI5mIT9mYkXErCiaIwlu8B8xxyHjH0UKfSKNt2w=", CompletedAt: &done, Writer: "user-1"}
	modify(t, s, b.ID, func(b model.Buffer) model.Buffer { b.DataStatus = seal; return b })
	if _, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: tags("k", "w")}, ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, model.ListQuery{Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("list: %d items, %v", len(page.Items), err)
	}
	for where, d := range map[string]model.DataStatus{"get": got.DataStatus, "list": page.Items[0].DataStatus} {
		if d.Status != seal.Status || *d.Size != size || *d.Blobs != blobs || d.HashChain != seal.HashChain ||
			!d.CompletedAt.Equal(done) || d.Writer != seal.Writer {
			t.Errorf("%s: status %+v, want %+v", where, d, seal)
		}
	}
}
