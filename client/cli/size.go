package cli

import (
	"fmt"
	"strings"

	"github.com/alecthomas/units"
)

// parseSize reads a byte count the way Tyger's CLI does: a "B" is appended unless
// the text ends in one, then base-2 units apply, so "16M", "1G", "512K", "1.5M",
// "4MiB" and plain "1000" all work. Negative sizes are refused.
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
	return int64(n), nil
}

// parseBlockSize is parseSize for a writer's block size, which must be at least one
// byte.
func parseBlockSize(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("invalid block size %q: it must be at least 1 byte", s)
	}
	return n, nil
}
