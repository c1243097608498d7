package transfer

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"spool/internal/model"
)

// Defaults from Tyger's writer.
const (
	DefaultWriteDOP  = 16      // parallel uploads
	DefaultBlockSize = 4 << 20 // bytes per data blob
	// endMarkerTimeout bounds writing the failed marker after the caller gave up.
	endMarkerTimeout = 3 * time.Second
	md5MismatchTries = 6
)

// Bodies of the metadata blobs, byte for byte as Tyger writes them.
var (
	startBlobBody    = []byte(`{"version":"0.3.0"}`)
	endBlobComplete  = []byte(`{"status":"complete"}`)
	endBlobFailed    = []byte(`{"status":"failed"}`)
	bufferFormatVers = "0.3.0"
)

// block is one data blob on its way to storage.
type block struct {
	n          int64
	buf        []byte // pooled backing array
	data       []byte // buf[:length]
	contentMD5 string
	chain      string
}

// Write streams r into the buffer behind src as numbered, hash-chained blobs. It
// refuses a buffer that already has data. If r fails or ctx is cancelled, the
// buffer is marked failed so readers stop instead of waiting for more data.
//
// After a cancellation Write may return while a goroutine is still blocked in
// r.Read; that goroutine discards whatever the read returns.
func Write(ctx context.Context, src AccessSource, r io.Reader, opts WriteOptions) (Stats, error) {
	opts, c, cleanup, err := openWrite(src, opts)
	if err != nil {
		return Stats{}, err
	}
	defer cleanup()
	return writeNew(ctx, c, r, opts)
}

// openWrite checks opts and makes the container client a write uses.
func openWrite(src AccessSource, opts WriteOptions) (WriteOptions, *containerClient, func(), error) {
	opts, note, err := opts.validate()
	if err != nil {
		return opts, nil, nil, err
	}
	c, cleanup := newContainer(src, opts.HTTPClient, opts.Logf)
	if note != "" {
		c.logf("%s", note)
	}
	return opts, c, cleanup, nil
}

// writeNew writes a buffer that has no data yet.
func writeNew(ctx context.Context, c *containerClient, r io.Reader, opts WriteOptions) (Stats, error) {
	if err := checkBufferEmpty(ctx, c); err != nil {
		return Stats{}, err
	}
	// If the start marker cannot be written, nothing of ours is in the buffer, so
	// there is nothing to mark failed either (and it may be someone else's buffer).
	if err := putBlob(ctx, c, startPut(opts)); err != nil {
		return Stats{}, err
	}
	stopHeartbeat := startHeartbeat(ctx, c, opts.HeartbeatInterval, 0)
	stats, finalChain, err := writeBlocks(ctx, c, r, opts, resumePoint{chain: InitialHashChain})
	return seal(ctx, c, stats, finalChain, err, stopHeartbeat)
}

// startPut is the .bufferstart of a new write: Tyger's body, plus this writer's
// token and its heartbeat interval as metadata.
func startPut(opts WriteOptions) blobPut {
	start := markerPut(startBlobName, startBlobBody)
	start.writer = newWriterToken()
	start.heartbeat = heartbeatValue(opts.HeartbeatInterval)
	return start
}

// seal ends a write: after data blobs that all landed, the terminal empty blob
// and a complete .bufferend carrying the size, blob count and final chain; after a
// failure, a failed .bufferend so readers stop instead of waiting for more data.
func seal(ctx context.Context, c *containerClient, stats Stats, finalChain string, err error, stopHeartbeat func()) (Stats, error) {
	if err == nil {
		// The terminal empty blob goes last, after every data blob has landed, so a
		// reader can never see an end of data before all of it is there.
		stats.HashChain = NextHashChain(finalChain, ContentMD5(nil))
		err = putBlob(ctx, c, dataPut(BlobPath(stats.Blobs), nil, ContentMD5(nil), stats.HashChain))
	}
	stopHeartbeat()
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endMarkerTimeout)
		defer cancel()
		if merr := putBlob(markCtx, c, markerPut(endBlobName, endBlobFailed)); merr != nil {
			c.logf("could not mark the buffer failed: %v", merr)
		}
		return stats, err
	}
	putSeal(ctx, c, stats)
	return stats, nil
}

// putSeal writes the complete .bufferend of data that stats describes.
func putSeal(ctx context.Context, c *containerClient, stats Stats) {
	body := model.Seal{Status: model.StatusComplete, Size: &stats.Bytes, Blobs: &stats.Blobs, HashChain: stats.HashChain}.Encode()
	if err := putBlob(ctx, c, markerPut(endBlobName, body)); err != nil {
		// Readers finish at the empty blob, so the data is complete without it.
		c.logf("could not write the end marker (the data is complete): %v", err)
	}
}

func checkBufferEmpty(ctx context.Context, c *containerClient) error {
	resp, err := c.do(ctx, http.MethodHead, startBlobName, nil, nil)
	if err != nil {
		return err
	}
	switch resp.answer {
	case answerOK:
		return ErrAnotherWriter
	case answerNoContainer:
		return ErrBufferNotFound
	case answerNoBlob:
		return nil
	case answerNotPermitted:
		// A create-only URL may not read; the Put that follows decides.
		return nil
	default:
		return fmt.Errorf("checking %s: %w", startBlobName, resp.statusError())
	}
}

// newWriterToken returns a random token that tells this writer's blobs from
// any other's.
func newWriterToken() string {
	return rand.Text()
}

// resumePoint is where writeBlocks starts: the number of data blobs already in
// the buffer, their bytes, and the chain value of the last of them.
type resumePoint struct {
	blobs, bytes int64
	chain        string
	// resumed: blobs ahead may be there from the interrupted write (its
	// parallel uploads can leave holes), and one identical to ours counts as ours.
	resumed   bool
	firstSize int64 // bytes of data blob 0, when there is one
}

// writeBlocks cuts r into blocks, hashes them in batches and uploads them with
// opts.DOP workers, numbering them from at. It returns the chain value of the
// last data blob.
//
// Three stages: the producer fills pooled blocks from r; the hasher computes
// their MD5s and, in block order, their chain values; the uploaders send them.
func writeBlocks(ctx context.Context, c *containerClient, r io.Reader, opts WriteOptions, at resumePoint) (Stats, string, error) {
	// The caller's ctx, plus the input's read error as a cancellation cause.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(wctx)

	batch := hashBatch(opts.DOP, opts.BlockSize)
	p := &pipeline{
		c:      c,
		opts:   opts,
		pool:   newBlockPool(int(writeBlocksHeld(opts.DOP, opts.BlockSize)), int(opts.BlockSize)),
		raw:    make(chan block),
		hashed: make(chan block),
		count:  at.blobs,
		at:     at,
	}
	p.done.Store(at.bytes)
	p.blobs.Store(at.blobs)
	hasher := newMD5Hasher(batch)
	defer hasher.close()

	go p.produce(gctx, r, cancel)
	var lastChain string
	g.Go(func() error {
		defer close(p.hashed)
		var err error
		lastChain, err = hashBlocks(gctx, p.raw, p.hashed, hasher, batch, at.chain)
		return err
	})
	for range opts.DOP {
		g.Go(func() error { return p.upload(gctx) })
	}
	werr := g.Wait()
	stats := Stats{Bytes: p.done.Load(), Blobs: p.blobs.Load()}
	if cause := context.Cause(wctx); cause != nil {
		// The input failed or the caller cancelled: that is the root cause, and the
		// other stages' errors are just its consequence.
		return stats, "", cause
	}
	if werr != nil {
		return stats, "", werr
	}
	return stats, lastChain, nil
}

// pipeline is the state writeBlocks' stages share.
type pipeline struct {
	c           *containerClient
	opts        WriteOptions
	pool        *blockPool
	raw, hashed chan block
	count       int64 // blocks produced; the producer's alone
	at          resumePoint
	done, blobs atomic.Int64
}

// produce fills blocks from r and passes them to the hasher; a read error
// cancels the write with it as the cause.
func (p *pipeline) produce(ctx context.Context, r io.Reader, cancel context.CancelCauseFunc) {
	defer close(p.raw)
	emit := func(buf []byte, n int) error {
		select {
		case p.raw <- block{n: p.count, buf: buf, data: buf[:n]}:
			p.count++
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	var err error
	if p.opts.FlushInterval > 0 {
		err = chunkWithInterval(ctx, r, p.pool, p.opts.FlushInterval, emit)
	} else {
		err = chunk(ctx, r, p.pool, emit)
	}
	if err != nil && ctx.Err() == nil {
		cancel(err)
	}
}

// upload is one uploader: it sends hashed blocks until there are no more.
func (p *pipeline) upload(ctx context.Context) error {
	for {
		var b block
		select {
		case next, ok := <-p.hashed:
			if !ok {
				return nil
			}
			b = next
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		put := dataPut(BlobPath(b.n), b.data, b.contentMD5, b.chain)
		put.identicalIsOurs = p.at.resumed
		if err := putBlob(ctx, p.c, put); err != nil {
			return err
		}
		p.pool.put(b.buf)
		p.blobs.Add(1)
		p.opts.Progress(p.done.Add(int64(len(b.data))))
	}
}

// Batched hashing. MD5 is most of a write's CPU, and one MD5 cannot be split
// across cores or vector lanes; several blocks hashed side by side in md5-simd's
// lanes cost little more than one. When storage is the bottleneck, blocks become
// free (and are refilled) one at a time, so the hasher waits a little to gather a
// batch; the pool holds a batch's worth of spare blocks, so uploaders find hashed
// blocks ready meanwhile.
const (
	maxHashBatch  = 4
	hashBatchWait = 100 * time.Millisecond
)

func hashBatch(dop int, blockSize int64) int {
	if dop < 4 || blockSize < minSIMDBlob {
		return 1
	}
	return maxHashBatch
}

// hashBlocks sets each block's Content-MD5 and chain value and passes it on in
// order. It returns the chain value of the last block.
func hashBlocks(ctx context.Context, in <-chan block, out chan<- block, hasher *md5Hasher, batch int, chain string) (string, error) {
	pending := make([]block, 0, batch)
	timer := time.NewTimer(hashBatchWait)
	defer timer.Stop()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				return chain, nil
			}
			pending = append(pending, b)
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
		ended := false
		timer.Reset(hashBatchWait)
	gather:
		for len(pending) < batch {
			select {
			case b, ok := <-in:
				if !ok {
					ended = true
					break gather
				}
				pending = append(pending, b)
			case <-timer.C:
				break gather
			case <-ctx.Done():
				return "", context.Cause(ctx)
			}
		}
		hasher.sumBlocks(pending)
		for _, b := range pending {
			chain = NextHashChain(chain, b.contentMD5)
			b.chain = chain
			select {
			case out <- b:
			case <-ctx.Done():
				return "", context.Cause(ctx)
			}
		}
		pending = pending[:0]
		if ended {
			return chain, nil
		}
	}
}

// blobPut is one blob a writer creates.
type blobPut struct {
	name       string
	data       []byte
	contentMD5 string
	chain      string // data blobs only
	// writer is set on .bufferstart only: this writer's random token, stored as
	// metadata, so a resent Put can tell its own landed try from a rival's
	// identical start blob. Readers (ours and Tyger's) ignore it.
	writer string
	// heartbeat is set on .bufferstart only: the writer's heartbeat interval.
	heartbeat string
	// identicalIsOurs lets an existing blob with this very MD5 and chain count
	// as written: a resumed write re-creating what the interrupted one landed.
	identicalIsOurs bool
}

// writerHeader carries a writer's token on the .bufferstart it created.
const writerHeader = "x-ms-meta-spool_writer"

func dataPut(name string, data []byte, contentMD5, chain string) blobPut {
	return blobPut{name: name, data: data, contentMD5: contentMD5, chain: chain}
}

func markerPut(name string, body []byte) blobPut {
	return blobPut{name: name, data: body, contentMD5: ContentMD5(body)}
}

func (p blobPut) header() http.Header {
	header := http.Header{
		"X-Ms-Blob-Type": {"BlockBlob"},
		"Content-Md5":    {p.contentMD5},
		// Create only: storage refuses the Put atomically when the blob exists, so
		// of two writers racing for a buffer exactly one gets its .bufferstart in
		// (a create-only SAS alone is checked before the write, not with it).
		"If-None-Match": {"*"},
	}
	if p.chain != "" {
		header.Set(HashChainHeader, p.chain)
	}
	if p.writer != "" {
		header.Set(writerHeader, p.writer)
	}
	if p.heartbeat != "" {
		header.Set(heartbeatHeader, p.heartbeat)
	}
	return header
}

// putBlob creates one blob. A blob that already exists counts as written only if
// it is byte-for-byte our earlier try, judged by its Content-MD5, chain header and
// writer token.
func putBlob(ctx context.Context, c *containerClient, p blobPut) error {
	header := p.header()
	for try := 1; ; try++ {
		resp, err := c.do(ctx, http.MethodPut, p.name, p.data, header)
		if err != nil {
			return fmt.Errorf("uploading blob %s: %w", p.name, err)
		}
		switch resp.answer {
		case answerOK:
			// Storage echoes the MD5 of what it stored. It can differ from ours only if
			// our Content-MD5 header was lost on the way and the body damaged; the
			// blob cannot be replaced, so the buffer must not be completed.
			if stored := resp.Header.Get("Content-MD5"); stored != "" && stored != p.contentMD5 {
				return fmt.Errorf("blob %s was stored with MD5 %s instead of %s: the data was damaged on the way to storage", p.name, stored, p.contentMD5)
			}
			return nil
		case answerMD5Mismatch:
			if try < md5MismatchTries {
				c.logf("retrying blob %s: storage saw an MD5 mismatch (corrupted in transit)", p.name)
				continue
			}
			return fmt.Errorf("uploading blob %s: storage saw an MD5 mismatch %d times: data is being corrupted in transit", p.name, try)
		case answerNoContainer:
			return ErrBufferNotFound
		case answerExists, answerNotPermitted:
			// Azure and Azurite answer an overwrite under a create-only URL differently
			// (platform notes); a read-only URL gets the same answer as Azurite's.
			return checkLanded(ctx, c, p, resp)
		default:
			return fmt.Errorf("uploading blob %s: %w", p.name, resp.statusError())
		}
	}
}

// checkLanded decides, after storage refused a Put, whether the blob there is our
// own earlier try (success), someone else's (overwrite refused), or absent (the
// URL may not create blobs at all). Only a Put that was resent can have landed
// before; without that, the blob is a concurrent writer's, and taking it for ours
// would let two writers share a buffer.
func checkLanded(ctx context.Context, c *containerClient, p blobPut, refused *response) error {
	resp, err := c.do(ctx, http.MethodHead, p.name, nil, nil)
	if err != nil {
		return fmt.Errorf("checking existing blob %s: %w", p.name, err)
	}
	switch resp.answer {
	case answerOK:
		h := resp.Header
		if (refused.resent || p.identicalIsOurs) && h.Get("Content-MD5") == p.contentMD5 && h.Get(HashChainHeader) == p.chain && h.Get(writerHeader) == p.writer {
			return nil
		}
		if p.name == startBlobName {
			return ErrAnotherWriter
		}
		return fmt.Errorf("blob %s already exists with other content: %w", p.name, ErrBufferHasData)
	case answerNoContainer:
		return ErrBufferNotFound
	case answerNoBlob:
		if refused.answer == answerNotPermitted {
			return ErrWriteNotAllowed
		}
		return fmt.Errorf("uploading blob %s: storage refused it (%s) but it does not exist", p.name, refused.code)
	default:
		if refused.answer == answerNotPermitted {
			return ErrWriteNotAllowed
		}
		return fmt.Errorf("checking existing blob %s: %w", p.name, resp.statusError())
	}
}
