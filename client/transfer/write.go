package transfer

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Defaults from Tyger's writer.
const (
	DefaultWriteDOP  = 16
	DefaultBlockSize = 4 << 20
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

func (o WriteOptions) validate() (WriteOptions, error) {
	if o.DOP == 0 {
		o.DOP = DefaultWriteDOP
	}
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.DOP < 1 {
		return o, fmt.Errorf("invalid dop %d: it must be at least 1", o.DOP)
	}
	if o.BlockSize < 1 {
		return o, fmt.Errorf("invalid block size %d: it must be at least 1 byte", o.BlockSize)
	}
	// One Put Blob is limited to about 5000 MiB by Azure.
	if o.BlockSize > 4000<<20 {
		return o, fmt.Errorf("invalid block size %d: it must be at most 4000 MiB", o.BlockSize)
	}
	if o.Progress == nil {
		o.Progress = func(int64) {}
	}
	return o, nil
}

// block is one data blob on its way to storage. Chain values pass from each block
// to the next through prev/next, so hashing runs in order while uploads overlap.
type block struct {
	n    int64
	buf  []byte // pooled backing array
	data []byte // buf[:length]
	prev <-chan string
	next chan<- string
}

// Write streams r into the buffer behind src as numbered, hash-chained blobs. It
// refuses a buffer that already has data. If r fails or ctx is cancelled, the
// buffer is marked failed so readers stop instead of waiting for more data.
//
// After a cancellation Write may return while a goroutine is still blocked in
// r.Read; that goroutine discards whatever the read returns.
func Write(ctx context.Context, src AccessSource, r io.Reader, opts WriteOptions) (Stats, error) {
	opts, err := opts.validate()
	if err != nil {
		return Stats{}, err
	}
	c, cleanup := newContainer(src, opts.HTTPClient, opts.Logf)
	defer cleanup()

	if err := checkBufferEmpty(ctx, c); err != nil {
		return Stats{}, err
	}
	// If the start marker cannot be written, nothing of ours is in the buffer, so
	// there is nothing to mark failed either (and it may be someone else's buffer).
	if err := putBlob(ctx, c, startBlobName, startBlobBody, ContentMD5(startBlobBody), ""); err != nil {
		return Stats{}, err
	}

	stats, finalChain, err := writeBlocks(ctx, c, r, opts)
	if err == nil {
		// The terminal empty blob goes last, after every data blob has landed, so a
		// reader can never see an end of data before all of it is there.
		err = putBlob(ctx, c, BlobPath(stats.Blobs), nil, ContentMD5(nil), NextHashChain(finalChain, ContentMD5(nil)))
	}
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endMarkerTimeout)
		defer cancel()
		if merr := putBlob(markCtx, c, endBlobName, endBlobFailed, ContentMD5(endBlobFailed), ""); merr != nil {
			c.logf("could not mark the buffer failed: %v", merr)
		}
		return stats, err
	}
	if err := putBlob(ctx, c, endBlobName, endBlobComplete, ContentMD5(endBlobComplete), ""); err != nil {
		// Readers finish at the empty blob, so the data is complete without it.
		c.logf("could not write the end marker (the data is complete): %v", err)
	}
	return stats, nil
}

func checkBufferEmpty(ctx context.Context, c *containerClient) error {
	resp, err := c.do(ctx, http.MethodHead, startBlobName, nil, nil)
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return ErrBufferHasData
	case resp.StatusCode == http.StatusNotFound && resp.code == "ContainerNotFound":
		return ErrBufferNotFound
	case resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode == http.StatusForbidden && resp.code == "AuthorizationPermissionMismatch":
		// A create-only URL may not read; the Put that follows decides.
		return nil
	default:
		return resp.statusError("HEAD " + startBlobName)
	}
}

// writeBlocks cuts r into blocks and uploads them with opts.DOP workers. It returns
// the chain value of the last data blob.
func writeBlocks(ctx context.Context, c *containerClient, r io.Reader, opts WriteOptions) (Stats, string, error) {
	// The caller's ctx, plus the input's read error as a cancellation cause.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(wctx)

	// Blocks: dop with workers, one being filled, one handed over.
	pool := newBlockPool(opts.DOP+2, int(opts.BlockSize))
	hasher := newMD5Hasher(opts.DOP)
	defer hasher.close()

	blocks := make(chan block)
	first := make(chan string, 1)
	first <- InitialHashChain
	var (
		count int64
		last  <-chan string = first
		done  atomic.Int64
	)
	emit := func(buf []byte, n int) error {
		next := make(chan string, 1)
		b := block{n: count, buf: buf, data: buf[:n], prev: last, next: next}
		select {
		case blocks <- b:
		case <-gctx.Done():
			return context.Cause(gctx)
		}
		count++
		last = next
		return nil
	}
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		defer close(blocks)
		var err error
		if opts.FlushInterval > 0 {
			err = chunkWithInterval(gctx, r, pool, opts.FlushInterval, emit)
		} else {
			err = chunk(gctx, r, pool, emit)
		}
		if err != nil && gctx.Err() == nil {
			cancel(err)
		}
	}()

	var blobs atomic.Int64
	for range opts.DOP {
		g.Go(func() error {
			for {
				var b block
				var ok bool
				select {
				case b, ok = <-blocks:
					if !ok {
						return nil
					}
				case <-gctx.Done():
					return context.Cause(gctx)
				}
				if err := uploadBlock(gctx, c, hasher, b); err != nil {
					return err
				}
				pool.put(b.buf)
				blobs.Add(1)
				opts.Progress(done.Add(int64(len(b.data))))
			}
		})
	}
	werr := g.Wait()
	stats := Stats{Bytes: done.Load(), Blobs: blobs.Load()}
	if cause := context.Cause(wctx); cause != nil {
		// The input failed or the caller cancelled: that is the root cause, and the
		// workers' errors are just its consequence.
		return stats, "", cause
	}
	if werr != nil {
		return stats, "", werr
	}
	// Workers ran dry, so the producer has closed blocks and is finishing.
	<-producerDone
	return stats, <-last, nil
}

func uploadBlock(ctx context.Context, c *containerClient, hasher *md5Hasher, b block) error {
	sum := hasher.sum(b.data)
	contentMD5 := base64.StdEncoding.EncodeToString(sum[:])
	var prev string
	select {
	case prev = <-b.prev:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	chain := NextHashChain(prev, contentMD5)
	b.next <- chain
	return putBlob(ctx, c, BlobPath(b.n), b.data, contentMD5, chain)
}

// putBlob creates one blob. A blob that already exists counts as written only if
// it is byte-for-byte our earlier try, judged by its Content-MD5 and chain header.
func putBlob(ctx context.Context, c *containerClient, name string, data []byte, contentMD5, chain string) error {
	header := http.Header{
		"X-Ms-Blob-Type": {"BlockBlob"},
		"Content-Md5":    {contentMD5},
	}
	if chain != "" {
		header.Set(HashChainHeader, chain)
	}
	for try := 1; ; try++ {
		resp, err := c.do(ctx, http.MethodPut, name, data, header)
		if err != nil {
			return fmt.Errorf("uploading blob %s: %w", name, err)
		}
		switch {
		case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
			return nil
		case resp.StatusCode == http.StatusBadRequest && resp.code == "Md5Mismatch":
			if try < md5MismatchTries {
				c.logf("retrying blob %s: storage saw an MD5 mismatch (corrupted in transit)", name)
				continue
			}
			return fmt.Errorf("uploading blob %s: storage saw an MD5 mismatch %d times: data is being corrupted in transit", name, try)
		case resp.StatusCode == http.StatusNotFound && resp.code == "ContainerNotFound":
			return ErrBufferNotFound
		case resp.StatusCode == http.StatusForbidden && resp.code == "UnauthorizedBlobOverwrite",
			resp.StatusCode == http.StatusForbidden && resp.code == "AuthorizationPermissionMismatch",
			resp.StatusCode == http.StatusConflict && resp.code == "BlobAlreadyExists":
			// Azure and Azurite answer an overwrite under a create-only URL differently
			// (platform notes); a read-only URL gets the same code as Azurite's.
			return checkLanded(ctx, c, name, contentMD5, chain, resp.code)
		default:
			return fmt.Errorf("uploading blob %s: %w", name, resp.statusError("PUT "+name))
		}
	}
}

// checkLanded decides, after storage refused a Put, whether the blob there is our
// own earlier try (success), someone else's (overwrite refused), or absent (the
// URL may not create blobs at all).
func checkLanded(ctx context.Context, c *containerClient, name, contentMD5, chain, refusal string) error {
	resp, err := c.do(ctx, http.MethodHead, name, nil, nil)
	if err != nil {
		return fmt.Errorf("checking existing blob %s: %w", name, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if resp.Header.Get("Content-MD5") == contentMD5 && resp.Header.Get(HashChainHeader) == chain {
			return nil
		}
		if name == startBlobName {
			return ErrBufferHasData
		}
		return fmt.Errorf("blob %s already exists with other content: %w", name, ErrBufferHasData)
	case http.StatusNotFound:
		if resp.code == "ContainerNotFound" {
			return ErrBufferNotFound
		}
		if refusal == "AuthorizationPermissionMismatch" {
			return ErrWriteNotAllowed
		}
		return fmt.Errorf("uploading blob %s: storage refused it (%s) but it does not exist", name, refusal)
	default:
		if refusal == "AuthorizationPermissionMismatch" {
			return ErrWriteNotAllowed
		}
		return fmt.Errorf("checking existing blob %s: %w", name, resp.statusError("HEAD "+name))
	}
}
