package transfer

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Signs of life. While it writes, a writer creates an empty blob .heartbeat/<n>
// (n = 0, 1, 2, ... in decimal) every heartbeat interval, even when its input is
// idle: the only kind of sign a create-only URL allows, since no blob can be
// rewritten. Tyger's reader fetches only numbered data paths and the two markers,
// so it never sees them. The writer declares its interval on .bufferstart
// (heartbeatHeader, in milliseconds); a reader that finds it there knows signs of
// life will come and gives up on a writer that leaves none for its idle timeout.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	heartbeatPrefix          = ".heartbeat/"
	heartbeatHeader          = "x-ms-meta-spool_heartbeat"
)

func heartbeatBlob(n int64) string { return heartbeatPrefix + strconv.FormatInt(n, 10) }

// heartbeat creates the writer's heartbeat blobs every interval until ctx ends.
// A heartbeat that cannot be written is logged and tried again under the same
// number, so the numbers a reader probes stay contiguous.
func heartbeat(ctx context.Context, c *containerClient, interval time.Duration, n int64) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	logged := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		err := putBlob(ctx, c, markerPut(heartbeatBlob(n), nil))
		switch {
		case err == nil:
			n++
		case ctx.Err() != nil:
			return
		case !logged:
			c.logf("could not leave a sign of life for readers (trying again every %s): %v", interval, err)
			logged = true
		}
	}
}

// startHeartbeat runs heartbeat in the background from number first; the
// returned stop ends it and waits for it, so no heartbeat is created after the
// writer's last blob.
func startHeartbeat(ctx context.Context, c *containerClient, interval time.Duration, first int64) (stop func()) {
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		heartbeat(hctx, c, interval, first)
	}()
	return func() {
		cancel()
		<-done
	}
}

// declaredHeartbeat reads the heartbeat interval a .bufferstart declares; 0
// when it declares none (Tyger's writer, or an older spool).
func declaredHeartbeat(h http.Header) (time.Duration, error) {
	v := h.Get(heartbeatHeader)
	if v == "" {
		return 0, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 || ms > int64(time.Hour/time.Millisecond) {
		return 0, corruptf("blob %s declares a heartbeat interval %q that no writer uses", startBlobName, v)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func heartbeatValue(interval time.Duration) string {
	return fmt.Sprint(interval.Milliseconds())
}
