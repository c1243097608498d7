package transfer

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"spool/internal/backoff"
)

// retryPolicy bounds how long one request keeps trying through transient faults
// (connection errors, 429, 5xx other than 501).
type retryPolicy struct {
	tries   int
	backoff backoff.Policy
	// unanswered bounds the wait for a blob service that has not answered once
	// in this transfer: a wrong or dead endpoint, better reported in seconds. Once
	// it has answered, an outage gets the whole policy (storage restarting).
	unanswered time.Duration
}

// About two minutes of backoff: a throttled or briefly unavailable account
// recovers within that, and a longer wait is better reported than hidden.
var defaultRetry = retryPolicy{
	tries:      10,
	backoff:    backoff.Policy{Min: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: true},
	unanswered: 10 * time.Second,
}

// sleep waits before retry attempt+1 of a request storage answered with resp.
func (p retryPolicy) sleep(ctx context.Context, attempt int, resp *http.Response) error {
	d, ok := backoff.RetryAfter(resp.Header.Get("Retry-After"), p.backoff.Max)
	if !ok {
		d = p.backoff.Delay(attempt)
	}
	return backoff.Sleep(ctx, d)
}

// waitAfterTransportError waits before trying again a request that got no
// answer, or returns why it should not be tried again.
func (c *containerClient) waitAfterTransportError(ctx context.Context, attempt int, base *url.URL, err error) error {
	if !retryableTransportError(err) || attempt+1 >= c.retry.tries {
		return err
	}
	wait := c.retry.backoff.Delay(attempt)
	left, answered := c.outage.begin(c.logf, base, err, c.retry.unanswered)
	if !answered {
		if left <= 0 {
			return fmt.Errorf("the blob service at %s did not answer for %s: %w", base.Host, c.retry.unanswered, err)
		}
		wait = min(wait, left)
	}
	return backoff.Sleep(ctx, wait)
}

// outage tracks a stretch of requests that got no answer, so a person is told
// once what the transfer waits for rather than once per request.
type outage struct {
	mu       sync.Mutex
	started  time.Time // when the transfer began
	answered bool      // the blob service has answered at least once
	down     bool
}

// begin records a failed request. It returns whether storage has ever answered
// and, if not, how long the transfer may still wait for it.
func (o *outage) begin(logf func(string, ...any), base *url.URL, err error, unanswered time.Duration) (left time.Duration, answered bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down {
		o.down = true
		logf("waiting for the blob service at %s (%s), retrying…", base.Host, transportCause(err))
	}
	return unanswered - time.Since(o.started), o.answered
}

// over records an answer: any outage is over.
func (o *outage) over() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answered = true
	o.down = false
}
