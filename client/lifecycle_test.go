package client

import (
	"strings"
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
	for in, hint := range map[string]string{
		"":                     "empty",
		"-1":                   "negative",
		"1.2":                  "1.2:00:00",
		" 1.02 ":               "1.02:00:00",
		"1.24":                 "ambiguous",
		"0.00:60":              "out of range",
		"0.00:00:60":           "out of range",
		"1d":                   "units",
		"213504":               "at most 36500.00:00:00",
		"36500.00:00:01":       "at most 36500.00:00:00",
		"99999999999999999999": "is not",
	} {
		if _, err := ParseTTL(in); err == nil || !strings.Contains(err.Error(), hint) {
			t.Errorf("ParseTTL(%q): %v, want a refusal saying %q", in, err, hint)
		}
	}
}
