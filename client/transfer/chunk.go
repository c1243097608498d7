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
		buf, err := pool.get(ctx, 0)
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
	size := min(scratchSize, pool.size)
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

	var cur []byte
	filled := 0
	timer := time.NewTimer(interval)
	defer timer.Stop()
	flush := func() error {
		err := emit(cur, filled)
		cur, filled = nil, 0
		timer.Reset(interval)
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			if filled > 0 {
				if flush() != nil {
					return nil
				}
			} else {
				timer.Reset(interval)
			}
		case c := <-reads:
			data := c.buf[:c.n]
			for len(data) > 0 {
				if cur == nil {
					var err error
					if cur, err = pool.get(ctx, 0); err != nil {
						return nil
					}
				}
				k := copy(cur[filled:], data)
				filled += k
				data = data[k:]
				if filled == len(cur) && flush() != nil {
					return nil
				}
			}
			free <- c.buf
			if errors.Is(c.err, io.EOF) {
				if filled > 0 && flush() != nil {
					return nil
				}
				return nil
			}
			if c.err != nil {
				return fmt.Errorf("reading input: %w", c.err)
			}
		}
	}
}
