package transfer

import (
	"strings"
	"testing"
)

func FuzzBlobPath(f *testing.F) {
	for _, pair := range [][2]int64{{0, 1}, {0xFFF, 0x1000}, {0x1FFF, 0x2000}, {0x1FFFFF, 0x200000}, {0x1FFFFFFF, 0x20000000}, {1 << 40, 1<<40 + 1}, {0x7FFFFFFFFFFFFFFE, 0x7FFFFFFFFFFFFFFF}, {5, 5}} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, a, b int64) {
		if a < 0 || b < 0 {
			return // blob numbers are never negative
		}
		pa, pb := BlobPath(a), BlobPath(b)
		for _, p := range []string{pa, pb} {
			parts := strings.Split(p, "/")
			if len(parts) < 2 || len(parts) > 10 {
				t.Fatalf("%q has %d parts", p, len(parts))
			}
			// Folders are two hex digits (≤ 256 sub-folders), files three (≤ 4096).
			for i, part := range parts {
				want := 2
				if i == len(parts)-1 {
					want = 3
				}
				if len(part) != want || strings.Trim(part, "0123456789ABCDEF") != "" {
					t.Fatalf("%q: part %q is not %d upper-case hex digits", p, part, want)
				}
			}
		}
		switch {
		case a == b && pa != pb:
			t.Fatalf("BlobPath(%d) is not stable: %q, %q", a, pa, pb)
		case a < b && !(pa < pb):
			t.Fatalf("BlobPath(%d) = %q does not sort before BlobPath(%d) = %q", a, pa, b, pb)
		case a > b && !(pa > pb):
			t.Fatalf("BlobPath(%d) = %q does not sort after BlobPath(%d) = %q", a, pa, b, pb)
		}
	})
}
