package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"spool/blobstore"
	"spool/client"
	"spool/client/testpattern"
	"spool/handler"
	"spool/internal/azurite"
	"spool/internal/reliability"
	"spool/tablestore"
)

// The whole stack for end-to-end tests: one Azurite for the package and the real
// handler over it, started on first use so the unit tests above need neither.
var stack struct {
	once      sync.Once
	azurite   *azurite.Instance
	server    *httptest.Server
	serverURL string
	err       error
}

// connectHandler opens the real table store and blob containers a connection
// string names, as cmd/handler wires them, with the tables created.
func connectHandler(ctx context.Context, connectionString, tablePrefix string) (handler.Options, error) {
	svc, err := tablestore.ServiceClientFromConnectionString(connectionString)
	if err != nil {
		return handler.Options{}, err
	}
	store, err := tablestore.Open(ctx, svc, tablestore.Options{TablePrefix: tablePrefix})
	if err != nil {
		return handler.Options{}, err
	}
	blobOpts, err := blobstore.OptionsFromConnectionString(connectionString)
	if err != nil {
		return handler.Options{}, err
	}
	containers, err := blobstore.New(blobOpts)
	if err != nil {
		return handler.Options{}, err
	}
	return handler.Options{Store: store, Containers: containers, Location: "local"}, nil
}

// liveServer returns the API root of the real handler over Azurite, and points the
// CLI at it through SPOOL_SERVER_URL.
func liveServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test needs Azurite")
	}
	stack.once.Do(func() {
		stack.azurite, stack.err = cliAzurite.Instance()
		if stack.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		opts, err := connectHandler(ctx, stack.azurite.ConnectionString(), fmt.Sprintf("cli%d", time.Now().UnixNano()%1_000_000))
		if err != nil {
			stack.err = fmt.Errorf("connecting the handler: %w", err)
			return
		}
		h, err := handler.New(opts)
		if err != nil {
			stack.err = err
			return
		}
		stack.server = httptest.NewServer(h)
		stack.serverURL = stack.server.URL + "/api"
	})
	if stack.err != nil {
		t.Fatal(stack.err)
	}
	t.Setenv("SPOOL_SERVER_URL", stack.serverURL)
	return stack.serverURL
}

// runWithInput runs the CLI with any reader as stdin.
func runWithInput(ctx context.Context, stdin io.Reader, args ...string) result {
	var out, errOut bytes.Buffer
	code := Run(ctx, args, stdin, &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func generated(t *testing.T, n int64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := testpattern.Write(&b, n); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func createBuffer(t *testing.T, args ...string) string {
	t.Helper()
	r := runCLI(t, "", append([]string{"buffer", "create"}, args...)...)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || client.ValidateID(id) != nil {
		t.Fatalf("create: %+v", r)
	}
	return id
}

var summaryLine = regexp.MustCompile(`^(wrote|read) [0-9.]+ (B|[KMG]iB) in [0-9.]+m?s \([0-9.]+ MB/s\)\n$`)

func TestEndToEndRoundTripsAtEdgeSizes(t *testing.T) {
	liveServer(t)
	const block = 64 << 10
	for _, size := range []int64{0, 1, block - 1, block, block + 1, 5*block + 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := generated(t, size)
			id := createBuffer(t)
			r := runWithInput(context.Background(), bytes.NewReader(data), "buffer", "write", id, "--block-size", "64K", "--dop", "4")
			if r.code != 0 || !summaryLine.MatchString(r.stderr) || r.stdout != "" {
				t.Fatalf("write: %+v", r)
			}
			r = runCLI(t, "", "buffer", "read", id, "--dop", "3")
			if r.code != 0 || !summaryLine.MatchString(r.stderr) {
				t.Fatalf("read: exit %d, stderr %q", r.code, r.stderr)
			}
			if sha256.Sum256([]byte(r.stdout)) != sha256.Sum256(data) {
				t.Fatalf("read %d bytes that differ from the %d written", len(r.stdout), len(data))
			}
		})
	}
}

func TestEndToEndControlPlaneAndTransfersThroughTheCLI(t *testing.T) {
	liveServer(t)
	dir := t.TempDir()

	id := createBuffer(t, "--tag", "suite=e2e,kind=cli")
	r := runCLI(t, "", "buffer", "show", id)
	if r.code != 0 || !strings.Contains(r.stdout, `"suite": "e2e"`) {
		t.Fatalf("show: %+v", r)
	}
	etag := regexp.MustCompile(`"etag": "([^"]+)"`).FindStringSubmatch(r.stdout)
	if etag == nil {
		t.Fatalf("show printed no etag: %s", r.stdout)
	}
	r = runCLI(t, "", "buffer", "set", id, "--tag", "suite=e2e", "--tag", "stage=written", "--etag", etag[1])
	if r.code != 0 || strings.Contains(r.stdout, `"kind"`) || !strings.Contains(r.stdout, `"stage": "written"`) {
		t.Fatalf("set must replace the tags: %+v", r)
	}
	r = runCLI(t, "", "buffer", "set", id, "--tag", "stage=again", "--etag", etag[1])
	if r.code != exitFailure || !strings.Contains(r.stderr, "the buffer changed since that etag") {
		t.Fatalf("set with a stale etag: %+v", r)
	}
	r = runCLI(t, "", "buffer", "list", "--tag", "stage=written", "--exclude-tag", "kind=cli")
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Fatalf("list: %+v", r)
	}

	// Write from a regular file (no flush interval), read to a file.
	data := generated(t, 3<<20+5)
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "", "buffer", "write", id, "-i", in, "-b", "1M")
	if r.code != 0 || !strings.HasPrefix(r.stderr, "wrote 3.0 MiB in ") {
		t.Fatalf("write -i: %+v", r)
	}
	out := filepath.Join(dir, "out")
	if r = runCLI(t, "", "buffer", "read", id, "-o", out); r.code != 0 || r.stdout != "" {
		t.Fatalf("read -o: %+v", r)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
	}

	// A buffer is written once.
	r = runCLI(t, "hello", "buffer", "write", id)
	if r.code != exitFailure || !strings.Contains(r.stderr, "cannot be overwritten") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("second write: %+v", r)
	}

	// Access URLs, literally and in a file; a read URL cannot write.
	r = runCLI(t, "", "buffer", "access", id)
	readURL := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(readURL, "http://127.0.0.1:") || !strings.Contains(readURL, id) {
		t.Fatalf("access: %+v", r)
	}
	if r = runCLI(t, "", "buffer", "read", readURL); r.code != 0 || r.stdout != string(data) {
		t.Fatalf("read URL: exit %d, %d bytes, stderr %q", r.code, len(r.stdout), r.stderr)
	}
	urlFile := filepath.Join(dir, "url.txt")
	if err := os.WriteFile(urlFile, []byte(readURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r = runCLI(t, "", "buffer", "read", urlFile); r.code != 0 || r.stdout != string(data) {
		t.Fatalf("read URL file: exit %d, stderr %q", r.code, r.stderr)
	}
	other := createBuffer(t)
	r = runCLI(t, "", "buffer", "access", other)
	otherReadURL := strings.TrimSpace(r.stdout)
	r = runCLI(t, "x", "buffer", "write", otherReadURL)
	if r.code != exitFailure || !strings.Contains(r.stderr, "does not allow writing") {
		t.Fatalf("write with a read URL: %+v", r)
	}
	if sig := sasSignature(otherReadURL); sig == "" || strings.Contains(r.stderr, sig) {
		t.Fatalf("the error shows the SAS signature: %q", r.stderr)
	}
	r = runCLI(t, "", "buffer", "access", other, "--access-ttl", "0.00:00:10")
	if r.code != exitUsage || !strings.Contains(r.stderr, "at least 30 seconds") { // refused before any request
		t.Fatalf("access with too short a TTL: %+v", r)
	}
	w := runCLI(t, "", "buffer", "access", other, "-w", "--access-ttl", "0.00:05:00")
	if w.code != 0 || w.stdout == r.stdout {
		t.Fatalf("access -w: %+v", w)
	}
}

func sasSignature(raw string) string {
	m := regexp.MustCompile(`sig=([^&]+)`).FindStringSubmatch(raw)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestEndToEndUnknownBufferFailsAtOnce(t *testing.T) {
	liveServer(t)
	unknown := strings.Repeat("a", 26)
	for _, cmd := range []string{"show", "read", "write", "access"} {
		start := time.Now()
		r := runCLI(t, "", "buffer", cmd, unknown)
		if r.code != exitFailure || !strings.Contains(r.stderr, `buffer "`+unknown+`" not found`) {
			t.Errorf("%s: %+v", cmd, r)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %s to report an unknown ID", cmd, d)
		}
	}
}

// failingReader yields some data, then an error, like a producer that crashed.
type failingReader struct{ left int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left == 0 {
		return 0, errors.New("producer crashed")
	}
	n := min(len(p), f.left)
	for i := range p[:n] {
		p[i] = 'x'
	}
	f.left -= n
	return n, nil
}

func TestEndToEndFailedInputMarksTheBufferFailed(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	r := runWithInput(context.Background(), &failingReader{left: 200 << 10}, "buffer", "write", id, "-b", "64K")
	if r.code != exitFailure || !strings.Contains(r.stderr, "producer crashed") {
		t.Fatalf("write: %+v", r)
	}
	r = runCLI(t, "", "buffer", "read", id)
	if r.code != exitFailure || !strings.Contains(r.stderr, "permanently failed") {
		t.Fatalf("read of a failed buffer: %+v", r)
	}
}

// endlessReader trickles data until its context ends, like a long-running producer.
type endlessReader struct{ ctx context.Context }

func (e endlessReader) Read(p []byte) (int, error) {
	select {
	case <-e.ctx.Done():
		return 0, io.EOF // what matters is that the write was canceled first
	case <-time.After(10 * time.Millisecond):
	}
	n := min(len(p), 1024)
	for i := range p[:n] {
		p[i] = 'y'
	}
	return n, nil
}

func TestEndToEndInterruptedWriteSaysCanceledAndMarksTheBufferFailed(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(1500 * time.Millisecond) // past a flush, so blobs exist
		cancel()
	}()
	r := runWithInput(ctx, endlessReader{ctx: context.Background()}, "buffer", "write", id, "-f", "200ms")
	cancel()
	if r.code != exitCanceled || r.stderr != "spool: canceled\n" {
		t.Fatalf("write: %+v", r)
	}
	r = runCLI(t, "", "buffer", "read", id)
	if r.code != exitFailure || !strings.Contains(r.stderr, "permanently failed") {
		t.Fatalf("read of an interrupted buffer: %+v", r)
	}
}

func TestEndToEndReadingWhileWriting(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	data := generated(t, 2<<20+3)
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var write result
	wg.Go(func() {
		write = runWithInput(context.Background(), pr, "buffer", "write", id, "-b", "64K", "-f", "50ms")
		pr.Close()
	})
	var read result
	wg.Go(func() { read = runCLI(t, "", "buffer", "read", id, "--dop", "4") })
	// Trickle the data in, so the reader catches up with the writer repeatedly.
	for off := 0; off < len(data); off += 256 << 10 {
		if _, err := pw.Write(data[off:min(off+256<<10, len(data))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	pw.Close()
	wg.Wait()
	if write.code != 0 || read.code != 0 {
		t.Fatalf("write: %+v\nread: exit %d, stderr %q", write, read.code, read.stderr)
	}
	if sha256.Sum256([]byte(read.stdout)) != sha256.Sum256(data) {
		t.Fatalf("read %d bytes that differ from the %d written", len(read.stdout), len(data))
	}
}

func TestEndToEndNamedPipesAsInputAndOutput(t *testing.T) {
	liveServer(t)
	dir := t.TempDir()
	inPipe, outPipe := filepath.Join(dir, "in.fifo"), filepath.Join(dir, "out.fifo")
	for _, p := range []string{inPipe, outPipe} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	id := createBuffer(t)
	data := generated(t, 1<<20+11)

	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(inPipe, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = f.Write(data)
		f.Close()
	})
	if r := runCLI(t, "", "buffer", "write", id, "-i", inPipe, "-b", "128K"); r.code != 0 {
		t.Fatalf("write -i fifo: %+v", r)
	}
	wg.Wait()

	var got []byte
	wg.Go(func() {
		f, err := os.Open(outPipe)
		if err != nil {
			t.Error(err)
			return
		}
		got, _ = io.ReadAll(f)
		f.Close()
	})
	if r := runCLI(t, "", "buffer", "read", id, "-o", outPipe); r.code != 0 {
		t.Fatalf("read -o fifo: %+v", r)
	}
	wg.Wait()
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back through the pipes, want the %d written", len(got), len(data))
	}
}

func TestEndToEndListPagesFollowTheHandlersNextLinks(t *testing.T) {
	serverURL := liveServer(t)
	tag := fmt.Sprintf("p%d", time.Now().UnixNano())
	want := map[string]bool{}
	for range 5 {
		want[createBuffer(t, "--tag", "page="+tag)] = true
	}
	c, err := client.New(client.Options{ServerURL: serverURL})
	if err != nil {
		t.Fatal(err)
	}
	filter := client.ListOptions{Tags: map[string]string{"page": tag}, Limit: 2}
	page, err := c.ListBuffers(context.Background(), filter)
	pages := 1
	for err == nil && page.NextLink != "" {
		for _, b := range page.Items {
			delete(want, b.ID)
		}
		page, err = c.NextBuffers(context.Background(), page.NextLink, 0)
		pages++
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range page.Items {
		delete(want, b.ID)
	}
	if len(want) != 0 || pages < 3 {
		t.Fatalf("after %d pages, %d buffers were never listed", pages, len(want))
	}
	r := runCLI(t, "", "buffer", "list", "--tag", "page="+tag, "--limit", "4")
	if r.code != 0 || strings.Count(r.stdout, `"id"`) != 4 || r.stderr != "" {
		t.Fatalf("list --limit 4: %+v", r)
	}
}

// buildSpool builds the real binary, for tests of what main wires up.
func buildSpool(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spool")
	if out, err := exec.Command("go", "build", "-o", bin, "spool/cmd/spool").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestEndToEndCtrlCOnTheBinaryMarksTheBufferFailed runs the real binary, so the
// signal wiring in main is covered too.
func TestEndToEndCtrlCOnTheBinaryMarksTheBufferFailed(t *testing.T) {
	checkSignaledWrite(t, os.Interrupt, exitCanceled, "spool: canceled\n")
}

// TestEndToEndSIGTERMOnTheBinaryExits143AndMarksTheBufferFailed: what a service
// manager or a container runtime sends is handled like Ctrl-C, and says so.
func TestEndToEndSIGTERMOnTheBinaryExits143AndMarksTheBufferFailed(t *testing.T) {
	readErr := checkSignaledWrite(t, syscall.SIGTERM, exitTerminated, "spool: terminated\n")
	reliability.Record(t, reliability.Row{
		Area:    "write",
		Fault:   "SIGTERM to the spool binary mid write",
		Tries:   1,
		Outcome: fmt.Sprintf("exit %d, %q; a later read fails: %s", exitTerminated, "spool: terminated", lastLine(readErr)),
	})
}

// checkSignaledWrite sends sig to the real binary mid write, checks its exit status
// and stderr, and that a read then fails on the buffer marked failed; it returns
// that read's stderr.
func checkSignaledWrite(t *testing.T, sig os.Signal, wantCode int, wantStderr string) string {
	t.Helper()
	code, stderr, id := signalBinaryWrite(t, sig)
	if code != wantCode || stderr != wantStderr {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	r := runCLI(t, "", "buffer", "read", id)
	if r.code != exitFailure || !strings.Contains(r.stderr, "permanently failed") {
		t.Fatalf("read of an interrupted buffer: %+v", r)
	}
	return r.stderr
}

// signalBinaryWrite starts the real binary writing a new buffer, sends it sig once
// a data blob exists, and returns its exit status, its stderr and the buffer.
func signalBinaryWrite(t *testing.T, sig os.Signal) (code int, stderr, id string) {
	t.Helper()
	liveServer(t)
	bin := buildSpool(t)
	id = createBuffer(t)
	cmd := exec.Command(bin, "buffer", "write", id, "-f", "100ms")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("some data before the interrupt\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // past a flush, so a data blob exists
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	stdin.Close()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("exit %v, stderr %q", err, errOut.String())
	}
	return exitErr.ExitCode(), errOut.String(), id
}
