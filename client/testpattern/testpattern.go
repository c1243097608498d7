// Package testpattern writes Tyger's deterministic test data, the bytes behind
// `spool buffer gen`, so checksums compare between spool and Tyger.
package testpattern

import (
	"fmt"
	"io"
)

// genChunk is one write of Generate. Its length is a multiple of the pattern's 64
// bytes, so every chunk starts at the pattern's beginning and can be reused as is.
const genChunk = 64 << 10

var genPattern = func() []byte {
	b := make([]byte, genChunk)
	for i := range b {
		b[i] = ':' + byte(i%64)
	}
	return b
}()

// Write writes n bytes of Tyger's deterministic test data (byte i is ':' + i%64)
// in 64 KiB writes, so SHA-256 test vectors computed by Tyger hold for it.
func Write(w io.Writer, n int64) error {
	if n < 0 {
		return fmt.Errorf("cannot generate %d bytes", n)
	}
	for n > 0 {
		chunk := genPattern
		if n < int64(len(chunk)) {
			chunk = chunk[:n]
		}
		written, err := w.Write(chunk)
		n -= int64(written)
		if err != nil {
			return fmt.Errorf("writing generated data: %w", err)
		}
	}
	return nil
}
