package transfer

import (
	"errors"
	"fmt"
)

// Limits on a writer's block size. The top is what one Put Blob may carry on
// Azure (5000 MiB, kept below it); the floor keeps a transfer from making one
// request per handful of bytes, which crawls.
const (
	MinBlockSize = 1 << 10
	MaxBlockSize = 4000 << 20
	// DefaultMemoryLimit bounds the block memory one transfer holds: parallel
	// uploads or downloads times their blob size. Without it, 16 uploads of
	// 4000 MiB blocks would ask for about 64 GB.
	DefaultMemoryLimit = 2 << 30
	// MaxDOP bounds parallel requests: more connections than this to one account
	// only queue up, and each costs bookkeeping.
	MaxDOP = 1000
)

// ErrInvalidOptions is wrapped by every error about Options a caller gave, so a
// CLI can report them as usage errors.
var ErrInvalidOptions = errors.New("invalid transfer options")

// optionError reads as its message and matches ErrInvalidOptions.
type optionError struct{ msg string }

func (e *optionError) Error() string        { return e.msg }
func (e *optionError) Is(target error) bool { return target == ErrInvalidOptions }

func invalidf(format string, args ...any) error {
	return &optionError{msg: fmt.Sprintf(format, args...)}
}

// sizeText writes n in the largest binary unit that holds it (4000MiB or 1.5GiB,
// not units' 3GiB928MiB), whole where that unit or the next one down divides it.
func sizeText(n int64) string {
	steps := []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}, {1, "B"}}
	for i, u := range steps {
		if n < u.size && u.size > 1 {
			continue
		}
		if n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
		if next := steps[i+1]; n%next.size == 0 {
			return fmt.Sprintf("%d%s", n/next.size, next.name)
		}
		return fmt.Sprintf("%.1f%s", float64(n)/float64(u.size), u.name)
	}
	return fmt.Sprintf("%dB", n)
}

// Validate reports whether Write would accept o, without touching storage.
func (o WriteOptions) Validate() error {
	_, _, err := o.validate()
	return err
}

// validate fills in defaults and checks o. When dop blocks of the chosen size
// would not fit the memory limit, it lowers the dop and says so in note.
func (o WriteOptions) validate() (opts WriteOptions, note string, err error) {
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if err := sharedOptions(&o.DOP, DefaultWriteDOP, &o.MemoryLimit, &o.Progress); err != nil {
		return o, "", err
	}
	if o.BlockSize < 1 {
		return o, "", invalidf("invalid block size %d: it must be at least 1 byte", o.BlockSize)
	}
	if o.BlockSize < MinBlockSize || o.BlockSize > MaxBlockSize {
		return o, "", invalidf("invalid block size %s: it must be from %s to %s (Azure's limit for one blob is 5000MiB)",
			sizeText(o.BlockSize), sizeText(MinBlockSize), sizeText(MaxBlockSize))
	}
	dop := fittingDOP(o.DOP, o.BlockSize, o.MemoryLimit)
	if dop < 1 {
		return o, "", invalidf("invalid block size %s: even one upload at a time holds %s, over the %s memory limit; use a block size of at most %s",
			sizeText(o.BlockSize), sizeText(writeBlocksHeld(1, o.BlockSize)*o.BlockSize), sizeText(o.MemoryLimit), sizeText(largestFittingBlock(o.MemoryLimit)))
	}
	if dop < o.DOP {
		note = fmt.Sprintf("uploading %d blobs at once instead of %d, so %s blocks stay within %s of memory",
			dop, o.DOP, sizeText(o.BlockSize), sizeText(o.MemoryLimit))
		o.DOP = dop
	}
	return o, note, nil
}

// largestFittingBlock is the biggest whole-MiB block size whose blocks fit within
// limit at dop 1.
func largestFittingBlock(limit int64) int64 {
	return max(MinBlockSize, limit/writeBlocksHeld(1, MaxBlockSize)&^(1<<20-1))
}

// sharedOptions fills in the defaults Read and Write share, and checks them.
func sharedOptions(dop *int, defaultDOP int, memoryLimit *int64, progress *Progress) error {
	if *dop == 0 {
		*dop = defaultDOP
	}
	if *memoryLimit == 0 {
		*memoryLimit = DefaultMemoryLimit
	}
	if *progress == nil {
		*progress = func(int64) {}
	}
	if *dop < 1 || *dop > MaxDOP {
		return invalidf("invalid dop %d: it must be from 1 to %d", *dop, MaxDOP)
	}
	if *memoryLimit < 0 {
		return invalidf("invalid memory limit %d: it must not be negative", *memoryLimit)
	}
	return nil
}

// writeBlocksHeld is how many blocks a Write holds at most: dop uploading, a
// hash batch being gathered and hashed, one being filled.
func writeBlocksHeld(dop int, blockSize int64) int64 {
	return int64(dop + hashBatch(dop, blockSize) + 1)
}

// fittingDOP is the largest dop up to want whose blocks fit within limit, or 0.
func fittingDOP(want int, blockSize, limit int64) int {
	dop := int(min(int64(want), limit/blockSize))
	for dop >= 1 && writeBlocksHeld(dop, blockSize)*blockSize > limit {
		dop--
	}
	return dop
}

// validate fills in defaults and checks o.
func (o ReadOptions) validate() (ReadOptions, error) {
	err := sharedOptions(&o.DOP, DefaultReadDOP, &o.MemoryLimit, &o.Progress)
	return o, err
}

// Validate reports whether Read would accept o, without touching storage.
func (o ReadOptions) Validate() error {
	_, err := o.validate()
	return err
}
