package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spool/client"
	"spool/internal/reliability"
)

// accessCounter counts the handler's access-URL requests, so a test can tell that
// a transfer really renewed its URL.
type accessCounter struct{ n atomic.Int64 }

func (c *accessCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/access") {
			c.n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// expiringStack serves a handler whose access URLs expire soon after they are
// signed. The handler refuses TTLs under 30 s, so in normal runs its SAS clock
// runs 28 s behind: a 30 s URL is dead 2 s after it is handed out. The soak run
// uses the real clock and lives through real 30 s URLs instead.
func expiringStack(t *testing.T) (*accessCounter, time.Duration) {
	t.Helper()
	liveServer(t)
	lifetime, skew := 2*time.Second, 28*time.Second
	if soak() {
		lifetime, skew = 30*time.Second, 0
	}
	counter := &accessCounter{}
	t.Setenv("SPOOL_SERVER_URL", startHandler(t, stack.azurite, handlerSetup{
		BlobEndpoint: stack.azurite.BlobEndpoint,
		Now:          func() time.Time { return time.Now().Add(-skew) },
		Wrap:         counter.wrap,
	}))
	return counter, lifetime
}

const shortTTL = "0.00:00:30"

// keepURLFileFresh rewrites path with a new access URL for id every 500 ms until
// the returned stop is called, as a sidecar that renews a URL file would.
func keepURLFileFresh(t *testing.T, path, id string, writeable bool) (stop func()) {
	t.Helper()
	c, err := client.New(client.Options{ServerURL: os.Getenv("SPOOL_SERVER_URL")})
	if err != nil {
		t.Fatal(err)
	}
	renew := func() error {
		u, err := c.Access(context.Background(), id, writeable, shortTTL)
		if err != nil {
			return err
		}
		// Write and rename, so a reader never sees half a URL.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(u+"\n"), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}
	if err := renew(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		// Well inside a URL's lifetime: a file still holding the refused URL
		// makes the CLI wait 30 s before it looks again.
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if err := renew(); err != nil {
					t.Errorf("renewing the URL file: %v", err)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// readSlowly runs `spool buffer read` into a writer that pauses before each
// blob, so the read outlives its access URL.
func readSlowly(ctx context.Context, pause time.Duration, args ...string) result {
	out := &pacedWriter{pause: pause}
	var errOut bytes.Buffer
	code := Run(ctx, append([]string{"buffer", "read"}, args...), strings.NewReader(""), out, &errOut)
	return result{code: code, stdout: out.buf.String(), stderr: errOut.String()}
}

func TestFaultsAccessURLExpiringMidTransferIsRenewedFromAnIDOrAFileButNotALiteral(t *testing.T) {
	counter, lifetime := expiringStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// Every transfer below lasts about 1.5 URL lifetimes.
	size := int64(8 << 20)
	if soak() {
		size = 64 << 20
	}
	data := generated(t, size)
	span := lifetime * 3 / 2
	// One blob per pause, both ways: the reader's output gets one write per blob.
	const piece = 256 << 10
	pause := span / time.Duration(len(data)/piece)

	// From a buffer ID: the CLI asks the handler again when storage refuses the URL.
	id := createBuffer(t)
	before := counter.n.Load()
	w := runWithInput(ctx, &pacedReader{data: data, piece: piece, pause: pause},
		"buffer", "write", id, "--access-ttl", shortTTL, "-b", "256K", "-f", "0", "--dop", "4")
	writeRenewals := counter.n.Load() - before - 1
	if w.code != 0 {
		t.Fatalf("write from an ID across URL expiry: %+v", w)
	}
	before = counter.n.Load()
	r := readSlowly(ctx, pause, id, "--access-ttl", shortTTL, "--dop", "4")
	readRenewals := counter.n.Load() - before - 1
	checkRead(t, "read from an ID across URL expiry", r, data)
	if r.code != 0 {
		t.Fatalf("read from an ID across URL expiry failed: %s", r.stderr)
	}
	if writeRenewals < 1 || readRenewals < 1 {
		t.Fatalf("the URL was renewed %d times by the write and %d by the read; the test wants at least one each", writeRenewals, readRenewals)
	}
	reliability.Record(t, reliability.Row{
		Area:    faultArea,
		Fault:   fmt.Sprintf("access URL (from a buffer ID) expires every %s during a %s write and read (%d MiB)", lifetime, span, len(data)>>20),
		Tries:   int(writeRenewals + readRenewals),
		Bytes:   2 * int64(len(data)),
		Outcome: fmt.Sprintf("renewed from the handler %d× (write) and %d× (read); SHA-256 identical", writeRenewals, readRenewals),
	})

	// The same transfers from a URL file that someone keeps fresh (the CLI reads
	// the file again) and from a literal URL (nothing can renew it: a clear error),
	// side by side to keep the test short.
	c, err := client.New(client.Options{ServerURL: os.Getenv("SPOOL_SERVER_URL")})
	if err != nil {
		t.Fatal(err)
	}
	readURL, err := c.Access(ctx, id, false, shortTTL)
	if err != nil {
		t.Fatal(err)
	}
	readFile := filepath.Join(dir, "read-url.txt")
	stop := keepURLFileFresh(t, readFile, id, false)
	var fileRead, literalRead result
	var wg sync.WaitGroup
	wg.Go(func() { fileRead = readSlowly(ctx, pause, readFile, "--dop", "4") })
	wg.Go(func() { literalRead = readSlowly(ctx, pause, readURL, "--dop", "4") })
	wg.Wait()
	stop()
	checkRead(t, "read from a URL file across URL expiry", fileRead, data)
	if fileRead.code != 0 {
		t.Fatalf("read from a URL file across URL expiry failed: %s", fileRead.stderr)
	}
	checkRead(t, "read from a literal URL across its expiry", literalRead, data)
	if literalRead.code != exitFailure || !strings.Contains(literalRead.stderr, "access URL expired") {
		t.Fatalf("read from a literal URL across its expiry: exit %d, stderr %q", literalRead.code, literalRead.stderr)
	}

	fileID, literalID := createBuffer(t), createBuffer(t)
	writeFile := filepath.Join(dir, "write-url.txt")
	stop = keepURLFileFresh(t, writeFile, fileID, true)
	writeURL, err := c.Access(ctx, literalID, true, shortTTL)
	if err != nil {
		t.Fatal(err)
	}
	var fileWrite, literalWrite result
	wg.Go(func() {
		fileWrite = runWithInput(ctx, &pacedReader{data: data, piece: piece, pause: pause}, "buffer", "write", writeFile, "-b", "256K", "-f", "0", "--dop", "4")
	})
	wg.Go(func() {
		literalWrite = runWithInput(ctx, &pacedReader{data: data, piece: piece, pause: pause}, "buffer", "write", writeURL, "-b", "256K", "-f", "0", "--dop", "4")
	})
	wg.Wait()
	stop()
	if fileWrite.code != 0 {
		t.Fatalf("write from a URL file across URL expiry: %+v", fileWrite)
	}
	if r := runWithInput(ctx, strings.NewReader(""), "buffer", "read", fileID); r.code != 0 || r.stdout != string(data) {
		t.Fatalf("reading back the buffer written through a URL file: exit %d, %d bytes, %s", r.code, len(r.stdout), r.stderr)
	}
	reliability.Record(t, reliability.Row{
		Area:    faultArea,
		Fault:   fmt.Sprintf("access URL (from a file renewed every 500 ms) expires every %s during a %s write and read (%d MiB)", lifetime, span, len(data)>>20),
		Tries:   2,
		Bytes:   2 * int64(len(data)),
		Outcome: "the file was read again on refusal; write and read finished, SHA-256 identical",
	})
	checkClearError(t, "write from a literal URL across its expiry", literalWrite)
	if !strings.Contains(literalWrite.stderr, "access URL expired") {
		t.Fatalf("write from a literal URL across its expiry: %q", literalWrite.stderr)
	}
	// The expired URL cannot write the failed marker either; what matters is that
	// no reader takes the unfinished buffer for a complete one.
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	after := runWithInput(rctx, strings.NewReader(""), "buffer", "read", literalID)
	rcancel()
	if after.code == 0 {
		t.Fatalf("a read of the buffer whose write was cut off by an expired URL succeeded with %d bytes", len(after.stdout))
	}
	r = literalRead
	reliability.Record(t, reliability.Row{
		Area:    faultArea,
		Fault:   fmt.Sprintf("literal access URL expires (%s lifetime) during a %s read and write (%d MiB)", lifetime, span, len(data)>>20),
		Tries:   2,
		Bytes:   int64(len(r.stdout)),
		Outcome: fmt.Sprintf("both failed clearly (%q); the read wrote only a verified prefix; the cut-off write could not mark the buffer failed, so a later reader waits (%s after 2 s)", lastLine(r.stderr), lastLine(after.stderr)),
	})
}
