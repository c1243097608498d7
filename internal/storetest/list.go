package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"spool/handler"
	"spool/internal/model"
)

var listPromises = []promise{
	{"ListIsNewestFirstThenIDDescendingInExactPages", listIsNewestFirstInExactPages},
	{"ListWithLimitZeroOrOfAnEmptyStoreIsEmpty", listEmpty},
	{"TagFiltersAreANDedAndExcludesDropAnyMatchingPair", tagFiltersAreANDed},
	{"ListKeepsPagingPastCandidatesTheFilterRejects", listPagesPastRejects},
	{"CountAgreesWithListWithAndWithoutFilters", countAgreesWithList},
	{"TamperedContinuationIsInvalid", tamperedContinuation},
}

func listIsNewestFirstInExactPages(t *testing.T, s handler.Store) {
	var bufs []model.Buffer
	for i := range 7 {
		bufs = append(bufs, insert(t, s, at(i%4), nil))
	}
	// Same-instant buffers with IDs of different lengths, one a prefix of the other.
	for _, id := range []string{"abc", "abcd", "abb"} {
		bufs = append(bufs, InsertBuffer(t, s, model.Buffer{ID: id, CreatedAt: at(1)}))
	}
	want := IDs(NewestFirst(bufs...))
	for _, limit := range []int{1, 3, 10, 11, 2000} {
		got, pages := ListAll(t, s, model.Filter{}, limit)
		if IDs(got) != want {
			t.Fatalf("limit %d:\n got %s\nwant %s", limit, IDs(got), want)
		}
		if wantPages := max(1, (len(bufs)+limit-1)/limit); pages != wantPages {
			t.Fatalf("limit %d took %d pages, want %d", limit, pages, wantPages)
		}
	}
}

func listEmpty(t *testing.T, s handler.Store) {
	check := func(what string, q model.ListQuery) {
		page, err := s.List(context.Background(), q)
		if err != nil || page.Items == nil || len(page.Items) != 0 || page.Continuation != "" {
			t.Fatalf("%s: got %+v, %v; want an empty, non-nil page", what, page, err)
		}
	}
	check("empty store", model.ListQuery{Limit: 20})
	insert(t, s, base, nil)
	check("limit 0", model.ListQuery{Limit: 0})
}

func tagFiltersAreANDed(t *testing.T, s handler.Store) {
	ab := insert(t, s, at(1), tags("a", "1", "b", "2"))
	a := insert(t, s, at(2), tags("a", "1"))
	abc := insert(t, s, at(3), tags("a", "1", "b", "2", "c", "3"))
	abX := insert(t, s, at(4), tags("a", "1", "b", "other"))
	none := insert(t, s, at(5), nil)
	cases := []struct {
		f    model.Filter
		want []model.Buffer
	}{
		{model.Filter{}, []model.Buffer{none, abX, abc, a, ab}},
		{model.Filter{Tags: tags("a", "1")}, []model.Buffer{abX, abc, a, ab}},
		{model.Filter{Tags: tags("a", "1", "b", "2")}, []model.Buffer{abc, ab}},
		{model.Filter{Tags: tags("a", "1", "b", "2", "c", "3")}, []model.Buffer{abc}},
		{model.Filter{Tags: tags("a", "1", "zzz", "1")}, nil},
		{model.Filter{Tags: tags("a", "2")}, nil},
		{model.Filter{Tags: tags("a", "1"), ExcludeTags: tags("c", "3")}, []model.Buffer{abX, a, ab}},
		{model.Filter{Tags: tags("a", "1"), ExcludeTags: tags("c", "3", "b", "other")}, []model.Buffer{a, ab}},
		{model.Filter{ExcludeTags: tags("a", "1")}, []model.Buffer{none}},
		{model.Filter{ExcludeTags: tags("a", "9", "unknown", "x")}, []model.Buffer{none, abX, abc, a, ab}},
	}
	for _, c := range cases {
		ExpectSelected(t, s, c.f, c.want...)
	}
}

func listPagesPastRejects(t *testing.T, s handler.Store) {
	// 60 buffers share a=1; only every 20th also has b=2, so index pages of
	// candidates mostly fail the full filter.
	var want []model.Buffer
	for i := range 60 {
		tg := tags("a", "1")
		if i%20 == 0 {
			tg["b"] = "2"
		}
		b := insert(t, s, base.Add(time.Duration(i)*time.Millisecond), tg)
		if i%20 == 0 {
			want = append(want, b)
		}
	}
	got, pages := ListAll(t, s, model.Filter{Tags: tags("a", "1", "b", "2")}, 1)
	if IDs(got) != IDs(NewestFirst(want...)) || pages != 3 {
		t.Fatalf("got %s in %d pages, want %s in 3", IDs(got), pages, IDs(NewestFirst(want...)))
	}
	got, _ = ListAll(t, s, model.Filter{Tags: tags("a", "1"), ExcludeTags: tags("b", "2")}, 7)
	if len(got) != 57 {
		t.Fatalf("exclude listed %d, want 57", len(got))
	}
}

func countAgreesWithList(t *testing.T, s handler.Store) {
	byI := map[string][]model.Buffer{}
	var all []model.Buffer
	for i := range 25 {
		b := insert(t, s, at(i), tags("i", fmt.Sprint(i%3)))
		byI[b.Tags["i"]] = append(byI[b.Tags["i"]], b)
		all = append(all, b)
	}
	ExpectSelected(t, s, model.Filter{}, all...)
	ExpectSelected(t, s, model.Filter{Tags: tags("i", "0")}, byI["0"]...)
	ExpectSelected(t, s, model.Filter{ExcludeTags: tags("i", "0")}, append(byI["1"], byI["2"]...)...)
	if len(byI["0"]) != 9 {
		t.Fatalf("set-up: %d buffers with i=0", len(byI["0"]))
	}
}

func tamperedContinuation(t *testing.T, s handler.Store) {
	CheckTamperedContinuations(t, s, func(good string) []string {
		return []string{"garbage!!", "====", "e30", "bm9wZQ", "_ct", good[:len(good)-3], good + "x"}
	})
}

// CheckTamperedContinuations stores three buffers, takes the continuation of a
// one-buffer page, and checks that every token tamper makes of it is refused with
// model.ErrInvalidContinuation, with and without a tag filter.
func CheckTamperedContinuations(t *testing.T, s handler.Store, tamper func(good string) []string) {
	t.Helper()
	for range 3 {
		insert(t, s, base, nil)
	}
	page, err := s.List(context.Background(), model.ListQuery{Limit: 1})
	if err != nil || page.Continuation == "" {
		t.Fatalf("%+v %v", page, err)
	}
	for _, token := range tamper(page.Continuation) {
		for _, f := range []model.Filter{{}, {Tags: tags("a", "b")}} {
			_, err := s.List(context.Background(), model.ListQuery{Filter: f, Limit: 5, Continuation: token})
			if !errors.Is(err, model.ErrInvalidContinuation) {
				t.Fatalf("token %q: %v, want ErrInvalidContinuation", token, err)
			}
		}
	}
}
