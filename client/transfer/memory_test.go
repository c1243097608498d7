package transfer

import (
	"context"
	"testing"
	"time"
)

func TestBlobMemoryHoldsBackBlobsAheadButNeverTheNextOne(t *testing.T) {
	ctx := context.Background()
	b, stop := newBlobMemory(ctx, 10)
	defer stop()
	blob1, err := b.get(ctx, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	admitted := make(chan struct{})
	go func() {
		b.get(ctx, 2, 8)
		close(admitted)
	}()
	select {
	case <-admitted:
		t.Fatal("blob 2 was admitted over the budget")
	case <-time.After(50 * time.Millisecond):
	}
	// Blob 0 is the one the consumer waits for: it goes in whatever the budget.
	blob0, err := b.get(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	b.advance(1)
	b.put(blob0)
	b.advance(2)
	b.put(blob1)
	select {
	case <-admitted:
	case <-time.After(5 * time.Second):
		t.Fatal("blob 2 never admitted after the budget freed up")
	}
}

func TestBlobMemoryWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b, stop := newBlobMemory(ctx, 1)
	defer stop()
	b.get(ctx, 0, 1)
	done := make(chan error)
	go func() {
		_, err := b.get(ctx, 5, 1)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("acquire succeeded after cancellation")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("acquire still waiting after cancellation")
	}
}

func TestBlobMemoryReusesBuffersAndCountsIdleOnesAgainstTheLimit(t *testing.T) {
	ctx := context.Background()
	b, stop := newBlobMemory(ctx, 16)
	defer stop()
	first, _ := b.get(ctx, 0, 8)
	b.put(first)
	again, _ := b.get(ctx, 1, 6)
	if &again[:cap(again)][0] != &first[0] || len(again) != 6 {
		t.Fatal("a freed buffer big enough was not reused")
	}
	b.put(again)
	// The idle 8-byte buffer is too small for 12 bytes; it is dropped to make
	// room instead of holding 8+12 bytes over the limit of 16.
	big, err := b.get(ctx, 5, 12)
	if err != nil || len(big) != 12 || b.allocated != 12 {
		t.Fatalf("got %d bytes, %v; %d allocated, want 12", len(big), err, b.allocated)
	}
}
