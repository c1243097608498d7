package transfer

import (
	"fmt"
	"math/bits"
	"strings"
)

// Names of the two metadata blobs that sit beside the data blobs.
const (
	startBlobName = ".bufferstart"
	endBlobName   = ".bufferend"
)

// BlobPath is the container-relative name of data blob n (n >= 0): a root folder
// holding the bit length of n>>12, up to eight sub-folders of its remaining bits,
// and the low 12 bits as the file name. Lexical order follows numeric order and no
// folder holds more than 4096 entries, which is what makes this layout Tyger's.
func BlobPath(n int64) string {
	file := uint64(n) & 0xFFF
	q := uint64(n) >> 12
	r := bits.Len64(q)
	var b strings.Builder
	fmt.Fprintf(&b, "%02X", r)
	if r >= 2 {
		q &^= 1 << (r - 1)
		folders := (r-2)/8 + 1
		for i := folders - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "/%02X", byte(q>>(8*i)))
		}
	}
	fmt.Fprintf(&b, "/%03X", file)
	return b.String()
}
