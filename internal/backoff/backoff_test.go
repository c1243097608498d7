package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayDoublesUpToTheCap(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for attempt, w := range want {
		if got := p.Delay(attempt); got != w*time.Millisecond {
			t.Errorf("attempt %d: %v, want %v", attempt, got, w*time.Millisecond)
		}
	}
	if got := p.Delay(200); got != time.Second {
		t.Errorf("attempt 200 (shift overflow): %v", got)
	}
	uncapped := Policy{Min: time.Second}
	if got := uncapped.Delay(3); got != 8*time.Second {
		t.Errorf("uncapped attempt 3: %v", got)
	}
	if got := uncapped.Delay(100); got <= 0 {
		t.Errorf("uncapped attempt 100 overflowed to %v", got)
	}
}

func TestJitterStaysWithinHalfToWholeDelay(t *testing.T) {
	p := Policy{Min: time.Second, Max: 8 * time.Second, Jitter: true}
	for attempt := range 6 {
		full := Policy{Min: p.Min, Max: p.Max}.Delay(attempt)
		for range 100 {
			if d := p.Delay(attempt); d < full/2 || d > full {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
}

func TestRetryAfterTakesSecondsWithinTheCap(t *testing.T) {
	cases := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"120", 10 * time.Second, true},
		{"", 0, false},
		{"-1", 0, false},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, false},
	}
	for _, tc := range cases {
		if d, ok := RetryAfter(tc.header, 10*time.Second); d != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.header, d, ok, tc.want, tc.ok)
		}
	}
}

func TestSleepEndsWithTheContextsCause(t *testing.T) {
	cause := errors.New("input failed")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := Sleep(ctx, time.Hour); !errors.Is(err, cause) {
		t.Fatalf("err = %v, want the cause", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
