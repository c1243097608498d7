// Package transfer moves a buffer's bytes straight between a local stream and Blob
// Storage: numbered data blobs written in parallel, each with its Content-MD5 and a
// cumulative SHA-256 hash chain, verified and reassembled in order on read. The blob
// layout is byte-compatible with Tyger's buffers.
package transfer

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// AccessSource hands out the container access URL (a SAS URL) for one buffer.
type AccessSource interface {
	// URL returns the current access URL.
	URL(ctx context.Context) (*url.URL, error)
	// Refresh is called when storage refused stale as expired or invalid. It returns a
	// new URL, or an error wrapping ErrAccessURLExpired when the source cannot renew
	// (a literal URL given on the command line).
	Refresh(ctx context.Context, stale *url.URL) (*url.URL, error)
}

// ErrAccessURLExpired is reported when storage refuses an access URL that cannot be
// renewed.
var ErrAccessURLExpired = errors.New("access URL expired or invalid")

// Progress receives running totals; it is called from transfer goroutines, often, so
// it must be cheap and safe for concurrent use.
type Progress func(bytesDone int64)

// WriteOptions tunes Write. Zero values take the defaults.
type WriteOptions struct {
	DOP       int   // parallel uploads; default 16, at most MaxDOP
	BlockSize int64 // bytes per data blob; default 4 MiB, from MinBlockSize to MaxBlockSize
	// MemoryLimit bounds the bytes of blocks held at once (about DOP+5 blocks);
	// default DefaultMemoryLimit. A DOP that would not fit is lowered, with a note
	// to Logf; a block size that does not fit even at DOP 1 is refused.
	MemoryLimit int64
	// FlushInterval, when > 0, uploads a short blob once data has waited this long,
	// so a slow producer's bytes reach readers promptly.
	FlushInterval time.Duration
	// HeartbeatInterval is how often the writer leaves a sign of life for readers
	// (a .heartbeat/<n> blob), even while its input is idle; default
	// DefaultHeartbeatInterval. Readers give up on a writer silent for their idle
	// timeout, or twice this interval if that is longer.
	HeartbeatInterval time.Duration
	Progress          Progress
	// HTTPClient sends the blob requests; nil means a transport that keeps many idle
	// connections per host, so parallel uploads do not keep re-dialling.
	HTTPClient *http.Client
	// Logf receives warnings (retries, a failed end marker); nil discards them. SAS
	// query values are already redacted from everything it is given.
	Logf func(format string, args ...any)
}

// ReadOptions tunes Read. Zero values take the defaults.
type ReadOptions struct {
	DOP int // parallel downloads; default 32, at most MaxDOP
	// MemoryLimit bounds the bytes of downloaded blobs held ahead of the output;
	// default DefaultMemoryLimit. The blob the output needs next is always let in,
	// so a writer's bigger blobs slow a read down rather than fail it.
	MemoryLimit int64
	// IdleTimeout, when > 0, ends the read with ErrWriterStopped once the reader
	// has waited this long for a writer that left neither new data nor a sign of
	// life meanwhile. It applies to writers that declare a heartbeat (spool's),
	// and, with IdleTimeoutAlways, to writers that declare none (Tyger's), which
	// show no life while their input is idle.
	IdleTimeout       time.Duration
	IdleTimeoutAlways bool
	Progress          Progress
	// Total, when set, is told the buffer's size in bytes as soon as its seal is
	// seen, so progress can show a percentage and a time left.
	Total func(bytes int64)
	// HTTPClient and Logf work as in WriteOptions.
	HTTPClient *http.Client
	Logf       func(format string, args ...any)
}

// Stats summarises a finished transfer.
type Stats struct {
	Bytes int64 // data bytes moved
	Blobs int64 // non-empty data blobs moved (the terminal empty blob is not counted)
	// HashChain is the chain value of the terminal empty blob: the buffer's final
	// chain, which its seal records. Empty when the transfer did not finish.
	HashChain string
}
