package handler

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spool/internal/model"
	"spool/internal/reliability"
)

func TestConcurrentPutsWithTheSameIfMatchHaveExactlyOneWinner(t *testing.T) {
	f, _ := liveOverPlainAzurite(t)
	const writers = 50
	n := rounds(1, 10)
	counts := map[int]int{}
	for round := range n {
		b := f.create(t, map[string]string{"writer": "none"})
		answers := make([]answer, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				<-start
				answers[i] = f.try(http.MethodPut, "/buffers/"+b.ID,
					tagsJSON(map[string]string{"writer": fmt.Sprint(i), "round": fmt.Sprint(round)}), "If-Match", b.ETag)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, a := range answers {
			counts[a.status]++
			switch a.status {
			case http.StatusOK:
				if winner >= 0 {
					t.Errorf("round %d: writers %d and %d both won", round, winner, i)
				}
				winner = i
			case http.StatusPreconditionFailed:
				if code, err := a.jsonError(); err != nil || code != codePreconditionFailed {
					t.Errorf("writer %d: 412 without the JSON error: %v", i, err)
				}
			default:
				t.Errorf("writer %d: %v", i, a)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won", round)
		}
		won, _ := answers[winner].buffer()
		got := f.do(t, http.MethodGet, "/buffers/"+b.ID, nil)
		final := decode[model.Buffer](t, got)
		want := map[string]string{"writer": fmt.Sprint(winner), "round": fmt.Sprint(round)}
		if !maps.Equal(final.Tags, want) || final.ETag != won.ETag {
			t.Errorf("round %d: final %+v, want the winner's tags %v and etag %s", round, final, want, won.ETag)
		}
		// The indexes agree with the record: listed under the winner's tag only.
		for i := range writers {
			ids := listIDs(t, f, fmt.Sprintf("/buffers?tag[writer]=%d&tag[round]=%d", i, round))
			if listed := slices.Contains(ids, b.ID); listed != (i == winner) {
				t.Errorf("round %d: listed under writer=%d: %v (winner %d)", round, i, listed, winner)
			}
		}
		if ids := listIDs(t, f, "/buffers?tag[writer]=none"); slices.Contains(ids, b.ID) {
			t.Errorf("round %d: still listed under its old tag", round)
		}
	}
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   fmt.Sprintf("%d concurrent PUT /buffers/{id} with the same If-Match (real handler, tablestore, Azurite)", writers),
		Tries:   n * writers,
		Outcome: statusCounts(counts) + "; exactly one 200 per round, final tags and ETag are the winner's, lists agree",
	})
}

func TestConcurrentCreatesGetUniqueIDsAndAreAllListed(t *testing.T) {
	f, _ := liveOverPlainAzurite(t)
	creators := rounds(50, 200)
	batch := fmt.Sprintf("b%d", time.Now().UnixNano())
	answers := make([]answer, creators)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range creators {
		wg.Go(func() {
			<-start
			answers[i] = f.try(http.MethodPost, "/buffers", tagsJSON(map[string]string{"batch": batch, "n": fmt.Sprint(i)}))
		})
	}
	close(start)
	wg.Wait()
	ids := map[string]int{}
	for i, a := range answers {
		b, err := a.buffer()
		if a.status != http.StatusCreated || err != nil || !validID(b.ID) {
			t.Fatalf("create %d: %v", i, a)
		}
		if prev, dup := ids[b.ID]; dup {
			t.Fatalf("creates %d and %d got the same ID %s", prev, i, b.ID)
		}
		ids[b.ID] = i
	}
	listed := listIDs(t, f, "/buffers?tag[batch]="+batch+"&limit=7")
	if len(listed) != creators {
		t.Errorf("listed %d of %d", len(listed), creators)
	}
	for _, id := range listed {
		if _, ok := ids[id]; !ok {
			t.Errorf("listed %s, which no create returned", id)
		}
	}
	if r := f.do(t, http.MethodGet, "/buffers/count?tag[batch]="+batch, nil); string(r.body) != fmt.Sprint(creators) {
		t.Errorf("count: %s, want %d", r.body, creators)
	}
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "concurrent POST /buffers (creates)",
		Tries:   creators,
		Outcome: fmt.Sprintf("%d×201, %d unique IDs, all listed (paged by 7) and counted", creators, len(ids)),
	})
}

// TestListsRacingTagChangesNeverShowAStaleTag pins the index rule: once a PUT has
// returned, no list shows the buffer under a tag it no longer has, nor leaves it out
// of one it has. Writers flip a colour tag back and forth while listers list both
// colours; a list that ran while no PUT of a buffer was in flight must be exact for it.
func TestListsRacingTagChangesNeverShowAStaleTag(t *testing.T) {
	f, _ := liveOverPlainAzurite(t)
	const buffers, listers = 3, 4
	flips := rounds(15, 150)
	colorKey := fmt.Sprintf("c%d", time.Now().UnixNano())
	type tracked struct {
		id                 string
		started, completed atomic.Int64
		color              atomic.Value // the colour its last returned PUT set
	}
	bufs := make([]*tracked, buffers)
	for i := range bufs {
		b := f.create(t, map[string]string{colorKey: "red"})
		bufs[i] = &tracked{id: b.ID}
		bufs[i].color.Store("red")
	}
	var writersDone atomic.Bool
	var errs sync.Map
	var lists, exact, wrong atomic.Int64
	var wg sync.WaitGroup
	var writers sync.WaitGroup
	for _, b := range bufs {
		writers.Go(func() {
			for i := range flips {
				next := []string{"blue", "red"}[i%2]
				b.started.Add(1)
				a := f.try(http.MethodPut, "/buffers/"+b.id, tagsJSON(map[string]string{colorKey: next}))
				if a.status != http.StatusOK {
					errs.Store("put "+b.id, a.String())
					return
				}
				b.color.Store(next)
				b.completed.Add(1)
				time.Sleep(15 * time.Millisecond) // quiet windows for the listers
			}
		})
	}
	for l := range listers {
		wg.Go(func() {
			color := []string{"red", "blue"}[l%2]
			for !writersDone.Load() {
				type snap struct{ started, completed int64 }
				before := make([]snap, buffers)
				want := make([]string, buffers)
				for i, b := range bufs {
					before[i] = snap{b.started.Load(), b.completed.Load()}
					want[i] = b.color.Load().(string)
				}
				a := f.try(http.MethodGet, "/buffers?tag["+colorKey+"]="+color, "")
				var list model.BufferList
				if a.status != http.StatusOK || json.Unmarshal(a.body, &list) != nil {
					errs.Store(fmt.Sprintf("list %d", l), a.String())
					return
				}
				lists.Add(1)
				for _, item := range list.Items {
					if item.Tags[colorKey] != color {
						wrong.Add(1)
						errs.Store("item "+item.ID, fmt.Sprintf("listed under %s with tags %v", color, item.Tags))
					}
				}
				for i, b := range bufs {
					quiet := before[i].started == before[i].completed &&
						b.started.Load() == before[i].started && b.completed.Load() == before[i].completed
					if !quiet {
						continue
					}
					exact.Add(1)
					listed := slices.ContainsFunc(list.Items, func(x model.Buffer) bool { return x.ID == b.id })
					if listed != (want[i] == color) {
						wrong.Add(1)
						errs.Store(fmt.Sprintf("stale %s %d", b.id, lists.Load()),
							fmt.Sprintf("buffer %s has %s=%s but a list of %s %s it", b.id, colorKey, want[i], color,
								map[bool]string{true: "showed", false: "left out"}[listed]))
					}
				}
			}
		})
	}
	writers.Wait()
	writersDone.Store(true)
	wg.Wait()
	errs.Range(func(k, v any) bool {
		t.Errorf("%v: %v", k, v)
		return true
	})
	if exact.Load() == 0 {
		t.Error("no list ran in a quiet window; the test proved nothing")
	}
	reliability.Record(t, reliability.Row{
		Area:  "control plane",
		Fault: "tag changes (PUT) racing with tag-filtered lists",
		Tries: int(lists.Load()),
		Outcome: fmt.Sprintf("%d lists during %d PUTs; %d buffer checks in quiet windows, %d stale or missing",
			lists.Load(), buffers*flips, exact.Load(), wrong.Load()),
	})
}
