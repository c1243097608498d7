package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"

	"spool/handler"
	"spool/internal/model"
)

// A sharded store answers a list by merging several ordered index partitions; these
// pin that paging stays exact whatever the layout, also while writers add buffers.
var pagingPromises = []promise{
	{"PagesStayExactAndNewestFirstWhileBuffersAreCreated", pagesStayExactWhileCreating},
}

func pagesStayExactWhileCreating(t *testing.T, s handler.Store) {
	var seeded []model.Buffer
	// Three buffers an instant, so IDs order most neighbours.
	for i := range 24 {
		seeded = append(seeded, insert(t, s, at(i/3), tags("half", strconv.Itoa(i%2))))
	}
	create := func(i int) (model.Buffer, error) {
		// Half newer than every seeded buffer, half among them.
		createdAt := at(100 + i)
		if i%2 == 1 {
			createdAt = at(i % 8)
		}
		b := model.Buffer{ID: NewID(), CreatedAt: createdAt, Location: "local", Tags: tags("half", strconv.Itoa(i%3%2))}
		return s.Insert(t.Context(), b)
	}
	for _, f := range []model.Filter{{}, {Tags: tags("half", "0")}} {
		for _, limit := range []int{1, 4} {
			seeded = append(seeded, PageWhileCreating(t, s, f, limit, seeded, 12, create)...)
		}
	}
}

// PageWhileCreating lists everything f selects, limit buffers a page, while one
// writer calls create n times. The listing must be strictly newest first and hold
// every seeded buffer f selects exactly once, plus at most some of those created
// meanwhile (a buffer created before the page that reaches its place is listed,
// one created behind the pages is not), and nothing else. It returns the buffers
// created.
func PageWhileCreating(t *testing.T, s handler.Store, f model.Filter, limit int, seeded []model.Buffer, n int, create func(i int) (model.Buffer, error)) []model.Buffer {
	t.Helper()
	var mu sync.Mutex
	created := map[string]model.Buffer{}
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := range n {
			b, err := create(i)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			created[b.ID] = b
			mu.Unlock()
		}
	})
	listed, _ := ListAll(t, s, f, limit)
	writer.Wait()
	for i := 1; i < len(listed); i++ {
		if NewestFirst(listed[i-1], listed[i])[0].ID != listed[i-1].ID {
			t.Fatalf("filter %+v, limit %d: %s listed before the newer %s", f, limit, listed[i-1].ID, listed[i].ID)
		}
	}
	isListed := map[string]bool{}
	for _, b := range listed {
		isListed[b.ID] = true
	}
	var missing []string
	for _, b := range seeded {
		if f.Selects(b) && !isListed[b.ID] {
			missing = append(missing, b.ID)
		}
		delete(isListed, b.ID)
	}
	for id := range isListed {
		if b, ok := created[id]; !ok || !f.Selects(b) {
			missing = append(missing, fmt.Sprintf("(unselected %s)", id))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("filter %+v, limit %d: seeded buffers missing or unknown ones listed: %v", f, limit, missing)
	}
	t.Logf("filter %+v, limit %d: %d listed, %d of them created while paging", f, limit, len(listed), len(listed)-len(seededIn(seeded, f)))
	return slices.Collect(maps.Values(created))
}

func seededIn(bufs []model.Buffer, f model.Filter) []model.Buffer {
	var out []model.Buffer
	for _, b := range bufs {
		if f.Selects(b) {
			out = append(out, b)
		}
	}
	return out
}
