package transfer

import (
	"crypto/md5"
	"testing"
)

// MD5 is most of the engine's CPU. These compare hashing 4 MiB blocks one at a
// time with crypto/md5 against batches side by side in md5-simd's lanes, per core
// (run with -cpu 1).
func benchmarkBatch(b *testing.B, n int) {
	h := newMD5Hasher(16)
	defer h.close()
	data := make([][]byte, n)
	for i := range data {
		data[i] = genData(int64(i), 4<<20)
	}
	b.SetBytes(int64(n) * 4 << 20)
	for b.Loop() {
		h.sumAll(data)
	}
}

func BenchmarkMD5OneBlockCrypto(b *testing.B) {
	block := genData(0, 4<<20)
	b.SetBytes(int64(len(block)))
	for b.Loop() {
		md5.Sum(block)
	}
}

func BenchmarkMD5BatchOf4(b *testing.B)  { benchmarkBatch(b, 4) }
func BenchmarkMD5BatchOf8(b *testing.B)  { benchmarkBatch(b, 8) }
func BenchmarkMD5BatchOf16(b *testing.B) { benchmarkBatch(b, 16) }
