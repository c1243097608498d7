package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// genData is Tyger's `gen` pattern: byte i is ':' + i%64, starting at offset.
func genData(offset, n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(':' + (offset+int64(i))%64)
	}
	return b
}

// genReader streams the gen pattern without holding it in memory.
type genReader struct{ off, size int64 }

func (g *genReader) Read(p []byte) (int, error) {
	if g.size >= 0 && g.off >= g.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if g.size >= 0 {
		n = min(n, g.size-g.off)
	}
	for i := range n {
		p[i] = byte(':' + (g.off+i)%64)
	}
	g.off += n
	return int(n), nil
}

// throttledReader hands out at most step bytes per call, every delay.
type throttledReader struct {
	r     io.Reader
	step  int
	delay time.Duration
}

func (t *throttledReader) Read(p []byte) (int, error) {
	time.Sleep(t.delay)
	if len(p) > t.step {
		p = p[:t.step]
	}
	return t.r.Read(p)
}

func collectBlocks(t *testing.T, run func(pool *blockPool, emit emitFunc) error, blockSize int) [][]byte {
	t.Helper()
	pool := newBlockPool(4, blockSize)
	var blocks [][]byte
	err := run(pool, func(buf []byte, n int) error {
		blocks = append(blocks, bytes.Clone(buf[:n]))
		pool.put(buf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

func TestChunkingKeepsEveryByteAndNeverEmitsEmptyBlocks(t *testing.T) {
	const blockSize = 64<<10 + 7
	for _, size := range []int64{0, 1, blockSize - 1, blockSize, blockSize + 1, 5*blockSize + 3} {
		input := genData(0, size)
		blocks := collectBlocks(t, func(pool *blockPool, emit emitFunc) error {
			return chunk(context.Background(), bytes.NewReader(input), pool, emit)
		}, blockSize)
		for i, b := range blocks {
			if len(b) == 0 || len(b) > blockSize || (i < len(blocks)-1 && len(b) != blockSize) {
				t.Fatalf("size %d: block %d has %d bytes", size, i, len(b))
			}
		}
		if got := bytes.Join(blocks, nil); !bytes.Equal(got, input) {
			t.Fatalf("size %d: blocks do not reassemble the input", size)
		}
	}
}

func TestChunkingWithIntervalEmitsShortBlocksForSlowInput(t *testing.T) {
	input := genData(0, 40<<10)
	slow := &throttledReader{r: bytes.NewReader(input), step: 1000, delay: time.Millisecond}
	blocks := collectBlocks(t, func(pool *blockPool, emit emitFunc) error {
		return chunkWithInterval(context.Background(), slow, pool, 5*time.Millisecond, emit)
	}, 16<<10+7)
	if len(blocks) < 4 {
		t.Fatalf("only %d blocks: the interval did not flush short blocks", len(blocks))
	}
	for i, b := range blocks {
		if len(b) == 0 || len(b) > 16<<10+7 {
			t.Fatalf("block %d has %d bytes", i, len(b))
		}
	}
	if !bytes.Equal(bytes.Join(blocks, nil), input) {
		t.Fatal("blocks do not reassemble the input")
	}
}

func TestChunkingReportsReaderErrorsInsteadOfTruncating(t *testing.T) {
	broken := io.MultiReader(bytes.NewReader(genData(0, 100)), iotestErrReader{io.ErrUnexpectedEOF})
	pool := newBlockPool(2, 1<<10)
	err := chunk(context.Background(), broken, pool, func(buf []byte, n int) error { pool.put(buf); return nil })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want the reader's own error", err)
	}
	err = chunkWithInterval(context.Background(), io.MultiReader(bytes.NewReader(genData(0, 100)), iotestErrReader{io.ErrClosedPipe}),
		pool, time.Hour, func(buf []byte, n int) error { pool.put(buf); return nil })
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("interval mode err = %v, want the reader's own error", err)
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }
