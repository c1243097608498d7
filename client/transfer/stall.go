package transfer

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

var errStalled = errors.New("the connection stalled: no data moved for too long")

// stallTransport fails a request whose body, sent or received, has not moved for
// timeout, so a connection that went quiet is retried instead of hanging the
// transfer; the transport's own timeouts cover only the wait for response headers.
type stallTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (s *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	watch := newStallWatch(s.timeout, cancel)
	req = req.WithContext(ctx)
	if req.Body != nil {
		req.Body = &watchedReader{r: req.Body, watch: watch}
		if getBody := req.GetBody; getBody != nil {
			req.GetBody = func() (io.ReadCloser, error) {
				b, err := getBody()
				if err != nil {
					return nil, err
				}
				return &watchedReader{r: b, watch: watch}, nil
			}
		}
	}
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		watch.stop()
		if watch.stalled.Load() {
			return nil, errStalled
		}
		return nil, err
	}
	resp.Body = &watchedReader{r: resp.Body, watch: watch, endsAttempt: true}
	return resp, nil
}

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
	r     io.ReadCloser
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
	if b.endsAttempt {
		b.watch.stop()
	}
	return b.r.Close()
}
