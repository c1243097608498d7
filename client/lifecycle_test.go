package client

import (
	"testing"
	"time"
)

func TestParseTTLTakesTheServersTimeSpanGrammar(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0":            0,
		"3":            72 * time.Hour,
		"0.00:30":      30 * time.Minute,
		"00:30:00":     30 * time.Minute,
		"2.12:30:30":   60*time.Hour + 30*time.Minute + 30*time.Second,
		"10.23:59:59":  10*24*time.Hour + 23*time.Hour + 59*time.Minute + 59*time.Second,
		"1.00:00:00.5": 24*time.Hour + 500*time.Millisecond,
		" 36500 ":      36500 * 24 * time.Hour,
	} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// The grammar's messages are pinned in internal/model; here, that the CLI
	// refuses what the server refuses, overflow and Tyger's D.HH shorthand included.
	for _, in := range []string{"", "-1", "1.2", " 1.02 ", "1.24", "0.00:60", "0.00:00:60", "1d", "213504", "36500.00:00:01", "99999999999999999999"} {
		if _, err := ParseTTL(in); err == nil {
			t.Errorf("ParseTTL(%q) accepted", in)
		}
	}
}
