package transfer

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// storageVersion is the Blob REST version Tyger's data plane speaks; pinning it
// keeps our requests on the same semantics as theirs.
const storageVersion = "2021-08-06"

// retryPolicy bounds how long one request keeps trying through transient faults
// (connection errors, 429, 5xx other than 501).
type retryPolicy struct {
	tries   int
	minWait time.Duration
	maxWait time.Duration
	// stall fails an attempt whose body has not moved for this long, so a
	// connection that went quiet is retried instead of hanging the transfer; the
	// transport's own timeouts cover only the wait for response headers.
	stall time.Duration
}

// About two minutes of backoff: a throttled or briefly unavailable account
// recovers within that, and a longer wait is better reported than hidden.
var defaultRetry = retryPolicy{tries: 10, minWait: 500 * time.Millisecond, maxWait: 30 * time.Second, stall: 60 * time.Second}

func (p retryPolicy) wait(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if s := resp.Header.Get("Retry-After"); s != "" {
			if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
				return min(time.Duration(secs)*time.Second, p.maxWait)
			}
		}
	}
	d := p.minWait << attempt
	if d <= 0 || d > p.maxWait {
		d = p.maxWait
	}
	// Jitter keeps dop workers that failed together from retrying in lockstep.
	return d/2 + rand.N(d/2+1)
}

// containerClient sends blob requests for one buffer. It owns the current access URL and
// renews it through the AccessSource when storage calls it stale.
//
// A small loop is used for retries rather than go-retryablehttp: that library
// buffers a bytes.Reader body into a fresh copy, which would double the memory and
// copying for every 4 MiB block, and the engine needs its own decisions (refresh,
// MD5 mismatch, overwrite detection) inside the same loop anyway.
type containerClient struct {
	src    AccessSource
	client *http.Client
	logf   func(string, ...any)
	retry  retryPolicy

	mu         sync.Mutex
	current    *url.URL
	refreshErr error // sticky: once renewal fails every later request fails the same way
}

func newContainer(src AccessSource, client *http.Client, logf func(string, ...any)) (*containerClient, func()) {
	cleanup := func() {}
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 1000
		t.MaxIdleConnsPerHost = 1000
		t.ResponseHeaderTimeout = 60 * time.Second
		// Blob bodies must arrive as stored: MD5s are over the raw bytes.
		t.DisableCompression = true
		client = &http.Client{Transport: t}
		cleanup = t.CloseIdleConnections
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &containerClient{src: src, client: client, logf: logf, retry: defaultRetry}, cleanup
}

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
	fresh, err := c.src.Refresh(ctx, stale)
	if err != nil {
		c.refreshErr = fmt.Errorf("renewing the access URL: %w", err)
		return c.refreshErr
	}
	c.current = fresh
	return nil
}

// blobURL joins the blob path onto the container URL and keeps the SAS query as is.
func blobURL(base *url.URL, blob string) *url.URL {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + blob
	u.RawPath = ""
	return &u
}

// response is a finished storage answer with its error code pulled out; the body
// is open only for a 200 GET.
type response struct {
	*http.Response
	code string // x-ms-error-code
	// resent is set when an earlier try of this request may have reached storage
	// (it failed in transit or with a 5xx), so a PUT may have landed before.
	resent bool
}

// do sends one blob request, retrying transient faults and renewing an expired
// access URL. Any status it does not handle itself is returned for the caller to
// interpret; non-2xx bodies are already read and closed.
func (c *containerClient) do(ctx context.Context, method, blob string, body []byte, header http.Header) (*response, error) {
	refreshed, resent := false, false
	for attempt := 0; ; attempt++ {
		base, err := c.accessURL(ctx)
		if err != nil {
			return nil, err
		}
		u := blobURL(base, blob)
		attemptCtx, cancelAttempt := context.WithCancel(ctx)
		watch := newStallWatch(c.retry.stall, cancelAttempt)
		req, err := http.NewRequestWithContext(attemptCtx, method, u.String(), nil)
		if err != nil {
			watch.stop()
			return nil, fmt.Errorf("%s %s: %w", method, blob, redactError(err, u))
		}
		if len(body) > 0 {
			req.Body = &watchedReader{r: bytes.NewReader(body), watch: watch}
			req.GetBody = func() (io.ReadCloser, error) {
				return &watchedReader{r: bytes.NewReader(body), watch: watch}, nil
			}
		}
		req.ContentLength = int64(len(body))
		for k, vs := range header {
			req.Header[k] = vs
		}
		req.Header.Set("x-ms-version", storageVersion)
		req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))

		resp, err := c.client.Do(req)
		if err != nil {
			watch.stop()
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			if watch.stalled.Load() {
				err = errStalled
			}
			err = redactError(err, u)
			if !retryableTransportError(err) || attempt+1 >= c.retry.tries {
				return nil, fmt.Errorf("%s %s: %w", method, blob, err)
			}
			c.logf("retrying %s %s after: %v", method, blob, err)
			resent = true
			if err := sleep(ctx, c.retry.wait(attempt, nil)); err != nil {
				return nil, err
			}
			continue
		}
		r := &response{Response: resp, code: resp.Header.Get("x-ms-error-code"), resent: resent}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 && method == http.MethodGet {
			resp.Body = &watchedReader{r: resp.Body, watch: watch, endsAttempt: true}
			return r, nil
		}
		msg := readErrorMessage(resp)
		watch.stop()
		if retryableStatus(resp.StatusCode) && attempt+1 < c.retry.tries {
			c.logf("retrying %s %s after status %d %s", method, blob, resp.StatusCode, r.code)
			resent = true
			if err := sleep(ctx, c.retry.wait(attempt, resp)); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode == http.StatusForbidden && (r.code == "AuthenticationFailed" || r.code == "AuthorizationFailure") {
			if refreshed {
				return nil, fmt.Errorf("%s %s: storage refused the renewed access URL (%s: %s): %w",
					method, blob, r.code, msg, ErrAccessURLExpired)
			}
			if err := c.refresh(ctx, base); err != nil {
				return nil, err
			}
			refreshed = true
			attempt--
			continue
		}
		r.Body = io.NopCloser(strings.NewReader(msg))
		return r, nil
	}
}

var errStalled = errors.New("the connection stalled: no data moved for too long")

// stallWatch cancels one request attempt when its body stops moving.
type stallWatch struct {
	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelFunc
	stalled atomic.Bool
}

func newStallWatch(timeout time.Duration, cancel context.CancelFunc) *stallWatch {
	w := &stallWatch{timeout: timeout, cancel: cancel}
	w.timer = time.AfterFunc(timeout, func() {
		w.stalled.Store(true)
		cancel()
	})
	return w
}

func (w *stallWatch) progress() { w.timer.Reset(w.timeout) }

func (w *stallWatch) stop() {
	w.timer.Stop()
	w.cancel()
}

// watchedReader is a request or response body that keeps its stallWatch fed.
type watchedReader struct {
	r     io.Reader
	watch *stallWatch
	// endsAttempt is set on a response body: closing it ends the attempt. The
	// transport closes a request body as soon as it is sent, long before the
	// response, so that must not end anything.
	endsAttempt bool
}

func (b *watchedReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.watch.progress()
	}
	if err != nil && err != io.EOF && b.watch.stalled.Load() {
		err = errStalled
	}
	return n, err
}

func (b *watchedReader) Close() error {
	if !b.endsAttempt {
		return nil
	}
	b.watch.stop()
	return b.r.(io.Closer).Close()
}

// readErrorMessage drains and closes a non-GET or error body, keeping the storage
// error's <Message> so failures can say more than a status code.
func readErrorMessage(resp *http.Response) string {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	var e struct {
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(data, &e) != nil {
		return ""
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(e.Message), "\n")
	return strings.TrimSpace(msg)
}

func (r *response) statusError() error {
	msg, _ := io.ReadAll(r.Body)
	return &statusError{status: r.StatusCode, code: r.code, message: string(msg)}
}

func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || (status >= 500 && status != http.StatusNotImplemented)
}

func retryableTransportError(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var invalidCert x509.CertificateInvalidError
	var hostname x509.HostnameError
	return !errors.As(err, &unknownAuthority) && !errors.As(err, &invalidCert) && !errors.As(err, &hostname)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
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
