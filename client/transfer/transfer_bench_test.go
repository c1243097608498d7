package transfer

import (
	"context"
	"io"
	"testing"
	"time"
)

// Client-side cost of moving 64 MiB through the engine with default settings.
// Azurite shares the machine, so wall time here is not the engine's; use
// -cpuprofile to see where the client's own CPU goes.
func BenchmarkWrite64MiB(b *testing.B) { benchmarkWrite(b, WriteOptions{}) }

// A heartbeat every 50 ms, a hundred times the default rate: what signs of life
// cost a write at worst.
func BenchmarkWrite64MiBHeartbeatEvery50ms(b *testing.B) {
	benchmarkWrite(b, WriteOptions{HeartbeatInterval: 50 * time.Millisecond})
}

func benchmarkWrite(b *testing.B, opts WriteOptions) {
	const size = 64 << 20
	b.SetBytes(size)
	for b.Loop() {
		buf := newBufferB(b)
		if _, err := Write(context.Background(), StaticURL(buf.write), &genReader{size: size}, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead64MiB(b *testing.B) {
	const size = 64 << 20
	buf := newBufferB(b)
	if _, err := Write(context.Background(), StaticURL(buf.write), &genReader{size: size}, WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Read(context.Background(), StaticURL(buf.read), io.Discard, ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
