package cli

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/alecthomas/units"
)

// maxBlockSize is the largest blob a writer makes: Blob Storage's limit for one Put
// Blob, which the transfer engine enforces too. Checking it here makes a too-large
// --block-size a usage error, before any request.
const maxBlockSize = 4000 << 20

// sizeHelp explains the size grammar in --help.
const sizeHelp = `Sizes take base-2 units: 512K, 16M, 1.5M, 1G, or plain bytes; 1G, 1GB and
1GiB all mean 1024³ bytes. A fraction must come to whole bytes.`

// fractionalSize splits a size that has a fractional number into the number and its
// unit ("1.5M" → "1.5", "M"), so the exact byte count can be checked.
var fractionalSize = regexp.MustCompile(`^([0-9]*\.[0-9]*)([KMGTPE]?)(?:iB|B)$`)

// parseSize reads a byte count the way Tyger's CLI does: a "B" is appended unless
// the text ends in one, then base-2 units apply, so "16M", "1G", "512K", "1.5M",
// "4MiB" and plain "1000" all work. Negative sizes are refused, and so are fractions
// that are not whole bytes ("1.5", "0.1K"), which the units library would round
// down without a word.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if !strings.HasSuffix(t, "B") {
		t += "B"
	}
	n, err := units.ParseBase2Bytes(t)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: use a number with an optional unit, like 1000, 512K, 16M or 1.5G", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("invalid size %q: it must not be negative", s)
	}
	if m := fractionalSize.FindStringSubmatch(t); m != nil && !wholeBytes(m[1], m[2]) {
		return 0, fmt.Errorf("invalid size %q: it is not a whole number of bytes", s)
	}
	return int64(n), nil
}

// wholeBytes says whether number (a decimal fraction) times the base-2 unit is an
// integer.
func wholeBytes(number, unit string) bool {
	r, ok := new(big.Rat).SetString(number)
	if !ok {
		return false
	}
	scale := new(big.Int).Lsh(big.NewInt(1), uint(10*(strings.Index("KMGTPE", unit)+1)))
	if unit == "" {
		scale.SetInt64(1)
	}
	return r.Mul(r, new(big.Rat).SetInt(scale)).IsInt()
}

// parseBlockSize is parseSize for a writer's block size: at least one byte, at most
// maxBlockSize.
func parseBlockSize(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("invalid block size %q: it must be at least 1 byte", s)
	}
	if n > maxBlockSize {
		return 0, fmt.Errorf("invalid block size %q: it must be at most 4000M", s)
	}
	return n, nil
}
