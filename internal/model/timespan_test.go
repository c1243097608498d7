package model

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeSpanReadsTheDotNetFormsTygerSends(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0":                      0,
		"-0":                     0,
		"7":                      7 * 24 * time.Hour,
		"00:30":                  30 * time.Minute,
		"1:5":                    time.Hour + 5*time.Minute,
		"0.00:00:30":             30 * time.Second,
		"1.02:03:04":             26*time.Hour + 3*time.Minute + 4*time.Second,
		"0.00:00:30.0000001":     30*time.Second + 100,
		"36500":                  MaxTimeSpan,
		"36500.00:00:00":         MaxTimeSpan,
		"36499.23:59:59.9999999": MaxTimeSpan - 100,
	} {
		if got, err := ParseTimeSpan(in); err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseTimeSpanRefusesOverflowAmbiguityAndNegativesWithAHint(t *testing.T) {
	for in, hint := range map[string]string{
		"213504":              "too long: at most 36500.00:00:00 (100 years), so that now + ttl stays a representable date",
		"106752":              "too long",
		"36501":               "too long",
		"36500.00:00:00.1":    "too long",
		"99999999":            "too long",
		"999999999":           "is not D or",
		"1.12":                "for 1 day(s) and 12 hour(s) write 1.12:00:00",
		"1.5":                 "write 1.05:00:00",
		"1.24":                "ambiguous; write D or",
		"30m":                 "has units",
		"1h30m":               "has units",
		"-00:05:00":           "negative",
		"-1":                  "negative",
		"24:00:00":            "out of range",
		"0.00:60:00":          "out of range",
		"00:00:60":            "out of range",
		"0.00:00:30.12345678": "is not D or",
		"1:2:3:4":             "is not D or",
		"1.":                  "is not D or",
		"":                    "empty",
		"soon":                "is not D or",
	} {
		_, err := ParseTimeSpan(in)
		wantRefusal(t, in, err, hint)
	}
}

// wantRefusal checks that input was refused with a message saying hint.
func wantRefusal(t *testing.T, input string, err error, hint string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), hint) {
		t.Errorf("%q: %v, want a refusal saying %q", input, err, hint)
	}
}

// Every accepted span is bounded, keeps now + span in the future without wrapping,
// and formats back to itself.
func FuzzParseTimeSpan(f *testing.F) {
	for _, s := range []string{"0", "213504", "36500", "1.02:03:04.5", "00:30", "-0", "1.12", "99999999.23:59:59.9999999"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTimeSpan(s)
		if err != nil {
			return
		}
		if d < 0 || d > MaxTimeSpan || now.Add(d).Before(now) {
			t.Fatalf("%q gave %v", s, d)
		}
		again, err := ParseTimeSpan(FormatTimeSpan(d))
		if err != nil || again != d {
			t.Fatalf("%q = %v formats as %q, which reads back as %v, %v", s, d, FormatTimeSpan(d), again, err)
		}
	})
}

func TestAccessTTLKeepsTygersLimitsAndMessages(t *testing.T) {
	for in, want := range map[string]string{
		"0.00:00:29": "Access TTL must be at least 30 seconds.",
		"01:00:01":   "Access TTL must be less than or equal to 01:00:00.",
		"213504":     "too long",
		"1.12":       "ambiguous",
	} {
		_, err := ParseAccessTTL(in)
		wantRefusal(t, in, err, want)
	}
	if d, err := ParseAccessTTL(""); err != nil || d != time.Hour {
		t.Errorf("empty: %v %v, want the 1 h default", d, err)
	}
}
