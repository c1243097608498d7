package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"spool/internal/model"
	"spool/internal/reliability"
)

// spoolStart uploads a .bufferstart as spool's writer makes it, declaring a
// heartbeat of interval.
func spoolStart(t *testing.T, b *testBuffer, interval time.Duration) {
	uploadWithMeta(t, b, startBlobName, startBlobBody, map[string]string{"spool_writer": "w", "spool_heartbeat": heartbeatValue(interval)})
}

// dataBlobs uploads blocks as data blobs 0.. with their chain, returning the
// chain of the last.
func dataBlobs(t *testing.T, b *testBuffer, blocks ...[]byte) string {
	chain := InitialHashChain
	for i, data := range blocks {
		chain = NextHashChain(chain, ContentMD5(data))
		upload(t, b, BlobPath(int64(i)), data, chain)
	}
	return chain
}

func TestWrittenBufferHasTygersLayoutAndASealTygersReaderParses(t *testing.T) {
	b := newBuffer(t)
	data := genData(0, 5<<10+7)
	stats, err := Write(context.Background(), StaticURL(b.write), &throttledReader{r: bytes.NewReader(data), step: 1 << 10, delay: 30 * time.Millisecond},
		WriteOptions{BlockSize: 1 << 10, FlushInterval: 10 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Tyger's reader decodes only the status of .bufferend.
	body, _, _ := storedBlob(t, b, endBlobName)
	var tyger struct{ Status string }
	if err := json.Unmarshal([]byte(body), &tyger); err != nil || tyger.Status != "complete" {
		t.Fatalf(".bufferend %q: Tyger's reader would see status %q (%v)", body, tyger.Status, err)
	}
	seal, err := model.ParseSeal([]byte(body))
	if err != nil || !seal.Sealed() || *seal.Size != int64(len(data)) || *seal.Blobs != stats.Blobs || seal.HashChain != stats.HashChain {
		t.Fatalf("seal %s (%v); wrote %+v", body, err, stats)
	}
	// Every blob is a marker, a data blob at Tyger's path, or a heartbeat, which
	// Tyger never asks for.
	dataPath := regexp.MustCompile(`^[0-9A-F]{2}(/[0-9A-F]{2})*/[0-9A-F]{3}$`)
	heartbeats := 0
	for _, name := range blobNames(t, b) {
		switch {
		case name == startBlobName || name == endBlobName || dataPath.MatchString(name):
		case strings.HasPrefix(name, heartbeatPrefix):
			if body, _, _ := storedBlob(t, b, name); body != "" {
				t.Errorf("heartbeat %s holds %q", name, body)
			}
			heartbeats++
		default:
			t.Errorf("unexpected blob %s", name)
		}
	}
	if heartbeats == 0 {
		t.Error("a write of several hundred milliseconds left no heartbeat")
	}
}

func TestReadOfSealedBufferReportsItsTotal(t *testing.T) {
	b := fiveBlobBuffer(t)
	var total atomic.Int64
	if _, err := b.readAll(context.Background(), ReadOptions{Total: func(n int64) { total.Store(n) }}); err != nil {
		t.Fatal(err)
	}
	if total.Load() != 5<<10 {
		t.Fatalf("total %d, want %d", total.Load(), 5<<10)
	}
}

func TestReadRefusesDataThatDisagreesWithTheSeal(t *testing.T) {
	blocks := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	whole := dataBlobs(t, newBuffer(t), blocks...)
	size, count := int64(11), int64(3)
	trueSeal := model.Seal{Status: "complete", Size: &size, Blobs: &count, HashChain: NextHashChain(whole, ContentMD5(nil))}
	cases := []struct {
		name string
		kept int    // data blobs left before an empty, validly chained end blob
		end  []byte // the .bufferend
		want string
	}{
		{"forged end blob after two blobs", 2, trueSeal.Encode(), "the data ends after 6 bytes in 2 blobs"},
		{"dropped tail, forged end blob at 0", 0, trueSeal.Encode(), "the data ends after 0 bytes in 0 blobs"},
		{"seal without size from a writer that seals", 3, endBlobComplete, "holds no size and final chain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuffer(t)
			spoolStart(t, b, time.Second)
			chain := dataBlobs(t, b, blocks[:c.kept]...)
			upload(t, b, BlobPath(int64(c.kept)), nil, NextHashChain(chain, ContentMD5(nil)))
			upload(t, b, endBlobName, c.end, "")
			out, err := b.readAll(context.Background(), ReadOptions{})
			if !errors.Is(err, ErrBufferCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want corrupt saying %q", err, c.want)
			}
			if len(out) > 0 && c.kept == 0 {
				t.Fatalf("wrote %q", out)
			}
			reliability.Record(t, reliability.Row{
				Area:    "integrity (data plane)",
				Fault:   "sealed buffer with " + c.name + " (MD5s and chains all valid)",
				Tries:   1,
				Outcome: "read fails: the buffer is corrupt (" + c.want + ")",
			})
		})
	}
}

func TestReaderGivesUpOnAWriterThatStoppedShowingLife(t *testing.T) {
	b := newBuffer(t)
	spoolStart(t, b, 100*time.Millisecond)
	dataBlobs(t, b, []byte("partial"))
	uploadWithMeta(t, b, heartbeatBlob(0), nil, nil)
	uploadWithMeta(t, b, heartbeatBlob(1), nil, nil)
	start := time.Now()
	out, err := b.readAll(context.Background(), ReadOptions{IdleTimeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrWriterStopped) || !strings.Contains(err.Error(), "no new data and no sign of life from it for 500ms") {
		t.Fatalf("err = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Fatalf("gave up after %v", elapsed)
	}
	if string(out) != "partial" {
		t.Fatalf("read %q before giving up", out)
	}
	reliability.Record(t, reliability.Row{
		Area:    "faults (data plane)",
		Fault:   "reader of a buffer whose heartbeating writer vanished (no seal, no new heartbeats)",
		Tries:   1,
		Outcome: "the verified data, then ErrWriterStopped after the idle timeout",
	})
}

func TestTygerShapedBufferWithoutHeartbeatTripsOnlyAnExplicitIdleTimeout(t *testing.T) {
	b := newBuffer(t)
	upload(t, b, startBlobName, startBlobBody, "")
	dataBlobs(t, b, []byte("tyger"))
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := b.readAll(ctx, ReadOptions{IdleTimeout: 300 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("default idle timeout: err = %v, want it still waiting when the caller gave up", err)
	}
	_, err = b.readAll(context.Background(), ReadOptions{IdleTimeout: 300 * time.Millisecond, IdleTimeoutAlways: true})
	if !errors.Is(err, ErrWriterStopped) {
		t.Fatalf("explicit idle timeout: err = %v", err)
	}
}

func TestTygerShapedBufferReadsWithStatusFromItsMarkers(t *testing.T) {
	b := newBuffer(t)
	upload(t, b, startBlobName, startBlobBody, "")
	chain := dataBlobs(t, b, []byte("Hello"))
	upload(t, b, BlobPath(1), nil, NextHashChain(chain, ContentMD5(nil)))
	upload(t, b, endBlobName, endBlobComplete, "")
	out, err := b.readAll(context.Background(), ReadOptions{IdleTimeout: time.Second})
	if err != nil || string(out) != "Hello" {
		t.Fatalf("read %q, %v", out, err)
	}
}

// trickle yields one byte every gap, n times.
type trickle struct {
	n   int
	gap time.Duration
}

func (r *trickle) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.gap)
	r.n--
	p[0] = 'a' + byte(r.n)
	return 1, nil
}

func TestSlowButLiveWriterIsReadToTheEndDespiteAShortIdleTimeout(t *testing.T) {
	b := newBuffer(t)
	done := make(chan error, 1)
	go func() {
		_, err := Write(context.Background(), StaticURL(b.write), &trickle{n: 5, gap: 800 * time.Millisecond},
			WriteOptions{FlushInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond})
		done <- err
	}()
	out, err := b.readAll(context.Background(), ReadOptions{IdleTimeout: 400 * time.Millisecond})
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil || string(out) != "edcba" {
		t.Fatalf("read %q, %v", out, err)
	}
	reliability.Record(t, reliability.Row{
		Area:    "faults (data plane)",
		Fault:   "writer trickling a byte every 800 ms, reader idle timeout 400 ms",
		Tries:   1,
		Bytes:   5,
		Outcome: "heartbeats keep the reader waiting; every byte read, no false 'writer stopped'",
	})
}
