package transfer

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"sync"

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
// hand-off cost; such blobs are hashed with crypto/md5.
const minSIMDBlob = 256 << 10

// md5Hasher hashes batches of blobs. MD5 dominates the engine's CPU time, and
// one MD5 runs at one core's scalar speed; md5-simd runs up to 16 independent
// hashes side by side in vector lanes (AVX2/AVX-512), so a batch of 4 costs
// about as much CPU as 2.5 hashed alone, and a batch of 8 as 3 (see
// BenchmarkMD5BatchOf*). Without those CPU features it falls back to crypto/md5.
type md5Hasher struct {
	server md5simd.Server // nil: crypto/md5 only
}

// minSIMDLanes is how many blocks must be hashed at once before md5-simd pays:
// below it the library hashes lanes one by one anyway, after copying the data
// into its own buffers, so crypto/md5 is cheaper.
const minSIMDLanes = 3

func newMD5Hasher(parallel int) *md5Hasher {
	if parallel < minSIMDLanes {
		return &md5Hasher{}
	}
	return &md5Hasher{server: md5simd.NewServer()}
}

// sumBlocks sets the Content-MD5 of every block, hashing them side by side.
func (h *md5Hasher) sumBlocks(blocks []block) {
	data := make([][]byte, len(blocks))
	for i := range blocks {
		data[i] = blocks[i].data
	}
	for i, sum := range h.sumAll(data) {
		blocks[i].contentMD5 = base64.StdEncoding.EncodeToString(sum[:])
	}
}

// sumAll hashes every slice, side by side in vector lanes when there are enough.
func (h *md5Hasher) sumAll(data [][]byte) [][md5.Size]byte {
	sums := make([][md5.Size]byte, len(data))
	if len(data) == 1 {
		sums[0] = md5.Sum(data[0])
		return sums
	}
	lanes := h.server != nil && len(data) >= minSIMDLanes
	var wg sync.WaitGroup
	for i := range data {
		wg.Go(func() {
			if lanes && len(data[i]) >= minSIMDBlob {
				sums[i] = h.sumInLane(data[i])
			} else {
				sums[i] = md5.Sum(data[i])
			}
		})
	}
	wg.Wait()
	return sums
}

// hashLane is one MD5 being computed in a vector lane.
type hashLane = md5simd.Hasher

// lane returns a vector lane for a streaming hash, or nil when lanes are off.
func (h *md5Hasher) lane() hashLane {
	if h.server == nil {
		return nil
	}
	return h.server.NewHash()
}

func (h *md5Hasher) sumInLane(data []byte) [md5.Size]byte {
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
