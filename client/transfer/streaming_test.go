package transfer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestReadingWhileWritingStreamsIdenticalBytes(t *testing.T) {
	b := newBuffer(t)
	const size = 24<<20 + 5
	readDone := make(chan error, 1)
	h := sha256.New()
	// The reader starts first and must wait for .bufferstart and each blob.
	go func() {
		_, err := Read(context.Background(), StaticURL(b.read), h, ReadOptions{DOP: 8})
		readDone <- err
	}()
	time.Sleep(200 * time.Millisecond)
	slow := &throttledReader{r: &genReader{size: size}, step: 1 << 20, delay: 5 * time.Millisecond}
	if _, err := Write(context.Background(), StaticURL(b.write), slow, WriteOptions{BlockSize: 256<<10 + 3, DOP: 4}); err != nil {
		t.Fatal(err)
	}
	if err := <-readDone; err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(genData(0, size))
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("concurrent reader got different bytes")
	}
}

// lineTrickle writes a numbered line every interval, count times.
type lineTrickle struct {
	pending []byte
	next    int
	count   int
	every   time.Duration
}

func (l *lineTrickle) Read(p []byte) (int, error) {
	if len(l.pending) == 0 {
		if l.next == l.count {
			return 0, io.EOF
		}
		time.Sleep(l.every)
		l.pending = fmt.Appendf(nil, "line %04d\n", l.next)
		l.next++
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	return n, nil
}

func TestTrickledInputReachesReaderBeforeWriterEnds(t *testing.T) {
	b := newBuffer(t)
	pr, pw := io.Pipe()
	firstLine := make(chan time.Time, 1)
	var lines []string
	readDone := make(chan error, 1)
	scanDone := make(chan struct{})
	go func() {
		_, err := Read(context.Background(), StaticURL(b.read), pw, ReadOptions{DOP: 4})
		pw.CloseWithError(err)
		readDone <- err
	}()
	go func() {
		defer close(scanDone)
		s := bufio.NewScanner(pr)
		for s.Scan() {
			if len(lines) == 0 {
				firstLine <- time.Now()
			}
			lines = append(lines, s.Text())
		}
		io.Copy(io.Discard, pr)
	}()
	in := &lineTrickle{count: 150, every: 20 * time.Millisecond}
	_, err := Write(context.Background(), StaticURL(b.write), in, WriteOptions{FlushInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	writerDone := time.Now()
	if err := <-readDone; err != nil {
		t.Fatal(err)
	}
	select {
	case first := <-firstLine:
		if !first.Before(writerDone.Add(-time.Second)) {
			t.Fatalf("first line arrived %v before the writer finished; want it well before", writerDone.Sub(first))
		}
	default:
		t.Fatal("reader saw no line")
	}
	<-scanDone
	if len(lines) != 150 || lines[149] != "line 0149" {
		t.Fatalf("reader got %d lines", len(lines))
	}
}

func TestNamedPipesWorkAsInputAndOutput(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for _, p := range []string{in, out} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	const size = 5<<20 + 9
	go func() {
		f, err := os.OpenFile(in, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		io.Copy(f, &genReader{size: size})
		f.Close()
	}()
	b := newBuffer(t)
	inFile, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Write(context.Background(), StaticURL(b.write), inFile, WriteOptions{BlockSize: 1<<20 + 1})
	inFile.Close()
	if err != nil {
		t.Fatal(err)
	}

	sum := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		if f, err := os.Open(out); err == nil {
			io.Copy(h, f)
			f.Close()
		}
		sum <- h.Sum(nil)
	}()
	outFile, err := os.OpenFile(out, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Read(context.Background(), StaticURL(b.read), outFile, ReadOptions{})
	outFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(genData(0, size))
	if !bytes.Equal(<-sum, want[:]) {
		t.Fatal("bytes through the named pipes differ")
	}
}

// renewingSource starts with a URL that expires soon and hands out a long-lived
// one on Refresh, as a control-plane-backed source would.
type renewingSource struct {
	first, renewed *url.URL
	refreshes      atomic.Int32
}

func (s *renewingSource) URL(context.Context) (*url.URL, error) { return s.first, nil }

func (s *renewingSource) Refresh(_ context.Context, stale *url.URL) (*url.URL, error) {
	s.refreshes.Add(1)
	return s.renewed, nil
}

func TestRefreshingSourceLetsTransferOutliveItsFirstURL(t *testing.T) {
	b := newBuffer(t)
	src := &renewingSource{
		first:   sasURL(t, b.admin, sasPerm(true), time.Now().Add(2*time.Second)),
		renewed: b.write,
	}
	// About 3 s of trickled input, so later blobs go out after the first URL died.
	in := &lineTrickle{count: 60, every: 50 * time.Millisecond}
	if _, err := Write(context.Background(), src, in, WriteOptions{FlushInterval: 100 * time.Millisecond, DOP: 2}); err != nil {
		t.Fatal(err)
	}
	if src.refreshes.Load() == 0 {
		t.Fatal("the first URL never expired during the write; the test proves nothing")
	}
	readSrc := &renewingSource{first: sasURL(t, b.admin, sasPerm(false), time.Now().Add(-time.Second)), renewed: b.read}
	var out bytes.Buffer
	if _, err := Read(context.Background(), readSrc, &out, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if readSrc.refreshes.Load() != 1 || !strings.HasPrefix(out.String(), "line 0000\n") || !strings.HasSuffix(out.String(), "line 0059\n") {
		t.Fatalf("refreshes %d, read %q", readSrc.refreshes.Load(), out.String())
	}
}

// firstTries tells a faulting transport whether a request is the first of its
// kind, so it can fault only that one.
type firstTries struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (f *firstTries) first(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	first := !f.seen[key]
	f.seen[key] = true
	return first
}

// faultyTransport injects faults into the blob requests that match.
type faultyTransport struct {
	mu     sync.Mutex
	seen   map[string]int
	inject func(req *http.Request, try int) (corruptMD5, loseResponse, corruptBody bool)
}

func (f *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	key := req.Method + " " + req.URL.Path
	f.seen[key]++
	try := f.seen[key]
	f.mu.Unlock()
	corruptMD5, lose, corruptBody := f.inject(req, try)
	if corruptMD5 {
		req = req.Clone(req.Context())
		req.Header.Set("Content-MD5", ContentMD5([]byte("not the body")))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if lose {
		resp.Body.Close()
		return nil, errors.New("connection reset by injected fault")
	}
	if corruptBody && resp.StatusCode == http.StatusOK && resp.ContentLength > 0 {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		data[0] ^= 0xFF
		resp.Body = io.NopCloser(bytes.NewReader(data))
	}
	return resp, nil
}

func faulty(inject func(req *http.Request, try int) (bool, bool, bool)) *http.Client {
	return &http.Client{Transport: &faultyTransport{seen: map[string]int{}, inject: inject}}
}

func isDataBlob(req *http.Request) bool {
	return !strings.Contains(req.URL.Path, "/.buffer")
}

func TestWriteRecognisesItsOwnLandedPutAfterLostResponse(t *testing.T) {
	b := newBuffer(t)
	client := faulty(func(req *http.Request, try int) (bool, bool, bool) {
		return false, req.Method == http.MethodPut && try == 1, false
	})
	input := genData(0, 3<<10+1)
	if _, err := Write(context.Background(), StaticURL(b.write), bytes.NewReader(input), WriteOptions{BlockSize: 1 << 10, HTTPClient: client}); err != nil {
		t.Fatalf("write with every first response lost: %v", err)
	}
	if out, err := b.readAll(context.Background(), ReadOptions{}); err != nil || !bytes.Equal(out, input) {
		t.Fatalf("read back %d bytes, %v", len(out), err)
	}
}

func TestWriteRetriesMD5MismatchAndGivesUpWhenItPersists(t *testing.T) {
	b := newBuffer(t)
	once := faulty(func(req *http.Request, try int) (bool, bool, bool) {
		return req.Method == http.MethodPut && isDataBlob(req) && try == 1, false, false
	})
	input := genData(0, 2<<10+5)
	if _, err := Write(context.Background(), StaticURL(b.write), bytes.NewReader(input), WriteOptions{BlockSize: 1 << 10, DOP: 1, HTTPClient: once}); err != nil {
		t.Fatalf("write with one mismatch per blob: %v", err)
	}
	if out, err := b.readAll(context.Background(), ReadOptions{}); err != nil || !bytes.Equal(out, input) {
		t.Fatalf("read back %d bytes, %v", len(out), err)
	}

	b = newBuffer(t)
	always := faulty(func(req *http.Request, try int) (bool, bool, bool) {
		return req.Method == http.MethodPut && isDataBlob(req), false, false
	})
	_, err := Write(context.Background(), StaticURL(b.write), bytes.NewReader(input), WriteOptions{BlockSize: 1 << 10, HTTPClient: always})
	if err == nil || !strings.Contains(err.Error(), "MD5 mismatch") {
		t.Fatalf("err = %v", err)
	}
	if body, _, _ := storedBlob(t, b, ".bufferend"); body != `{"status":"failed"}` {
		t.Fatalf(".bufferend = %q", body)
	}
}

func TestReadRetriesCorruptedDownloadAndFailsWhenItPersists(t *testing.T) {
	b := fiveBlobBuffer(t)
	once := faulty(func(req *http.Request, try int) (bool, bool, bool) {
		return false, false, isDataBlob(req) && try == 1
	})
	out, err := Read(context.Background(), StaticURL(b.read), io.Discard, ReadOptions{DOP: 1, HTTPClient: once})
	if err != nil || out.Bytes != 5<<10 {
		t.Fatalf("read with one corruption per blob: %+v, %v", out, err)
	}
	always := faulty(func(req *http.Request, try int) (bool, bool, bool) {
		return false, false, isDataBlob(req)
	})
	var got bytes.Buffer
	_, err = Read(context.Background(), StaticURL(b.read), &got, ReadOptions{HTTPClient: always})
	if err == nil || !strings.Contains(err.Error(), "MD5") {
		t.Fatalf("err = %v", err)
	}
	if got.Len() != 0 {
		t.Fatalf("%d unverified bytes reached the output", got.Len())
	}
}

// busyTransport answers the first try of every request with 503 Server Busy and a
// Retry-After of zero, as a throttled storage account would, then forwards.
type busyTransport struct {
	firstTries
}

func (b *busyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.first(req.Method + " " + req.URL.Path) {
		if req.Body != nil {
			req.Body.Close()
		}
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Header:     http.Header{"Retry-After": {"0"}, "X-Ms-Error-Code": {"ServerBusy"}},
			Body:       io.NopCloser(strings.NewReader("")),
			Request:    req,
		}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestTransfersRideOutServerBusy(t *testing.T) {
	b := newBuffer(t)
	input := genData(0, 3<<10+3)
	busy := &http.Client{Transport: &busyTransport{}}
	var warnings atomic.Int32
	logf := func(string, ...any) { warnings.Add(1) }
	if _, err := Write(context.Background(), StaticURL(b.write), bytes.NewReader(input), WriteOptions{BlockSize: 1 << 10, HTTPClient: busy, Logf: logf}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	busy = &http.Client{Transport: &busyTransport{}}
	if _, err := Read(context.Background(), StaticURL(b.read), &out, ReadOptions{HTTPClient: busy, Logf: logf}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), input) {
		t.Fatal("data differs")
	}
	if warnings.Load() == 0 {
		t.Fatal("retries were not reported through Logf")
	}
}

// stallingTransport forwards requests, but the first response body of each data
// blob delivers a few bytes and then goes quiet until the request is abandoned.
type stallingTransport struct {
	firstTries
}

func (s *stallingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !isDataBlob(req) || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	if s.first(req.URL.Path) {
		resp.Body = &stallingBody{ReadCloser: resp.Body, ctx: req.Context(), left: 10}
	}
	return resp, nil
}

type stallingBody struct {
	io.ReadCloser
	ctx  context.Context
	left int
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	p = p[:min(len(p), b.left)]
	n, err := b.ReadCloser.Read(p)
	b.left -= n
	return n, err
}

func TestStalledDownloadIsAbandonedAndRetried(t *testing.T) {
	b := fiveBlobBuffer(t)
	c, cleanup := newContainer(StaticURL(b.read), &http.Client{Transport: &stallingTransport{}}, t.Logf)
	defer cleanup()
	c.stall.timeout = 200 * time.Millisecond
	c.retry.backoff.Min = time.Millisecond
	rd, stop := newReader(context.Background(), c, ReadOptions{DOP: 1, MemoryLimit: 8 << 20})
	defer stop()
	start := time.Now()
	res, err := rd.fetch(context.Background(), "00/001", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.data, genData(1<<10, 1<<10)) {
		t.Fatal("retried download returned other bytes")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("took %v to get past a stall of 200ms", elapsed)
	}
}

// strippingTransport drops the integrity headers from the first response of each
// data blob, as a misbehaving proxy might.
type strippingTransport struct {
	firstTries
}

func (s *strippingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !isDataBlob(req) {
		return resp, err
	}
	if s.first(req.URL.Path) {
		resp.Header.Del("Content-MD5")
		resp.Header.Del(HashChainHeader)
	}
	return resp, nil
}

func TestReadRefetchesBlobWhoseIntegrityHeadersWentMissing(t *testing.T) {
	b := fiveBlobBuffer(t)
	client := &http.Client{Transport: &strippingTransport{}}
	var out bytes.Buffer
	if _, err := Read(context.Background(), StaticURL(b.read), &out, ReadOptions{HTTPClient: client}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), genData(0, 5<<10)) {
		t.Fatal("data differs")
	}
}

// damagingTransport loses the Content-MD5 header of one data blob's PUT and flips
// a byte of its body, so storage cannot notice the damage by itself.
type damagingTransport struct {
	path string
}

func (d damagingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, d.path) && req.ContentLength > 0 {
		body, _ := io.ReadAll(req.Body)
		body[0] ^= 0xFF
		req = req.Clone(req.Context())
		req.Header.Del("Content-MD5")
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestWriteFailsWhenStorageStoredOtherBytesThanSent(t *testing.T) {
	b := newBuffer(t)
	client := &http.Client{Transport: damagingTransport{path: "/00/001"}}
	_, err := Write(context.Background(), StaticURL(b.write), bytes.NewReader(genData(0, 3<<10)), WriteOptions{BlockSize: 1 << 10, HTTPClient: client})
	if err == nil || !strings.Contains(err.Error(), "damaged on the way to storage") {
		t.Fatalf("err = %v", err)
	}
	if _, err := b.readAll(context.Background(), ReadOptions{}); err == nil {
		t.Fatal("the damaged buffer reads back without error")
	}
}
