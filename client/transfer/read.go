package transfer

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"spool/internal/backoff"
	"spool/internal/model"
)

const (
	// DefaultReadDOP is Tyger's default number of parallel downloads.
	DefaultReadDOP = 32
	// endPollInterval is how often a reader looks for .bufferend while data is
	// still arriving. Tyger polls every 5 s; one small GET a second costs nothing
	// next to the data and lets readers of a failed buffer stop sooner.
	endPollInterval = time.Second
	// bodyReadTries bounds retries of a blob whose body broke off mid-transfer.
	bodyReadTries = 7
	// maxMetadataSize caps what a reader accepts as .bufferstart or .bufferend,
	// which are a few dozen bytes of JSON.
	maxMetadataSize = 64 << 10
	// maxBlobSize is Azure's limit for one Put Blob; no writer makes bigger blobs.
	maxBlobSize = 5000 << 20
)

// blobWait is how long a reader sleeps before asking again for a blob that does
// not exist yet, after tries earlier attempts: quick at first, then easing off for
// a writer that is slow or gone.
func blobWait(tries int) time.Duration {
	switch {
	case tries < 10:
		return 100 * time.Millisecond
	case tries < 100:
		return 500 * time.Millisecond
	case tries < 1000:
		return time.Second
	default:
		return 5 * time.Second
	}
}

// fetched is one downloaded, MD5-verified blob.
type fetched struct {
	n          int64
	buf        []byte // the budget's buffer, nil for an empty or metadata blob
	data       []byte
	contentMD5 string // header value as sent, which the chain is computed over
	chain      string
	hasChain   bool
	header     http.Header // a metadata blob's response headers
	err        error
}

// reader holds the state shared by one Read's goroutines.
type reader struct {
	c        *containerClient
	memory   *blobMemory
	hasher   *md5Hasher
	complete atomic.Bool  // .bufferend says complete: a missing blob will never appear
	final    atomic.Int64 // number of the terminal empty blob once seen, else -1
	// seal is .bufferend once seen; heartbeat the interval .bufferstart declares
	// (0: none); life the idle watch, nil without an idle timeout.
	seal      atomic.Pointer[model.Seal]
	heartbeat atomic.Int64
	life      *liveness
	total     func(int64)

	// Workers claim blob numbers in order and queue their result slot in the same
	// order, so the output can take results strictly in sequence while the
	// downloads themselves overlap; slots bounds how far ahead they claim.
	mu    sync.Mutex
	next  int64
	slots chan chan fetched
}

func newReader(ctx context.Context, c *containerClient, opts ReadOptions) (*reader, func()) {
	// Downloads may run this far ahead of the blob being written to the output.
	window := opts.DOP + 4
	memory, stopMemory := newBlobMemory(ctx, min(int64(window)*DefaultBlockSize, opts.MemoryLimit))
	rd := &reader{c: c, memory: memory, hasher: newMD5Hasher(opts.DOP), slots: make(chan chan fetched, window),
		life: newLiveness(opts.IdleTimeout, opts.IdleTimeoutAlways), total: opts.Total}
	rd.final.Store(-1)
	return rd, func() {
		stopMemory()
		rd.hasher.close()
	}
}

// Read streams the buffer behind src to w. It waits for data still being written,
// and writes a blob's bytes to w only after its MD5 and hash chain check out, so w
// never receives bytes that are not verifiably the writer's.
func Read(ctx context.Context, src AccessSource, w io.Writer, opts ReadOptions) (Stats, error) {
	opts, err := opts.validate()
	if err != nil {
		return Stats{}, err
	}
	c, cleanup := newContainer(src, opts.HTTPClient, opts.Logf)
	defer cleanup()
	return readFrom(ctx, c, w, opts, resumePoint{chain: InitialHashChain})
}

// readFrom reads the buffer from data blob at.blobs on, the blobs before it
// (at.bytes bytes ending in chain at.chain) taken as read already.
func readFrom(ctx context.Context, c *containerClient, w io.Writer, opts ReadOptions, at resumePoint) (Stats, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rd, stop := newReader(rctx, c, opts)
	defer stop()
	rd.next = at.blobs
	rd.memory.advance(at.blobs)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil) // runs before wg.Wait: stop the helpers, then wait for them
	for _, helper := range []func(context.Context) error{rd.pollEnd, rd.watchWriter} {
		wg.Go(func() {
			if err := helper(rctx); err != nil {
				cancel(err)
			}
		})
	}
	if err := rd.readStart(rctx); err != nil {
		return Stats{}, rootCause(rctx, err)
	}
	for range opts.DOP {
		wg.Go(func() { rd.download(rctx) })
	}
	return rd.output(rctx, w, opts.Progress, at)
}

// rootCause reports why ctx ended if it did: a helper's failure cancels it, and
// that, not the cancellation it caused elsewhere, is what went wrong.
func rootCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// download is one worker: it claims the next blob number and fetches it, until
// the read ends or a fetch fails.
func (rd *reader) download(ctx context.Context) {
	for {
		n, slot, ok := rd.claim(ctx)
		if !ok {
			return
		}
		if f := rd.final.Load(); f >= 0 && n > f {
			return
		}
		res := rd.fetchData(ctx, n)
		slot <- res
		if res.err != nil {
			return
		}
	}
}

// claim takes the next blob number and queues its result slot.
func (rd *reader) claim(ctx context.Context) (int64, chan fetched, bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	slot := make(chan fetched, 1)
	select {
	case rd.slots <- slot:
	case <-ctx.Done():
		return 0, nil, false
	}
	n := rd.next
	rd.next++
	return n, slot, true
}

// output takes the fetched blobs in order, checks the hash chain across them and
// writes their bytes to w, until the terminal empty blob.
func (rd *reader) output(ctx context.Context, w io.Writer, progress Progress, at resumePoint) (Stats, error) {
	stats := Stats{Bytes: at.bytes, Blobs: at.blobs}
	prev := at.chain
	for {
		res, err := rd.nextResult(ctx)
		if err != nil {
			return stats, rootCause(ctx, err)
		}
		chain := NextHashChain(prev, res.contentMD5)
		if chain != res.chain {
			return stats, corruptf("hash chain mismatch at blob %s: the buffer is corrupt", BlobPath(res.n))
		}
		if len(res.data) == 0 {
			stats.HashChain = chain
			return stats, rootCause(ctx, rd.checkSeal(ctx, stats))
		}
		if _, err := w.Write(res.data); err != nil {
			return stats, fmt.Errorf("writing output: %w", err)
		}
		prev = chain
		stats.Bytes += int64(len(res.data))
		stats.Blobs++
		progress(stats.Bytes)
		rd.memory.advance(res.n + 1)
		rd.release(&res)
	}
}

// nextResult waits for the blob the output needs next.
func (rd *reader) nextResult(ctx context.Context) (fetched, error) {
	var slot chan fetched
	select {
	case slot = <-rd.slots:
	case <-ctx.Done():
		return fetched{}, context.Cause(ctx)
	}
	select {
	case res := <-slot:
		return res, res.err
	case <-ctx.Done():
		return fetched{}, context.Cause(ctx)
	}
}

// pollEnd watches .bufferend until the writer finished: complete lets missing
// blobs count as missing, failed ends the read.
func (rd *reader) pollEnd(ctx context.Context) error {
	for {
		res, err := rd.fetch(ctx, endBlobName, -1)
		switch {
		case err != nil:
			return err
		case res == nil:
			if err := backoff.Sleep(ctx, endPollInterval); err != nil {
				return nil
			}
			continue
		}
		seal, err := rd.takeSeal(res.data)
		if err != nil {
			return err
		}
		if seal.Status != model.StatusComplete {
			rd.c.logf("blob %s has unexpected status %q; treating the buffer as complete", endBlobName, seal.Status)
		}
		rd.complete.Store(true)
		return nil
	}
}

// takeSeal parses and keeps .bufferend: a failed buffer ends the read, and a
// sealed size is the transfer's total from now on.
func (rd *reader) takeSeal(body []byte) (model.Seal, error) {
	seal, err := model.ParseSeal(body)
	if err != nil {
		return seal, corruptf("blob %s: %v", endBlobName, err)
	}
	if !rd.seal.CompareAndSwap(nil, &seal) {
		return *rd.seal.Load(), nil
	}
	if seal.Status == model.StatusFailed {
		return seal, ErrBufferFailed
	}
	if seal.Sealed() && rd.total != nil {
		rd.total(*seal.Size)
	}
	return seal, nil
}

// checkSeal decides, at the terminal empty blob, whether the data read is the
// writer's whole buffer. A writer that declared a heartbeat also seals, so its
// seal is waited for (while the idle watch runs) and the data checked against
// it: an empty blob forged early, or a tail gone missing, fails here. For other
// writers (Tyger's), whose seal may never come, .bufferend is looked at once
// more: our writer never writes the terminal blob of a failed buffer, but some
// (Tyger, on an input error) may, and then a failed marker must win.
func (rd *reader) checkSeal(ctx context.Context, stats Stats) error {
	seal, err := rd.awaitSeal(ctx)
	if err != nil || seal == nil {
		return err
	}
	if seal.Status == model.StatusFailed {
		return ErrBufferFailed
	}
	if !seal.Sealed() {
		if rd.heartbeat.Load() > 0 {
			return corruptf("blob %s holds no size and final chain, though its writer seals: it is forged", endBlobName)
		}
		return nil
	}
	if *seal.Size != stats.Bytes || *seal.Blobs != stats.Blobs || seal.HashChain != stats.HashChain {
		return corruptf("the data ends after %d bytes in %d blobs with chain %s, but the writer sealed the buffer at %d bytes in %d blobs with chain %s: its end blob is forged or its tail is missing",
			stats.Bytes, stats.Blobs, stats.HashChain, *seal.Size, *seal.Blobs, seal.HashChain)
	}
	return nil
}

// awaitSeal returns .bufferend, waiting for it when the writer declared a
// heartbeat; nil when a writer without one has not written it.
func (rd *reader) awaitSeal(ctx context.Context) (*model.Seal, error) {
	done := func() {}
	defer func() { done() }()
	for tries := 0; ; tries++ {
		if seal := rd.seal.Load(); seal != nil {
			return seal, nil
		}
		res, err := rd.fetch(ctx, endBlobName, -1)
		if err != nil {
			return nil, err
		}
		if res != nil {
			seal, err := rd.takeSeal(res.data)
			return &seal, err
		}
		if rd.heartbeat.Load() == 0 {
			return nil, nil
		}
		if tries == 0 {
			done = rd.life.waiting()
		}
		if err := backoff.Sleep(ctx, blobWait(tries)); err != nil {
			return nil, err
		}
	}
}

// readStart waits for .bufferstart and checks the format version.
func (rd *reader) readStart(ctx context.Context) error {
	for tries := 0; ; tries++ {
		complete := rd.complete.Load()
		res, err := rd.fetch(ctx, startBlobName, -1)
		if err != nil {
			return err
		}
		if res == nil {
			if complete {
				return corruptf("blob %s is missing: the buffer is corrupt", startBlobName)
			}
			if tries == 0 {
				defer rd.life.waiting()()
			}
			if err := backoff.Sleep(ctx, blobWait(tries)); err != nil {
				return err
			}
			continue
		}
		rd.life.alive()
		var start struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(res.data, &start); err != nil {
			return corruptf("blob %s is not valid JSON: %v", startBlobName, err)
		}
		if start.Version != bufferFormatVers {
			return fmt.Errorf("unsupported buffer format version %q; expected %q", start.Version, bufferFormatVers)
		}
		interval, err := declaredHeartbeat(res.header)
		rd.heartbeat.Store(int64(interval))
		return err
	}
}

// fetchData downloads data blob n, waiting for it while the writer may still be
// writing it.
func (rd *reader) fetchData(ctx context.Context, n int64) fetched {
	name := BlobPath(n)
	for tries := 0; ; tries++ {
		// Read before the request: if the writer had finished before we asked, a
		// 404 means the blob will never exist.
		complete := rd.complete.Load()
		res, err := rd.fetch(ctx, name, n)
		if err != nil {
			return fetched{n: n, err: err}
		}
		if res != nil {
			rd.life.alive()
			res.n = n
			if len(res.data) == 0 {
				for {
					f := rd.final.Load()
					if (f >= 0 && f <= n) || rd.final.CompareAndSwap(f, n) {
						break
					}
				}
			}
			return *res
		}
		if complete {
			// Past the end is harmless: the consumer stops at the empty blob first.
			return fetched{n: n, err: corruptf("blob %s is missing: the buffer is corrupt", name)}
		}
		if tries == 0 {
			defer rd.life.waiting()()
		}
		if err := backoff.Sleep(ctx, blobWait(tries)); err != nil {
			return fetched{n: n, err: err}
		}
	}
}

// fetch GETs one blob and checks its body against Content-MD5, retrying broken or
// corrupted transfers. n is the data blob's number, or -1 for a metadata blob. A
// nil result with no error means the blob does not exist (yet).
func (rd *reader) fetch(ctx context.Context, name string, n int64) (*fetched, error) {
	suspects := 0
	for tries := 0; ; tries++ {
		resp, err := rd.c.do(ctx, http.MethodGet, name, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("downloading blob %s: %w", name, err)
		}
		switch resp.answer {
		case answerOK:
		case answerNoContainer:
			return nil, ErrBufferNotFound
		case answerNoBlob:
			return nil, nil
		case answerNotPermitted:
			return nil, ErrReadNotAllowed
		default:
			resp.Body.Close()
			return nil, fmt.Errorf("downloading blob %s: %w", name, resp.statusError())
		}
		res, err := rd.readBody(ctx, name, n, resp)
		if err == nil {
			return res, nil
		}
		var ce *corruptionError
		isCorrupt := errors.As(err, &ce)
		if errors.Is(err, errMD5Mismatch) || (isCorrupt && ce.suspect) {
			// Bytes or headers damaged on the way (a proxy, a bad NIC) look the same
			// as damage in storage; only a repeat tells them apart.
			suspects++
			if suspects < md5MismatchTries {
				rd.c.logf("retrying blob %s: %v", name, err)
				continue
			}
			if isCorrupt {
				return nil, err
			}
			return nil, fmt.Errorf("blob %s failed its MD5 check %d times: it is corrupted in storage or in transit", name, suspects)
		}
		if isCorrupt || ctx.Err() != nil || tries+1 >= bodyReadTries {
			return nil, err
		}
		rd.c.logf("retrying blob %s: %v", name, err)
		if err := backoff.Sleep(ctx, rd.c.retry.backoff.Delay(tries)); err != nil {
			return nil, err
		}
	}
}

var errMD5Mismatch = errors.New("MD5 mismatch")

// readBody reads a 200 answer's body and checks it against the blob's headers.
// n is the data blob's number, or -1 for a metadata blob.
func (rd *reader) readBody(ctx context.Context, name string, n int64, resp *response) (*fetched, error) {
	defer resp.Body.Close()
	res, err := blobHeaders(name, n, resp)
	if err != nil {
		return nil, err
	}
	var lane hashLane // the MD5 computed while the body arrives, if any
	if size := resp.ContentLength; size > 0 {
		if n >= 0 && size >= minSIMDBlob {
			lane = rd.hasher.lane()
		}
		if lane != nil {
			defer lane.Close()
		}
		if err := rd.readData(ctx, name, n, resp.Body, size, lane, res); err != nil {
			return nil, err
		}
	}
	if err := checkIntegrity(name, n, res, lane); err != nil {
		rd.release(res)
		return nil, err
	}
	return res, nil
}

// blobHeaders takes a blob's size and integrity headers, refusing sizes no
// writer makes.
func blobHeaders(name string, n int64, resp *response) (*fetched, error) {
	size := resp.ContentLength
	if size < 0 {
		return nil, fmt.Errorf("downloading blob %s: no Content-Length", name)
	}
	if n < 0 && size > maxMetadataSize {
		return nil, corruptf("blob %s is %d bytes, too big for a metadata blob", name, size)
	}
	if size > maxBlobSize {
		return nil, corruptf("blob %s is %d bytes, more than Blob Storage accepts in one Put", name, size)
	}
	chain := resp.Header.Values(HashChainHeader)
	res := &fetched{contentMD5: resp.Header.Get("Content-MD5"), hasChain: len(chain) > 0}
	if n < 0 {
		res.header = resp.Header
	}
	if res.hasChain {
		res.chain = chain[0]
	}
	return res, nil
}

// readData reads size bytes of body into res, in a buffer from the memory budget
// for a data blob.
func (rd *reader) readData(ctx context.Context, name string, n int64, body io.Reader, size int64, lane hashLane, res *fetched) error {
	var buf []byte
	if n < 0 {
		// Small, and kept by the caller: not from the budget, which bounds data blobs.
		buf = make([]byte, size)
	} else {
		var err error
		if buf, err = rd.memory.get(ctx, n, size); err != nil {
			return err
		}
		res.buf = buf
	}
	res.data = buf[:size]
	if err := readHashing(body, res.data, lane); err != nil {
		rd.release(res)
		return fmt.Errorf("downloading blob %s: %w", name, err)
	}
	return nil
}

// checkIntegrity compares a downloaded blob with its Content-MD5 and, for a data
// blob, makes sure it has what the hash chain needs.
func checkIntegrity(name string, n int64, res *fetched, lane hashLane) error {
	if n >= 0 && !res.hasChain {
		return suspectf("blob %s has no hash chain header", name)
	}
	if res.contentMD5 == "" {
		if n >= 0 {
			// Data blobs need it: the hash chain is computed over it.
			return suspectf("blob %s has no Content-MD5 header", name)
		}
		return nil
	}
	want, err := base64.StdEncoding.DecodeString(res.contentMD5)
	if err != nil || len(want) != md5.Size {
		return suspectf("blob %s has an invalid Content-MD5 header %q", name, res.contentMD5)
	}
	var got [md5.Size]byte
	if lane != nil {
		lane.Sum(got[:0])
	} else {
		got = md5.Sum(res.data)
	}
	if !bytes.Equal(got[:], want) {
		return fmt.Errorf("blob %s: %w", name, errMD5Mismatch)
	}
	return nil
}

// readHashing fills buf from body, feeding each piece to lane (when not nil) as
// it arrives. Parallel downloads stream at the same time, so their lanes fill
// md5-simd's vector registers together and the hashing is done when the last
// byte lands.
func readHashing(body io.Reader, buf []byte, lane hashLane) error {
	const piece = 256 << 10
	for off := 0; off < len(buf); {
		n, err := body.Read(buf[off:min(off+piece, len(buf))])
		if n > 0 && lane != nil {
			lane.Write(buf[off : off+n])
		}
		off += n
		if err == io.EOF && off < len(buf) {
			return io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// release gives a data blob's buffer back to the memory budget.
func (rd *reader) release(res *fetched) {
	if res.buf != nil {
		rd.memory.put(res.buf)
		res.buf = nil
	}
}
