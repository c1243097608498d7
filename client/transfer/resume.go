package transfer

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"spool/internal/model"
)

// ErrResumeMismatch is what Resume reports, having changed nothing, when the
// data already in the buffer is not a prefix of the file given.
var ErrResumeMismatch = errors.New("the file does not match the data already in the buffer")

// ErrNotResumable is what Resume reports for a buffer it cannot continue: one
// sealed failed, or one whose writer declared no heartbeat (so whether it is
// gone cannot be told).
var ErrNotResumable = errors.New("the buffer's write cannot be resumed")

// Resume continues an interrupted Write of file (size bytes). The one-writer
// rule holds as "one live writer": a buffer is taken over only once its writer
// has left no sign of life for two heartbeat intervals, and only with the very
// bytes it wrote, each existing blob checked against the file by its MD5 and the
// chain. Then the rest of the file is uploaded and the buffer sealed. A file
// that does not match is refused with ErrResumeMismatch before anything is
// written. A buffer with no data yet is simply written; a complete one whose
// data matches is left as it is.
func Resume(ctx context.Context, src AccessSource, file io.ReaderAt, size int64, opts WriteOptions) (Stats, error) {
	opts, c, cleanup, err := openWrite(src, opts)
	if err != nil {
		return Stats{}, err
	}
	defer cleanup()
	start, started, err := headBlob(ctx, c, startBlobName)
	if err != nil || !started {
		if err != nil && !errors.Is(err, ErrReadNotAllowed) {
			return Stats{}, err
		}
		return writeNew(ctx, c, io.NewSectionReader(file, 0, size), opts)
	}
	heartbeats, err := checkWriterGone(ctx, c, start)
	if err != nil {
		return Stats{}, err
	}
	at, terminal, err := verifyPrefix(ctx, c, file, size, true)
	if err != nil {
		return Stats{}, err
	}
	return continueWrite(ctx, c, file, size, opts, at, terminal, heartbeats)
}

// continueWrite uploads the file from at and seals the buffer, or only seals it
// when the terminal blob is there already.
func continueWrite(ctx context.Context, c *containerClient, file io.ReaderAt, size int64, opts WriteOptions, at resumePoint, terminal bool, heartbeats int64) (Stats, error) {
	stats := Stats{Bytes: at.bytes, Blobs: at.blobs}
	if terminal {
		if at.bytes != size {
			return Stats{}, fmt.Errorf("%w: the buffer ends after %d bytes, the file has %d", ErrResumeMismatch, at.bytes, size)
		}
		seal, ended, err := readSeal(ctx, c)
		if err == nil && !ended {
			stats.HashChain = NextHashChain(at.chain, ContentMD5(nil))
			putSeal(ctx, c, stats)
		} else if err == nil && seal.Status == model.StatusFailed {
			err = fmt.Errorf("%w: it was marked failed", ErrNotResumable)
		}
		return stats, err
	}
	opts.Progress(at.bytes)
	at.resumed = true
	if at.blobs > 0 {
		// Blobs past a hole the interrupted write left line up with ours only
		// if ours are cut the same way: a file's blobs are all its block size.
		same := opts
		same.BlockSize = at.firstSize
		if fitted, _, err := same.validate(); err == nil {
			opts = fitted
		}
	}
	stop := startHeartbeat(ctx, c, opts.HeartbeatInterval, heartbeats)
	stats, chain, err := writeBlocks(ctx, c, io.NewSectionReader(file, at.bytes, size-at.bytes), opts, at)
	return seal(ctx, c, stats, chain, err, stop)
}

// checkWriterGone refuses a buffer whose writer may still be alive or may never
// have said it would show life, and returns how many heartbeats it left.
func checkWriterGone(ctx context.Context, c *containerClient, start http.Header) (int64, error) {
	interval, err := declaredHeartbeat(start)
	if err != nil {
		return 0, err
	}
	if interval == 0 {
		return 0, fmt.Errorf("%w: its writer leaves no sign of life, so it cannot be told gone", ErrNotResumable)
	}
	if seal, ended, err := readSeal(ctx, c); err != nil || (ended && seal.Status == model.StatusFailed) {
		if err == nil {
			err = fmt.Errorf("%w: it was marked failed; write the file to a new buffer", ErrNotResumable)
		}
		return 0, err
	}
	n, err := countHeartbeats(ctx, c)
	if err != nil {
		return 0, err
	}
	latest := start
	if n > 0 {
		if latest, _, err = headBlob(ctx, c, heartbeatBlob(n-1)); err != nil {
			return 0, err
		}
	}
	// Storage stamps both times, so the age needs no trust in our clock; they
	// have whole seconds, hence the extra second.
	limit := 2*interval + time.Second
	if age := blobAge(latest); age < limit {
		return 0, fmt.Errorf("%w: its writer showed life %s ago; resume once it has been silent for %s", ErrAnotherWriter, age, limit)
	}
	return n, nil
}

// blobAge is how long ago storage last modified the blob, by storage's clock.
func blobAge(h http.Header) time.Duration {
	modified, err1 := http.ParseTime(h.Get("Last-Modified"))
	now, err2 := http.ParseTime(h.Get("Date"))
	if err1 != nil || err2 != nil {
		return 0
	}
	return now.Sub(modified)
}

// readSeal reads .bufferend; ended is false when there is none.
func readSeal(ctx context.Context, c *containerClient) (model.Seal, bool, error) {
	rd := &reader{c: c}
	res, err := rd.fetch(ctx, endBlobName, -1)
	if err != nil || res == nil {
		return model.Seal{}, false, err
	}
	seal, err := model.ParseSeal(res.data)
	return seal, true, err
}

// verifyPrefix checks the data blobs in the buffer against the file, by their
// sizes, MD5s and chain values (HEAD requests: nothing is downloaded), and
// returns where they stop matching and whether that is the terminal blob. A
// whole file (a write's input) must hold every blob; a partial one (a read's
// output) ends at the first blob it does not hold all of.
func verifyPrefix(ctx context.Context, c *containerClient, file io.ReaderAt, size int64, whole bool) (resumePoint, bool, error) {
	at := resumePoint{chain: InitialHashChain}
	for ; ; at.blobs++ {
		name := BlobPath(at.blobs)
		h, ok, err := headBlob(ctx, c, name)
		if err != nil || !ok {
			return at, false, err
		}
		n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
		if err != nil || n < 0 || n > maxBlobSize {
			return at, false, corruptf("blob %s has no usable Content-Length", name)
		}
		if n == 0 {
			return at, true, checkChain(name, h, NextHashChain(at.chain, ContentMD5(nil)))
		}
		if at.blobs == 0 {
			at.firstSize = n
		}
		if at.bytes+n > size && !whole {
			return at, false, nil
		}
		if at.bytes+n > size {
			return at, false, fmt.Errorf("%w: the buffer holds more than the file's %d bytes", ErrResumeMismatch, size)
		}
		sum, err := fileMD5(file, at.bytes, n)
		if err != nil {
			return at, false, err
		}
		if sum != h.Get("Content-MD5") {
			return at, false, fmt.Errorf("%w: blob %s differs from bytes %d-%d of the file", ErrResumeMismatch, name, at.bytes, at.bytes+n-1)
		}
		at.chain = NextHashChain(at.chain, sum)
		if err := checkChain(name, h, at.chain); err != nil {
			return at, false, err
		}
		at.bytes += n
	}
}

func checkChain(name string, h http.Header, want string) error {
	if h.Get(HashChainHeader) != want {
		return corruptf("hash chain mismatch at blob %s: the buffer is corrupt", name)
	}
	return nil
}

// fileMD5 is the Content-MD5 of n bytes of file from off.
func fileMD5(file io.ReaderAt, off, n int64) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(file, off, n)); err != nil {
		return "", fmt.Errorf("reading the file: %w", err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// ResumeRead continues a read into file, which holds the start of the buffer
// from an earlier read that was cut off. The whole blobs the file holds are
// checked against the buffer's (MD5 and chain, by HEAD requests); bytes past the
// last of them are cut off and read again, and the read goes on from there,
// appending to file. A file that does not match the buffer is refused with
// ErrResumeMismatch and left as it is.
func ResumeRead(ctx context.Context, src AccessSource, file *os.File, opts ReadOptions) (Stats, error) {
	opts, err := opts.validate()
	if err != nil {
		return Stats{}, err
	}
	c, cleanup := newContainer(src, opts.HTTPClient, opts.Logf)
	defer cleanup()
	fi, err := file.Stat()
	if err != nil {
		return Stats{}, fmt.Errorf("reading the output: %w", err)
	}
	at, terminal, err := verifyPrefix(ctx, c, file, fi.Size(), false)
	if err != nil {
		return Stats{}, err
	}
	if terminal && at.bytes != fi.Size() {
		return Stats{}, fmt.Errorf("%w: the file has %d bytes, the buffer %d", ErrResumeMismatch, fi.Size(), at.bytes)
	}
	if err := file.Truncate(at.bytes); err != nil {
		return Stats{}, fmt.Errorf("cutting the output back to %d verified bytes: %w", at.bytes, err)
	}
	if _, err := file.Seek(at.bytes, io.SeekStart); err != nil {
		return Stats{}, fmt.Errorf("seeking in the output: %w", err)
	}
	opts.Progress(at.bytes)
	return readFrom(ctx, c, file, opts, at)
}
