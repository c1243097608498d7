package model

import (
	"testing"
	"time"
)

func TestParseStatusTakesExactlyTheFourStates(t *testing.T) {
	for _, s := range []string{"empty", "writing", "complete", "failed"} {
		if got, err := ParseStatus(s); err != nil || got != s {
			t.Errorf("%q: %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Complete", "COMPLETE", "done", "complete,failed", " complete"} {
		if _, err := ParseStatus(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestMarkersGiveTheStatusTygerAndSpoolWritersLeave(t *testing.T) {
	ended := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		markers Markers
		want    string
		sealed  bool
	}{
		{"nothing", Markers{}, StatusEmpty, false},
		{"start only", Markers{Started: true}, StatusWriting, false},
		{"Tyger complete", Markers{Started: true, End: []byte(`{"status":"complete"}`), EndedAt: ended}, StatusComplete, false},
		{"Tyger failed", Markers{Started: true, End: []byte(`{"status":"failed"}`), EndedAt: ended}, StatusFailed, false},
		{"an unknown status counts as complete", Markers{Started: true, End: []byte(`{"status":"odd"}`), EndedAt: ended}, StatusComplete, false},
		{"spool seal", Markers{Started: true, End: []byte(`{"status":"complete","size":5,"blobs":1,"hashChain":"x"}`), EndedAt: ended}, StatusComplete, true},
	}
	for _, c := range cases {
		d, err := c.markers.Status()
		if err != nil || d.Status != c.want || (d.Size != nil) != c.sealed || (c.markers.End != nil) != (d.CompletedAt != nil) {
			t.Errorf("%s: %+v, %v", c.name, d, err)
		}
	}
	if _, err := (Markers{End: []byte(`{"status":"complete","size":-1}`)}).Status(); err == nil {
		t.Error("a negative size was accepted")
	}
	if _, err := (Markers{End: []byte(`not json`)}).Status(); err == nil {
		t.Error("a broken end marker was accepted")
	}
}
