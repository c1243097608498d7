package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// emitFunc hands a filled block (buf[:n], n > 0) to the uploaders.
type emitFunc func(buf []byte, n int) error

// chunk cuts r into full blocks, reading straight into pooled buffers. Only the last
// block may be short, and no block is empty.
func chunk(ctx context.Context, r io.Reader, pool *blockPool, emit emitFunc) error {
	for {
		buf, err := pool.get(ctx)
		if err != nil {
			return nil // cancelled: the caller reports why
		}
		n, err := fill(r, buf)
		if n > 0 {
			if eerr := emit(buf, n); eerr != nil {
				return nil
			}
		} else {
			pool.put(buf)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
	}
}

// fill reads until buf is full or r fails; io.EOF is the only normal end. Unlike
// io.ReadFull it does not turn a reader's own io.ErrUnexpectedEOF into an end of
// stream, which would silently truncate the buffer.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readChunk is one Read's result in chunkWithInterval.
type readChunk struct {
	buf []byte
	n   int
	err error
}

// scratchSize is the read size for interval mode; pipes rarely return more.
const scratchSize = 256 << 10

// chunkWithInterval is chunk for slow producers: pending bytes are emitted as a
// short block once interval has passed since the last emitted block, so they reach
// readers promptly. A goroutine does the blocking reads and this loop copies them
// into blocks, so the timer can fire while a Read is still waiting for input.
// Nothing is emitted while no data is pending: there are never empty blocks.
func chunkWithInterval(ctx context.Context, r io.Reader, pool *blockPool, interval time.Duration, emit emitFunc) error {
	reads, free := readAhead(ctx, r, min(scratchSize, pool.size))
	ic := &intervalChunker{pool: pool, emit: emit, interval: interval, timer: time.NewTimer(interval)}
	defer ic.timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ic.timer.C:
			if ic.filled == 0 {
				ic.timer.Reset(interval)
			} else if ic.flush() != nil {
				return nil
			}
		case c := <-reads:
			if ic.add(ctx, c.buf[:c.n]) != nil {
				return nil
			}
			free <- c.buf
			if errors.Is(c.err, io.EOF) {
				if ic.filled > 0 {
					ic.flush()
				}
				return nil
			}
			if c.err != nil {
				return fmt.Errorf("reading input: %w", c.err)
			}
		}
	}
}

// readAhead reads r in a goroutine into two scratch buffers of size bytes,
// passing each read on; a buffer comes back through free once copied.
func readAhead(ctx context.Context, r io.Reader, size int) (<-chan readChunk, chan<- []byte) {
	free := make(chan []byte, 2)
	free <- make([]byte, size)
	free <- make([]byte, size)
	reads := make(chan readChunk)
	go func() {
		for {
			var s []byte
			select {
			case s = <-free:
			case <-ctx.Done():
				return
			}
			n, err := r.Read(s)
			select {
			case reads <- readChunk{buf: s, n: n, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return reads, free
}

// intervalChunker gathers input into the block being filled.
type intervalChunker struct {
	pool     *blockPool
	emit     emitFunc
	interval time.Duration
	timer    *time.Timer
	cur      []byte
	filled   int
}

// add copies data into blocks, emitting each one that fills up. An error means
// the write was cancelled.
func (ic *intervalChunker) add(ctx context.Context, data []byte) error {
	for len(data) > 0 {
		if ic.cur == nil {
			var err error
			if ic.cur, err = ic.pool.get(ctx); err != nil {
				return err
			}
		}
		k := copy(ic.cur[ic.filled:], data)
		ic.filled += k
		data = data[k:]
		if ic.filled == len(ic.cur) {
			if err := ic.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush emits the pending bytes as one block and restarts the interval.
func (ic *intervalChunker) flush() error {
	err := ic.emit(ic.cur, ic.filled)
	ic.cur, ic.filled = nil, 0
	ic.timer.Reset(ic.interval)
	return err
}
