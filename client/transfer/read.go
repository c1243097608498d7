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
	buf        []byte // pooled backing array, nil for an empty blob
	data       []byte
	contentMD5 string // header value as sent, which the chain is computed over
	chain      string
	hasChain   bool
	err        error
}

// reader holds the state shared by one Read's goroutines.
type reader struct {
	c        *containerClient
	pool     *blockPool
	budget   *byteBudget
	hasher   *md5Hasher
	complete atomic.Bool  // .bufferend says complete: a missing blob will never appear
	final    atomic.Int64 // number of the terminal empty blob once seen, else -1
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

	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Downloads may run this far ahead of the blob being written to w; it is what
	// bounds memory to about window blocks.
	window := opts.DOP + 4
	budget, stopBudget := newByteBudget(rctx, min(int64(window)*DefaultBlockSize, opts.MemoryLimit))
	defer stopBudget()
	rd := &reader{c: c, pool: newBlockPool(window, 0), budget: budget, hasher: newMD5Hasher(opts.DOP)}
	defer rd.hasher.close()
	rd.final.Store(-1)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil) // runs before wg.Wait: stop the helpers, then wait for them
	wg.Go(func() {
		if err := rd.pollEnd(rctx); err != nil {
			cancel(err)
		}
	})

	// A helper's failure cancels rctx; report that root cause, not the
	// cancellation it caused elsewhere.
	cause := func(err error) error {
		if rctx.Err() != nil {
			return context.Cause(rctx)
		}
		return err
	}
	if err := rd.readStart(rctx); err != nil {
		return Stats{}, cause(err)
	}

	// Workers claim blob numbers in order and queue their result slot in the same
	// order, so the consumer below can take results strictly in sequence while the
	// downloads themselves overlap.
	var (
		mu     sync.Mutex
		next   int64
		slots  = make(chan chan fetched, window)
		tokens = make(chan struct{}, window)
	)
	for range opts.DOP {
		wg.Go(func() {
			for {
				select {
				case tokens <- struct{}{}:
				case <-rctx.Done():
					return
				}
				mu.Lock()
				n := next
				next++
				slot := make(chan fetched, 1)
				slots <- slot
				mu.Unlock()
				if f := rd.final.Load(); f >= 0 && n > f {
					return
				}
				res := rd.fetchData(rctx, n)
				slot <- res
				if res.err != nil {
					return
				}
			}
		})
	}

	var stats Stats
	prev := InitialHashChain
	for {
		var slot chan fetched
		var res fetched
		select {
		case slot = <-slots:
		case <-rctx.Done():
			return stats, context.Cause(rctx)
		}
		select {
		case res = <-slot:
		case <-rctx.Done():
			return stats, context.Cause(rctx)
		}
		if res.err != nil {
			return stats, cause(res.err)
		}
		name := BlobPath(res.n)
		chain := NextHashChain(prev, res.contentMD5)
		if chain != res.chain {
			return stats, corruptf("hash chain mismatch at blob %s: the buffer is corrupt", name)
		}
		if len(res.data) == 0 {
			return stats, cause(rd.checkNotFailed(rctx))
		}
		if _, err := w.Write(res.data); err != nil {
			return stats, fmt.Errorf("writing output: %w", err)
		}
		prev = chain
		stats.Bytes += int64(len(res.data))
		stats.Blobs++
		opts.Progress(stats.Bytes)
		rd.budget.advance(res.n + 1)
		rd.release(&res)
		<-tokens
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
			if err := sleep(ctx, endPollInterval); err != nil {
				return nil
			}
			continue
		}
		var end struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(res.data, &end); err != nil {
			return corruptf("blob %s is not valid JSON: %v", endBlobName, err)
		}
		if end.Status == "failed" {
			return ErrBufferFailed
		}
		if end.Status != "complete" {
			rd.c.logf("blob %s has unexpected status %q; treating the buffer as complete", endBlobName, end.Status)
		}
		rd.complete.Store(true)
		return nil
	}
}

// checkNotFailed looks once more at .bufferend when the reader reaches the end of
// the data before the poller saw the writer finish. Our writer never writes the
// terminal blob of a failed buffer, but some writers (Tyger, on an input error)
// may, and then a failed marker already there must win over the empty blob.
func (rd *reader) checkNotFailed(ctx context.Context) error {
	if rd.complete.Load() {
		return nil
	}
	res, err := rd.fetch(ctx, endBlobName, -1)
	if err != nil || res == nil {
		// No marker yet: the terminal blob is the writer's word that data is complete.
		return nil
	}
	var end struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(res.data, &end) == nil && end.Status == "failed" {
		return ErrBufferFailed
	}
	return nil
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
			if err := sleep(ctx, blobWait(tries)); err != nil {
				return err
			}
			continue
		}
		var start struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(res.data, &start); err != nil {
			return corruptf("blob %s is not valid JSON: %v", startBlobName, err)
		}
		if start.Version != bufferFormatVers {
			return fmt.Errorf("unsupported buffer format version %q; expected %q", start.Version, bufferFormatVers)
		}
		return nil
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
		if err := sleep(ctx, blobWait(tries)); err != nil {
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
		switch {
		case resp.StatusCode == http.StatusOK:
		case resp.StatusCode == http.StatusNotFound && resp.code == "ContainerNotFound":
			return nil, ErrBufferNotFound
		case resp.StatusCode == http.StatusNotFound:
			return nil, nil
		case resp.StatusCode == http.StatusForbidden && resp.code == "AuthorizationPermissionMismatch":
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
		if err := sleep(ctx, rd.c.retry.wait(tries, nil)); err != nil {
			return nil, err
		}
	}
}

var errMD5Mismatch = errors.New("MD5 mismatch")

func (rd *reader) readBody(ctx context.Context, name string, n int64, resp *response) (res *fetched, err error) {
	defer resp.Body.Close()
	var lane hashLane // the MD5 computed while the body arrives, if any
	size := resp.ContentLength
	if size < 0 {
		return nil, fmt.Errorf("downloading blob %s: no Content-Length", name)
	}
	headerMD5 := resp.Header.Get("Content-MD5")
	chain := resp.Header.Values(HashChainHeader)
	res = &fetched{contentMD5: headerMD5, hasChain: len(chain) > 0}
	if res.hasChain {
		res.chain = chain[0]
	}
	isMetadata := n < 0
	if isMetadata && size > maxMetadataSize {
		return nil, corruptf("blob %s is %d bytes, too big for a metadata blob", name, size)
	}
	if size > maxBlobSize {
		return nil, corruptf("blob %s is %d bytes, more than Blob Storage accepts in one Put", name, size)
	}
	if size > 0 {
		var buf []byte
		if isMetadata {
			// Small, and kept by the caller: not from the pool, which bounds data blobs.
			buf = make([]byte, size)
		} else {
			if err := rd.budget.acquire(ctx, n, size); err != nil {
				return nil, err
			}
			if buf, err = rd.pool.get(ctx, int(size)); err != nil {
				rd.budget.release(size)
				return nil, err
			}
		}
		if !isMetadata && size >= minSIMDBlob {
			lane = rd.hasher.lane()
		}
		if lane != nil {
			defer lane.Close()
		}
		if err := readHashing(resp.Body, buf[:size], lane); err != nil {
			if !isMetadata {
				rd.pool.put(buf)
				rd.budget.release(size)
			}
			return nil, fmt.Errorf("downloading blob %s: %w", name, err)
		}
		res.data = buf[:size]
		if !isMetadata {
			res.buf = buf
		}
	}
	if !isMetadata && !res.hasChain {
		rd.release(res)
		return nil, suspectf("blob %s has no hash chain header", name)
	}
	if headerMD5 == "" {
		// Data blobs need it: the hash chain is computed over it.
		if !isMetadata {
			rd.release(res)
			return nil, suspectf("blob %s has no Content-MD5 header", name)
		}
		return res, nil
	}
	want, err := base64.StdEncoding.DecodeString(headerMD5)
	if err != nil || len(want) != md5.Size {
		rd.release(res)
		return nil, suspectf("blob %s has an invalid Content-MD5 header %q", name, headerMD5)
	}
	var got [md5.Size]byte
	if lane != nil {
		lane.Sum(got[:0])
	} else {
		got = md5.Sum(res.data)
	}
	if !bytes.Equal(got[:], want) {
		rd.release(res)
		return nil, fmt.Errorf("blob %s: %w", name, errMD5Mismatch)
	}
	return res, nil
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

// release returns a data blob's buffer and its share of the byte budget.
func (rd *reader) release(res *fetched) {
	if res.buf != nil {
		rd.pool.put(res.buf)
		rd.budget.release(int64(len(res.data)))
	}
}

// byteBudget bounds the bytes of downloaded, not yet consumed blobs, whatever
// size the writer chose for its blobs. The blob the consumer needs next is
// always admitted, so blobs bigger than the budget slow a read down (to about
// one blob at a time) instead of deadlocking it.
type byteBudget struct {
	mu    sync.Mutex
	cond  sync.Cond
	limit int64
	held  int64
	next  int64 // the blob number the consumer waits for
}

func newByteBudget(ctx context.Context, limit int64) (*byteBudget, func() bool) {
	b := &byteBudget{limit: limit}
	b.cond.L = &b.mu
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.cond.Broadcast()
	})
	return b, stop
}

func (b *byteBudget) acquire(ctx context.Context, n, size int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.held+size > b.limit && n != b.next {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		b.cond.Wait()
	}
	b.held += size
	return nil
}

func (b *byteBudget) release(size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held -= size
	b.cond.Broadcast()
}

// advance records that the consumer now waits for blob next.
func (b *byteBudget) advance(next int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next = next
	b.cond.Broadcast()
}
