package model

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxTimeSpan bounds every TimeSpan the API and the CLI accept. A time.Duration
// holds about 106751 days; a round 36500 days (100 years) stays far inside it, and
// now + MaxTimeSpan stays a date that JSON, Table Storage (up to year 9999) and
// every clock here can represent, so no expiry can wrap around.
const MaxTimeSpan = 36500 * 24 * time.Hour

// The .NET TimeSpan forms that Tyger's CLI sends and Tyger's server parses:
// [-]D, or [-][D.]HH:MM[:SS[.fffffff]], with hours 0-23, minutes and seconds 0-59.
var (
	daysOnlyPattern = regexp.MustCompile(`^(-?)(\d{1,8})$`)
	clockPattern    = regexp.MustCompile(`^(-?)(?:(\d{1,8})\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$`)
	// Forms people write that .NET reads differently or not at all.
	dayHoursPattern = regexp.MustCompile(`^\d+\.\d+$`)
	goDuration      = regexp.MustCompile(`^[\d.]+(ns|us|µs|ms|s|m|h|d)([\d.]+(ns|us|µs|ms|s|m|h))*$`)
)

// TimeSpanGrammar is the grammar in words, for messages and help texts.
const TimeSpanGrammar = "D or [D.]HH:MM[:SS[.fffffff]], e.g. 0.00:30:00 for 30 minutes or 7 for a week"

// ParseTimeSpan reads a TimeSpan such as 1.02:03:04.5, 00:30 or 7 (days). It refuses
// negative spans, spans over MaxTimeSpan and ambiguous forms, with a hint.
func ParseTimeSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, negative, err := parseTimeSpanParts(s)
	if err != nil {
		return 0, err
	}
	if negative && d != 0 {
		return 0, fmt.Errorf("the TimeSpan %q is negative; it must be 0 or more", s)
	}
	return d, nil
}

func parseTimeSpanParts(s string) (time.Duration, bool, error) {
	if m := daysOnlyPattern.FindStringSubmatch(s); m != nil {
		d, err := span(s, m[2], "0", "0", "0", "")
		return d, m[1] == "-", err
	}
	if m := clockPattern.FindStringSubmatch(s); m != nil {
		d, err := span(s, m[2], m[3], m[4], m[5], m[6])
		return d, m[1] == "-", err
	}
	switch {
	case s == "":
		return 0, false, fmt.Errorf("the TimeSpan is empty; write %s", TimeSpanGrammar)
	case dayHoursPattern.MatchString(s):
		return 0, false, ambiguousDayHours(s)
	case goDuration.MatchString(s):
		return 0, false, fmt.Errorf("the TimeSpan %q has units; write %s", s, TimeSpanGrammar)
	}
	return 0, false, fmt.Errorf("the TimeSpan %q is not %s", s, TimeSpanGrammar)
}

// ambiguousDayHours refuses D.HH, which Tyger's CLI reads as days and hours and
// .NET does not read at all, suggesting the full form when there is one.
func ambiguousDayHours(s string) error {
	days, hours, _ := strings.Cut(s, ".")
	if h, err := strconv.Atoi(hours); err == nil && h <= 23 && len(hours) <= 2 {
		return fmt.Errorf("the TimeSpan %q is ambiguous: for %s day(s) and %d hour(s) write %s.%02d:00:00", s, days, h, days, h)
	}
	return fmt.Errorf("the TimeSpan %q is ambiguous; write %s", s, TimeSpanGrammar)
}

// span adds up the parts of a TimeSpan, checking each field's range and the total
// against MaxTimeSpan before anything can overflow.
func span(s, days, hours, minutes, seconds, fraction string) (time.Duration, error) {
	num := func(f string) int64 {
		if f == "" {
			return 0
		}
		n, _ := strconv.ParseInt(f, 10, 64) // at most 8 digits: cannot fail
		return n
	}
	d, h, m, sec := num(days), num(hours), num(minutes), num(seconds)
	if h > 23 || m > 59 || sec > 59 {
		return 0, fmt.Errorf("the TimeSpan %q is out of range: hours are 0-23, minutes and seconds 0-59", s)
	}
	if d > int64(MaxTimeSpan/(24*time.Hour)) || (d == int64(MaxTimeSpan/(24*time.Hour)) && h+m+sec+num(fraction) > 0) {
		return 0, fmt.Errorf("the TimeSpan %q is too long: at most %s (100 years), so that now + ttl stays a representable date", s, FormatTimeSpan(MaxTimeSpan))
	}
	total := time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour +
		time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
	if fraction != "" {
		// Seven digits are 100 ns ticks; shorter fractions are padded on the right.
		total += time.Duration(num(fraction+strings.Repeat("0", 7-len(fraction)))) * 100
	}
	return total, nil
}

// FormatTimeSpan writes d the way .NET does ([-][D.]HH:MM:SS[.fffffff]), which
// ParseTimeSpan reads back exactly (to 100 ns).
func FormatTimeSpan(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	out := fmt.Sprintf("%s%02d:%02d:%02d", sign, d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second)
	if days > 0 {
		out = fmt.Sprintf("%s%d.%s", sign, days, out[len(sign):])
	}
	if ticks := d % time.Second / 100; ticks > 0 {
		out += fmt.Sprintf(".%07d", ticks)
	}
	return out
}

// Access URLs live 30 s to 1 h, as in Tyger.
const (
	MinAccessTTL     = 30 * time.Second
	MaxAccessTTL     = time.Hour
	DefaultAccessTTL = time.Hour
)

// ParseAccessTTL reads the ttl of an access request: empty means DefaultAccessTTL,
// and anything outside MinAccessTTL..MaxAccessTTL is refused with Tyger's messages.
func ParseAccessTTL(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultAccessTTL, nil
	}
	ttl, err := ParseTimeSpan(s)
	if err != nil {
		return 0, fmt.Errorf("The ttl %q is not a valid TimeSpan such as 0.00:30:00: %w.", strings.TrimSpace(s), err)
	}
	if ttl < MinAccessTTL {
		return 0, errors.New("Access TTL must be at least 30 seconds.")
	}
	if ttl > MaxAccessTTL {
		return 0, errors.New("Access TTL must be less than or equal to 01:00:00.")
	}
	return ttl, nil
}
