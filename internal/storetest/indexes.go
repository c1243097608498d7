package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/model"
)

// The table store answers lists from index entries that copy the records; these
// check that no write leaves a list that disagrees with the records.
var indexPromises = []promise{
	{"TagFiltersFollowEveryUpdateSoftDeleteAndRestoreImmediately", tagFiltersFollowUpdates},
	{"ListsMatchTheRecordsAfterRacingWriters", listsMatchRecordsAfterRaces},
}

// tagFiltersFollowUpdates moves one buffer between tag values, soft-deletes and
// restores it, and checks after each step that the tag filters find exactly it.
func tagFiltersFollowUpdates(t *testing.T, s handler.Store) {
	ctx := context.Background()
	b := insert(t, s, base, tags("color", "red"))
	other := insert(t, s, at(1), tags("color", "green"))
	red, blue := model.Filter{Tags: tags("color", "red")}, model.Filter{Tags: tags("color", "blue")}
	for _, color := range []string{"blue", "red", "blue", "red"} {
		got, err := s.Update(ctx, b.ID, model.BufferUpdate{Tags: tags("color", color)}, "")
		if err != nil {
			t.Fatal(err)
		}
		on, off := red, blue
		if color == "blue" {
			on, off = blue, red
		}
		ExpectSelected(t, s, on, got)
		ExpectSelected(t, s, off)
		ExpectSelected(t, s, model.Filter{ExcludeTags: tags("color", color)}, other)
	}
	deleted := softDelete(t, s, b, base.Add(time.Hour))
	ExpectSelected(t, s, red)
	ExpectSelected(t, s, model.Filter{Tags: tags("color", "red"), SoftDeleted: true}, deleted)
	restored := modify(t, s, b.ID, func(b model.Buffer) model.Buffer { b.IsSoftDeleted = false; return b })
	ExpectSelected(t, s, red, restored)
	ExpectSelected(t, s, model.Filter{SoftDeleted: true})
}

func listsMatchRecordsAfterRaces(t *testing.T, s handler.Store) {
	const buffers, writers, rounds = 4, 4, 10
	colors := []string{"red", "blue", "green"}
	bufs := make([]model.Buffer, buffers)
	for i := range bufs {
		bufs[i] = insert(t, s, at(i), tags("color", "red"))
	}
	var wg sync.WaitGroup
	for i, w := 0, 0; i < buffers*writers; i, w = i+1, (w+1)%writers {
		wg.Go(func() {
			for r := range rounds {
				tg := tags("color", colors[(r+w)%len(colors)], "writer", strconv.Itoa(w))
				if _, err := s.Update(context.Background(), bufs[i%buffers].ID, model.BufferUpdate{Tags: tg}, ""); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	records := map[string]model.Buffer{}
	byColor := map[string][]model.Buffer{}
	for _, b := range bufs {
		r, err := s.Get(context.Background(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		records[b.ID] = r
		byColor[r.Tags["color"]] = append(byColor[r.Tags["color"]], r)
	}
	for _, f := range []model.Filter{{}, {Tags: tags("color", "red")}, {Tags: tags("color", "blue")}, {Tags: tags("color", "green")}} {
		want := bufs
		if c := f.Tags["color"]; c != "" {
			want = byColor[c]
		}
		ExpectSelected(t, s, f, want...)
		got, _ := ListAll(t, s, f, 10)
		for _, b := range got {
			if r := records[b.ID]; b.ETag != r.ETag || fmt.Sprint(b.Tags) != fmt.Sprint(r.Tags) {
				t.Fatalf("filter %+v lists %+v, the record is %+v", f, b, r)
			}
		}
	}
}
