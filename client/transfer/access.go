package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

const (
	// firstRenewalWait bounds the renewal of a transfer's first URL when storage
	// refused it and its own expiry says it was dead already: a source that can
	// renew it does so at once, and one that waits for someone else to (a URL
	// file) would otherwise keep the transfer silent for minutes.
	firstRenewalWait = 10 * time.Second
	// renewalNoteDelay is how long a renewal may take before the engine says what
	// it is waiting for.
	renewalNoteDelay = 2 * time.Second
)

var errNotRenewed = errors.New("nothing renewed it")

func (c *containerClient) accessURL(ctx context.Context) (*url.URL, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refreshErr != nil {
		return nil, c.refreshErr
	}
	if c.current == nil {
		u, err := c.src.URL(ctx)
		if err != nil {
			return nil, fmt.Errorf("getting the access URL: %w", err)
		}
		c.current = u
	}
	return c.current, nil
}

// refresh replaces stale with a new URL unless another request already did.
func (c *containerClient) refresh(ctx context.Context, stale *url.URL) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refreshErr != nil {
		return c.refreshErr
	}
	if c.current != stale {
		return nil
	}
	expiry, expired := sasExpiry(stale)
	renewCtx, cancel := ctx, context.CancelFunc(func() {})
	if expired && !c.accepted.Load() {
		renewCtx, cancel = context.WithTimeoutCause(ctx, firstRenewalWait, errNotRenewed)
	}
	defer cancel()
	note := time.AfterFunc(renewalNoteDelay, func() {
		c.logf("storage refused the access URL%s; waiting for a renewed one…", expiryText(expiry, expired))
	})
	fresh, err := c.src.Refresh(renewCtx, stale)
	note.Stop()
	switch {
	case err != nil && ctx.Err() != nil:
		return context.Cause(ctx)
	case err != nil && expired:
		c.refreshErr = fmt.Errorf("the access URL expired at %s and was not renewed: %w", expiry.Format(time.RFC3339), notRenewed(err))
	case err != nil:
		c.refreshErr = fmt.Errorf("renewing the access URL: %w", err)
	default:
		c.current = fresh
		return nil
	}
	return c.refreshErr
}

// notRenewed makes a renewal cut short by firstRenewalWait an expired-URL error.
func notRenewed(err error) error {
	if errors.Is(err, errNotRenewed) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%s within %s)", ErrAccessURLExpired, errNotRenewed, firstRenewalWait)
	}
	return err
}

// sasExpiry reads the expiry (se) a SAS URL carries; expired reports whether it
// has passed.
func sasExpiry(u *url.URL) (at time.Time, expired bool) {
	for k, vs := range u.Query() {
		if strings.EqualFold(k, "se") && len(vs) > 0 {
			t, err := time.Parse(time.RFC3339, vs[0])
			if err != nil {
				return time.Time{}, false
			}
			return t.UTC(), time.Now().After(t)
		}
	}
	return time.Time{}, false
}

func expiryText(at time.Time, expired bool) string {
	if !expired {
		return ""
	}
	return " (it expired at " + at.Format(time.RFC3339) + ")"
}

// staticURL is an access URL given literally, which nobody can renew.
type staticURL struct{ u *url.URL }

// StaticURL is an AccessSource for a literal access URL; when storage refuses it,
// Refresh fails with an error wrapping ErrAccessURLExpired.
func StaticURL(u *url.URL) AccessSource { return staticURL{u: u} }

func (s staticURL) URL(context.Context) (*url.URL, error) { return s.u, nil }

func (s staticURL) Refresh(context.Context, *url.URL) (*url.URL, error) {
	return nil, fmt.Errorf("%w (a URL given literally cannot be renewed)", ErrAccessURLExpired)
}
