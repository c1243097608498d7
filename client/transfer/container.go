package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"spool/internal/redact"
)

// storageVersion is the Blob REST version Tyger's data plane speaks; pinning it
// keeps our requests on the same semantics as theirs.
const storageVersion = "2021-08-06"

// stallTimeout fails an attempt whose body has not moved for this long.
const stallTimeout = 60 * time.Second

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
	stall  *stallTransport
	logf   func(string, ...any)
	retry  retryPolicy
	outage outage

	// accepted is set once storage took an access URL (answered anything but a
	// refusal of it): after that, a refused URL expired during the transfer.
	accepted atomic.Bool

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
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	stall := &stallTransport{base: base, timeout: stallTimeout}
	watched := *client
	watched.Transport = stall
	c := &containerClient{src: src, client: &watched, stall: stall, logf: logf, retry: defaultRetry}
	c.outage.started = time.Now()
	return c, cleanup
}

// blobURL joins the blob path onto the container URL and keeps the SAS query as is.
func blobURL(base *url.URL, blob string) *url.URL {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + blob
	u.RawPath = ""
	return &u
}

// do sends one blob request, retrying transient faults and renewing an expired
// access URL. Any answer it does not handle itself is returned for the caller to
// interpret; non-2xx bodies are already read and closed.
func (c *containerClient) do(ctx context.Context, method, blob string, body []byte, header http.Header) (*response, error) {
	refreshed, resent := false, false
	for attempt := 0; ; attempt++ {
		base, err := c.accessURL(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(ctx, method, blobURL(base, blob), body, header)
		if err != nil {
			if ctx.Err() == nil {
				err = c.waitAfterTransportError(ctx, attempt, base, err)
			}
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, blob, err)
			}
			resent = true
			continue
		}
		c.outage.over()
		r := newResponse(resp, resent)
		if r.answer == answerOK && method == http.MethodGet {
			c.accepted.Store(true)
			return r, nil
		}
		msg := readErrorMessage(resp)
		switch {
		case r.answer == answerTransient && attempt+1 < c.retry.tries:
			c.logf("retrying %s %s after status %d %s", method, blob, resp.StatusCode, r.code)
			resent = true
			if err := c.retry.sleep(ctx, attempt, resp); err != nil {
				return nil, err
			}
			continue
		case r.answer == answerAccessRefused && refreshed:
			return nil, fmt.Errorf("%s %s: storage refused the renewed access URL (%s: %s): %w",
				method, blob, r.code, msg, ErrAccessURLExpired)
		case r.answer == answerAccessRefused:
			if err := c.refresh(ctx, base); err != nil {
				return nil, err
			}
			refreshed = true
			attempt--
			continue
		}
		c.accepted.Store(true)
		r.Body = io.NopCloser(strings.NewReader(msg))
		return r, nil
	}
}

// send makes one attempt. Its error never holds the SAS signature.
func (c *containerClient) send(ctx context.Context, method string, u *url.URL, body []byte, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, redactError(err, u)
	}
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	req.ContentLength = int64(len(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("x-ms-version", storageVersion)
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(err, errStalled) {
			return nil, errStalled
		}
		return nil, redactError(err, u)
	}
	return resp, nil
}

// redactError strips the request URL's query out of transport errors, which quote
// the URL verbatim.
func redactError(err error, u *url.URL) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redact.URL(u), ue.Err)
	}
	return redact.Error(err)
}
