package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// lineLog collects what a transfer logs.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *lineLog) matching(part string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, part) {
			out = append(out, line)
		}
	}
	return out
}

func TestWriteOptionsRefuseBlockSizesAndDOPsOutsideTheLimits(t *testing.T) {
	cases := []struct {
		opts WriteOptions
		want string
	}{
		{WriteOptions{BlockSize: -1}, "at least 1 byte"},
		{WriteOptions{BlockSize: 1}, "invalid block size 1B: it must be from 1KiB to 4000MiB"},
		{WriteOptions{BlockSize: MinBlockSize - 1}, "it must be from 1KiB"},
		{WriteOptions{BlockSize: MaxBlockSize + 1}, "Azure's limit for one blob is 5000MiB"},
		{WriteOptions{BlockSize: MaxBlockSize}, "even one upload at a time holds 12000MiB, over the 2GiB memory limit; use a block size of at most 682MiB"},
		{WriteOptions{DOP: -3}, "invalid dop -3: it must be from 1 to 1000"},
		{WriteOptions{DOP: MaxDOP + 1}, "it must be from 1 to 1000"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v", tc.opts), func(t *testing.T) {
			err := tc.opts.Validate()
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidOptions saying %q", err, tc.want)
			}
		})
	}
	for _, ok := range []WriteOptions{{}, {BlockSize: MinBlockSize}, {BlockSize: 682 << 20}, {DOP: MaxDOP}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v refused: %v", ok, err)
		}
	}
}

func TestReadOptionsRefuseDOPsOutsideTheLimits(t *testing.T) {
	for _, opts := range []ReadOptions{{DOP: -1}, {DOP: MaxDOP + 1}, {MemoryLimit: -1}} {
		if err := opts.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: err = %v, want ErrInvalidOptions", opts, err)
		}
	}
}

func TestWriteMemoryStaysWithinTheLimitByLoweringTheDOP(t *testing.T) {
	cases := []struct {
		opts    WriteOptions
		wantDOP int
	}{
		{WriteOptions{}, DefaultWriteDOP},
		{WriteOptions{BlockSize: 64 << 20}, DefaultWriteDOP},
		{WriteOptions{BlockSize: 256 << 20}, 3},
		{WriteOptions{BlockSize: 682 << 20}, 1},
		{WriteOptions{BlockSize: 4000 << 20, MemoryLimit: 12000 << 20}, 1},
		{WriteOptions{BlockSize: 64 << 10, MemoryLimit: 8 * 64 << 10}, 6},
		{WriteOptions{BlockSize: 1 << 20, DOP: 64, MemoryLimit: 32 << 20}, 27},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v", tc.opts), func(t *testing.T) {
			opts, note, err := tc.opts.validate()
			if err != nil {
				t.Fatal(err)
			}
			if opts.DOP != tc.wantDOP {
				t.Fatalf("dop %d, want %d", opts.DOP, tc.wantDOP)
			}
			if held := writeBlocksHeld(opts.DOP, opts.BlockSize) * opts.BlockSize; held > opts.MemoryLimit {
				t.Fatalf("holds %d bytes, over the limit %d", held, opts.MemoryLimit)
			}
			asked := tc.opts.DOP
			if asked == 0 {
				asked = DefaultWriteDOP
			}
			if (note != "") != (opts.DOP < asked) || (note != "" && !strings.Contains(note, fmt.Sprintf("%d blobs at once instead of %d", opts.DOP, asked))) {
				t.Fatalf("note %q for dop %d of %d", note, opts.DOP, asked)
			}
		})
	}
}

func TestWriteOverTheMemoryLimitSaysItLowersTheDOPAndStillRoundTrips(t *testing.T) {
	b := newBuffer(t)
	var log lineLog
	input := genData(0, 1<<20+17)
	opts := WriteOptions{BlockSize: 64 << 10, DOP: 16, MemoryLimit: 8 * 64 << 10, Logf: log.logf}
	if _, err := Write(context.Background(), StaticURL(b.write), bytes.NewReader(input), opts); err != nil {
		t.Fatal(err)
	}
	if len(log.lines) != 1 || log.lines[0] != "uploading 6 blobs at once instead of 16, so 64KiB blocks stay within 512KiB of memory" {
		t.Fatalf("logged %q, want one line saying the dop was lowered", log.lines)
	}
	if out, err := b.readAll(context.Background(), ReadOptions{MemoryLimit: 3 * 64 << 10}); err != nil || !bytes.Equal(out, input) {
		t.Fatalf("read back %d bytes, %v", len(out), err)
	}
}

func TestSizesInMessagesReadAsAPersonWritesThem(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 512: "512B", 1 << 10: "1KiB", 4000 << 20: "4000MiB", 2 << 30: "2GiB",
		3<<30 + 1<<29: "3584MiB", 1<<30 + 1: "1.0GiB", 682 << 20: "682MiB",
	} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}
