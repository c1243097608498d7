package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spool/internal/azurite"
	"spool/internal/reliability"
)

// pacedReader hands out data a piece at a time with a pause before each, so a
// write lasts long enough to be interrupted, and reports how much it has given.
type pacedReader struct {
	data  []byte
	piece int
	pause time.Duration
	given atomic.Int64
}

func (r *pacedReader) Read(p []byte) (int, error) {
	off := int(r.given.Load())
	if off >= len(r.data) {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), r.piece)], r.data[off:])
	r.given.Add(int64(n))
	return n, nil
}

// pacedWriter pauses before each write, so a read lasts long enough to be
// interrupted, and keeps what it was given.
type pacedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	pause time.Duration
	got   atomic.Int64
}

func (w *pacedWriter) Write(p []byte) (int, error) {
	time.Sleep(w.pause)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got.Add(int64(len(p)))
	return w.buf.Write(p)
}

// outage is one planned SIGKILL and restart of Azurite.
type outage struct {
	done   chan struct{} // closed when the outage is over, or was called off
	cancel chan struct{}
	killed time.Time // zero if it never happened
	err    error     // from the restart
}

// killWhen SIGKILLs Azurite once ready says so, keeps it down for downtime, then
// restarts it on the same ports and data directory, unless called off first.
func killWhen(az *azurite.Instance, ready func() bool, downtime time.Duration) *outage {
	o := &outage{done: make(chan struct{}), cancel: make(chan struct{})}
	go func() {
		defer close(o.done)
		for !ready() {
			select {
			case <-o.cancel:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
		az.Kill()
		o.killed = time.Now()
		time.Sleep(downtime)
		o.err = az.Restart()
	}()
	return o
}

// during waits for the outage to be over and fails the test unless it began
// before end (the end of the transfer it was meant to interrupt).
func (o *outage) during(t *testing.T, end time.Time, what string) {
	t.Helper()
	close(o.cancel)
	<-o.done
	if o.err != nil {
		t.Fatalf("restarting Azurite: %v", o.err)
	}
	if o.killed.IsZero() || !o.killed.Before(end) {
		t.Fatalf("Azurite was not killed during the %s", what)
	}
}

// Azurite keeps blob metadata in memory and writes it to these files every 5 s
// (LokiJS autosave), so a SIGKILL loses up to 5 s of acknowledged writes — an
// emulator artifact: Azure never loses an acknowledged Put. The tests time their
// kills against these saves, so what they exercise is spool's retries, not that.
var azuriteDBFiles = []string{"__azurite_db_blob__.json", "__azurite_db_blob_extent__.json"}

// savedSince is true once each of the named metadata files was written after
// since. (Each file is saved only when it has changes.)
func savedSince(dir string, since time.Time, files []string) bool {
	for _, name := range files {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.ModTime().After(since) {
			return false
		}
	}
	return true
}

func waitSaved(t *testing.T, dir string, since time.Time, files []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !savedSince(dir, since, files) {
		if time.Now().After(deadline) {
			t.Fatalf("Azurite did not save its metadata in %s within 20 s", dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultsAzuriteKilledAndRestartedMidTransferResumesOrFailsCleanly kills the
// storage emulator (SIGKILL, data on disk) in the middle of a write and, later, of a
// read. This test runs its own Azurite: it must be killable without disturbing the
// package's shared one, and it needs disk persistence to survive the restart. The
// handler's tables live in the same Azurite; the CLI only asks the handler for URLs
// before the kill.
func TestFaultsAzuriteKilledAndRestartedMidTransferResumesOrFailsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Azurite")
	}
	began := time.Now()
	dir := t.TempDir()
	az, err := azurite.Start(azurite.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(az.Stop)
	t.Setenv("SPOOL_SERVER_URL", startHandler(t, az, handlerSetup{BlobEndpoint: az.BlobEndpoint}))
	size, block := faultSize()
	data := generated(t, size)
	downtime := 500 * time.Millisecond
	if soak() {
		downtime = 5 * time.Second
	}

	id := createBuffer(t)
	waitSaved(t, dir, time.Now(), azuriteDBFiles[:1]) // the container must outlive the kill
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Mid-write: the input arrives over about 6 s, starting just after a metadata
	// save, so the next save (5 s later) falls mid-write. Azurite dies right after
	// it, so no acknowledged blob is lost with it and what is tested is the
	// writer's retries.
	in := &pacedReader{data: data, piece: len(data) / 48, pause: 130 * time.Millisecond}
	writeStart := time.Now()
	outage := killWhen(az, func() bool {
		return time.Since(writeStart) > time.Second && savedSince(dir, writeStart.Add(time.Second), azuriteDBFiles[:1])
	}, downtime)
	write := runWithInput(ctx, in, "buffer", "write", id, "-b", block, "-f", "0", "--dop", "8")
	writeDone := time.Now()
	outage.during(t, writeDone, "write")
	writeOutcome := "write resumed through retries and finished"
	if write.code != 0 {
		checkClearError(t, "write across a kill", write)
		writeOutcome = "write failed clearly (" + lastLine(write.stderr) + ")"
	}
	clean := runWithInput(ctx, strings.NewReader(""), "buffer", "read", id)
	checkRead(t, "read after the restart", clean, data)
	if write.code == 0 && clean.code != 0 {
		t.Fatalf("the write reported success, but the buffer does not read back: %s", lastLine(clean.stderr))
	}
	if write.code != 0 && clean.code == 0 {
		t.Fatalf("the write failed (%s), yet a read of the buffer succeeded", lastLine(write.stderr))
	}
	after := "a read afterwards got identical bytes"
	if clean.code != 0 {
		after = "a read afterwards failed clearly"
	}
	reliability.Record(t, reliability.Row{
		Area:    faultArea,
		Fault:   fmt.Sprintf("Azurite SIGKILLed mid-write (just after a metadata save), restarted %s later on its disk data (%d MiB, %s blobs)", downtime, len(data)>>20, block),
		Tries:   1,
		Bytes:   in.given.Load(),
		Outcome: writeOutcome + "; " + after,
	})
	t.Logf("write: %s (%s into the test)", writeOutcome, time.Since(began))
	if write.code != 0 {
		return // nothing complete to read; the mid-read case needs a whole buffer
	}

	// Mid-read, with everything written saved to disk first: the output drains
	// slowly and Azurite dies a third of the way in. Azurite saves within 5 s of a
	// change and not at all when nothing changed, so wait for a save that follows
	// the write (the read after it may have taken longer than that), and for one
	// more save period in case that save came just before the write's last Put.
	waitSaved(t, dir, writeDone.Add(-time.Second), azuriteDBFiles)
	if d := 6*time.Second - time.Since(writeDone); d > 0 {
		time.Sleep(d)
	}
	out := &pacedWriter{pause: 20 * time.Millisecond}
	outage = killWhen(az, func() bool { return out.got.Load() >= int64(len(data)/3) }, downtime)
	var errOut bytes.Buffer
	code := Run(ctx, []string{"buffer", "read", id, "--dop", "8"}, strings.NewReader(""), out, &errOut)
	outage.during(t, time.Now(), "read")
	read := result{code: code, stdout: out.buf.String(), stderr: errOut.String()}
	checkRead(t, "read across a kill", read, data)
	readOutcome := "read resumed through retries, SHA-256 identical"
	if read.code != 0 {
		readOutcome = "read failed clearly (" + lastLine(read.stderr) + ") after only verified bytes"
	}
	reliability.Record(t, reliability.Row{
		Area:    faultArea,
		Fault:   fmt.Sprintf("Azurite SIGKILLed a third into a read, restarted %s later on its disk data (%d MiB, %s blobs)", downtime, len(data)>>20, block),
		Tries:   1,
		Bytes:   out.got.Load(),
		Outcome: readOutcome,
	})
	t.Logf("read: %s (%s into the test)", readOutcome, time.Since(began))
}
