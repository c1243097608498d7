package transfer

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"

	md5simd "github.com/minio/md5-simd"
)

// HashChainHeader carries a data blob's cumulative hash chain value.
const HashChainHeader = "x-ms-meta-cumulative_hash_chain"

// InitialHashChain is the chain value before blob 0: base64 of sixteen ASCII '0's.
const InitialHashChain = "MDAwMDAwMDAwMDAwMDAwMA=="

// NextHashChain extends the chain by one blob. Both inputs and the result are
// base64 text, and the SHA-256 runs over the concatenated text, not the raw
// digests: that is the format Tyger readers check.
func NextHashChain(prev, contentMD5 string) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte(contentMD5))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// ContentMD5 is the Content-MD5 header value for data.
func ContentMD5(data []byte) string {
	sum := md5.Sum(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// minSIMDBlob is the size below which a lane of md5-simd is not worth its
// hand-off cost; such blobs are hashed with crypto/md5 on the calling goroutine.
const minSIMDBlob = 256 << 10

// md5Hasher hashes many blobs at once. MD5 dominates the engine's CPU time, and
// md5-simd runs up to 16 independent hashes side by side in one core's vector
// lanes, which suits dop workers each holding a block.
type md5Hasher struct {
	server md5simd.Server // nil: crypto/md5 only
}

func newMD5Hasher(parallel int) *md5Hasher {
	if parallel < 4 {
		// With few blocks in flight the lanes stay empty and crypto/md5 is faster.
		return &md5Hasher{}
	}
	return &md5Hasher{server: md5simd.NewServer()}
}

func (h *md5Hasher) sum(data []byte) [md5.Size]byte {
	if h.server == nil || len(data) < minSIMDBlob {
		return md5.Sum(data)
	}
	lane := h.server.NewHash()
	defer lane.Close()
	lane.Write(data)
	var out [md5.Size]byte
	lane.Sum(out[:0])
	return out
}

func (h *md5Hasher) close() {
	if h.server != nil {
		h.server.Close()
	}
}
