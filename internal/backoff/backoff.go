// Package backoff computes how long to wait between tries of a request that
// failed transiently, and waits that long unless the context ends first. It is
// shared by the REST client and the blob transfer engine.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Policy is exponential backoff: Min before the first retry, doubling on each
// later one, never more than Max (no cap when Max is 0).
type Policy struct {
	Min time.Duration
	Max time.Duration
	// Jitter spreads each wait over [d/2, d], so many workers that failed
	// together do not retry in lockstep.
	Jitter bool
}

// Delay is the wait before retry number attempt (0 for the first retry).
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Min
	for range attempt {
		if (p.Max > 0 && d >= p.Max) || d > math.MaxInt64/2 {
			break
		}
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	if p.Jitter {
		return d/2 + rand.N(d/2+1)
	}
	return d
}

// RetryAfter reads a Retry-After header given in seconds, capped at most. ok
// is false when the header is absent or not a number of seconds.
func RetryAfter(header string, most time.Duration) (d time.Duration, ok bool) {
	secs, err := strconv.Atoi(strings.TrimSpace(header))
	if err != nil || secs < 0 {
		return 0, false
	}
	return min(time.Duration(secs)*time.Second, most), true
}

// Sleep waits d, or until ctx ends, when it returns the context's cause.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
