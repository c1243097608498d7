package handler

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"spool/client"
	"spool/internal/model"
	"spool/internal/reliability"
)

// A ttl of 213504 days used to wrap time.Duration around to minutes; now every
// route refuses it with the real limit, and nothing changes.
func TestATTLPastTheLimitIsRefusedNamingTheLimit(t *testing.T) {
	f := newAPIFixture(t)
	b := f.create(t, map[string]string{"k": "v"})
	for _, path := range []string{
		"/buffers/" + b.ID + "?ttl=213504",
		"/buffers/" + b.ID + "?ttl=36500.00:00:01",
		"/buffers?ttl=213504",
		"/buffers?tag%5Bk%5D=v&ttl=10675199.02:48:05.4775807",
	} {
		r := f.do(t, http.MethodDelete, path, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "at most 36500.00:00:00") {
			t.Errorf("DELETE %s: %d %s", path, r.status, r.body)
		}
	}
	r := f.do(t, http.MethodPost, "/buffers/"+b.ID+"/access?ttl=213504", nil)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "at most 36500.00:00:00") {
		t.Errorf("access: %d %s", r.status, r.body)
	}
	if got, _ := f.store.Get(t.Context(), b.ID); got.ETag != b.ETag || got.IsSoftDeleted {
		t.Errorf("a refused ttl changed the buffer: %+v", got)
	}
	r = f.do(t, http.MethodPost, "/buffers/"+b.ID+"/access?ttl=1.12", nil)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "1.12:00:00") {
		t.Errorf("an ambiguous ttl gets no hint: %d %s", r.status, r.body)
	}
	reliability.Record(t, reliability.Row{
		Area:    "bad input",
		Fault:   "TimeSpan overflow (ttl=213504 days and up) on delete, bulk delete and access",
		Tries:   6,
		Outcome: "each 400 naming the 36500-day limit; the buffer unchanged; an ambiguous 1.12 gets a hint",
	})
}

// The CLI takes exactly the TTLs the server takes, for delete lifetimes and for
// access URLs alike.
func FuzzTTLIsReadAlikeByServerAndCLI(f *testing.F) {
	h, _ := fuzzAPI(f)
	for _, s := range []string{"0", "1", "1.12", "00:30:00", "0.00:00:30", "01:00:00", "213504", "36500", "-1", " 7 ", "1d", "0.00:00:30.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, cliErr := client.ParseTTL(s)
		// A bulk delete whose filter matches nothing reads the ttl and changes nothing.
		rec := serveFuzz(h, http.MethodDelete, "/api/buffers?tag%5Bnone%5D=x&ttl="+url.QueryEscape(s), nil)
		checkAnswer(t, "delete ttl "+s, rec, 200, 400)
		if (rec.Code == http.StatusOK) != (cliErr == nil) {
			t.Fatalf("ttl %q: server %d %s, CLI %v", s, rec.Code, rec.Body, cliErr)
		}
		_, accessErr := model.ParseAccessTTL(s)
		rec = serveFuzz(h, http.MethodPost, "/api/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa/access?ttl="+url.QueryEscape(s), nil)
		checkAnswer(t, "access ttl "+s, rec, 404, 400)
		if (rec.Code == http.StatusNotFound) != (accessErr == nil || strings.TrimSpace(s) == "") {
			t.Fatalf("access ttl %q: server %d %s, CLI %v", s, rec.Code, rec.Body, accessErr)
		}
	})
}
