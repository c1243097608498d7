package client

import (
	"testing"
	"time"
)

func TestParseTTLTakesTygersGrammarOnly(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0":           0,
		"3":           72 * time.Hour,
		" 1.02 ":      26 * time.Hour,
		"0.00:30":     30 * time.Minute,
		"2.12:30:30":  60*time.Hour + 30*time.Minute + 30*time.Second,
		"10.23:59:59": 10*24*time.Hour + 23*time.Hour + 59*time.Minute + 59*time.Second,
	} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.2", "1.24", "0.00:60", "0.00:00:60", "1.00:00:00.5", "1d", "00:30:00", "99999999999999999999"} {
		if _, err := ParseTTL(in); err == nil {
			t.Errorf("ParseTTL(%q) accepted", in)
		}
	}
}
