package transfer

import (
	"context"
	"testing"
	"time"
)

func TestByteBudgetHoldsBackBlobsAheadButNeverTheNextOne(t *testing.T) {
	ctx := context.Background()
	b, stop := newByteBudget(ctx, 10)
	defer stop()
	if err := b.acquire(ctx, 1, 8); err != nil {
		t.Fatal(err)
	}
	admitted := make(chan struct{})
	go func() {
		b.acquire(ctx, 2, 8)
		close(admitted)
	}()
	select {
	case <-admitted:
		t.Fatal("blob 2 was admitted over the budget")
	case <-time.After(50 * time.Millisecond):
	}
	// Blob 0 is the one the consumer waits for: it goes in whatever the budget.
	if err := b.acquire(ctx, 0, 100); err != nil {
		t.Fatal(err)
	}
	b.advance(1)
	b.release(100)
	b.advance(2)
	b.release(8)
	select {
	case <-admitted:
	case <-time.After(5 * time.Second):
		t.Fatal("blob 2 never admitted after the budget freed up")
	}
}

func TestByteBudgetWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b, stop := newByteBudget(ctx, 1)
	defer stop()
	b.acquire(ctx, 0, 1)
	done := make(chan error)
	go func() { done <- b.acquire(ctx, 5, 1) }()
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
