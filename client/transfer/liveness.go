package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"spool/internal/backoff"
)

// ErrWriterStopped is what a reader reports when it has waited its idle timeout
// for a writer that left neither new data nor a sign of life meanwhile.
var ErrWriterStopped = errors.New("the writer stopped")

// heartbeatProbesPerTick bounds the heartbeat blobs a watch looks at per tick.
const heartbeatProbesPerTick = 100

// liveness tracks when a reader last saw its writer alive. Only time spent
// waiting for the writer counts as idle: while no download waits for a blob that
// does not exist yet (the output is slow, say), the writer owes nothing.
type liveness struct {
	timeout time.Duration
	always  bool         // also for writers that declare no heartbeat
	last    atomic.Int64 // time of the last sign of life, in Unix nanoseconds
	waiters atomic.Int64 // downloads waiting for a blob that is not there yet
}

func newLiveness(timeout time.Duration, always bool) *liveness {
	if timeout <= 0 {
		return nil
	}
	l := &liveness{timeout: timeout, always: always}
	l.alive()
	return l
}

func (l *liveness) alive() {
	if l != nil {
		l.last.Store(time.Now().UnixNano())
	}
}

// waiting registers a download waiting for the writer; done ends the wait.
func (l *liveness) waiting() (done func()) {
	if l == nil {
		return func() {}
	}
	l.waiters.Add(1)
	return func() { l.waiters.Add(-1) }
}

func (l *liveness) tick() time.Duration {
	return max(10*time.Millisecond, min(l.timeout/4, time.Second))
}

// watchWriter ends the read with ErrWriterStopped once the writer has been idle
// too long: for a writer that declares heartbeats, the longer of the idle
// timeout and two of its intervals; for one that declares none, the idle timeout
// only when the caller asked for it explicitly (always), since such a writer
// shows no life while its input is idle.
func (rd *reader) watchWriter(ctx context.Context) error {
	l := rd.life
	if l == nil {
		return nil
	}
	next := int64(-1) // the next heartbeat to look for; -1 until the latest is found
	for {
		if err := backoff.Sleep(ctx, l.tick()); err != nil {
			return nil
		}
		if rd.seal.Load() != nil {
			return nil // the writer ended: nothing more to wait for
		}
		interval := time.Duration(rd.heartbeat.Load())
		if interval > 0 {
			found, err := rd.probeHeartbeats(ctx, &next)
			if err != nil {
				return err
			}
			if found {
				l.alive()
			}
		}
		if (interval == 0 && !l.always) || l.waiters.Load() == 0 {
			l.alive()
			continue
		}
		limit := max(l.timeout, 2*interval)
		if idle := time.Since(time.Unix(0, l.last.Load())); idle > limit {
			return fmt.Errorf("%w: no new data and no sign of life from it for %s", ErrWriterStopped, limit.Round(time.Millisecond))
		}
	}
}

// probeHeartbeats reports whether heartbeats newer than *next appeared, moving
// *next past them. The first call only finds where the heartbeats are: those
// already there say nothing about the writer now.
func (rd *reader) probeHeartbeats(ctx context.Context, next *int64) (bool, error) {
	if *next < 0 {
		n, err := countHeartbeats(ctx, rd.c)
		*next = n
		return false, err
	}
	found := false
	for range heartbeatProbesPerTick {
		_, ok, err := headBlob(ctx, rd.c, heartbeatBlob(*next))
		if err != nil || !ok {
			return found, err
		}
		*next++
		found = true
	}
	return found, nil
}

// countHeartbeats counts the heartbeat blobs there, which are numbered without
// gaps: a doubling search for one that is missing, then a bisection, so a
// reader joining a day-long write makes a few dozen requests, not thousands.
func countHeartbeats(ctx context.Context, c *containerClient) (int64, error) {
	exists := func(n int64) (bool, error) {
		_, ok, err := headBlob(ctx, c, heartbeatBlob(n))
		return ok, err
	}
	ok, err := exists(0)
	if err != nil || !ok {
		return 0, err
	}
	lo, hi := int64(0), int64(1) // lo exists; hi is not known to
	for {
		if ok, err = exists(hi); err != nil || !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for err == nil && hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if ok, err = exists(mid); ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, err
}

// headBlob asks storage for a blob's headers; ok is false when it is not there.
func headBlob(ctx context.Context, c *containerClient, name string) (http.Header, bool, error) {
	resp, err := c.do(ctx, http.MethodHead, name, nil, nil)
	if err != nil {
		return nil, false, err
	}
	switch resp.answer {
	case answerOK:
		resp.Body.Close()
		return resp.Header, true, nil
	case answerNoBlob:
		return nil, false, nil
	case answerNoContainer:
		return nil, false, ErrBufferNotFound
	case answerNotPermitted:
		return nil, false, ErrReadNotAllowed
	default:
		return nil, false, fmt.Errorf("checking blob %s: %w", name, resp.statusError())
	}
}
