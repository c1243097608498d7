package transfer

import "context"

// blockPool hands out at most limit byte slices, allocating them only when first
// needed, so a transfer's memory is bounded by limit blocks and a tiny transfer
// allocates little.
type blockPool struct {
	free  chan []byte
	slots chan struct{} // one token per slice that may still be allocated
	size  int
}

func newBlockPool(limit, size int) *blockPool {
	p := &blockPool{free: make(chan []byte, limit), slots: make(chan struct{}, limit), size: size}
	for range limit {
		p.slots <- struct{}{}
	}
	return p
}

// get returns a slice of at least n bytes (the pool's size when n is 0), waiting
// while all of them are in use.
func (p *blockPool) get(ctx context.Context, n int) ([]byte, error) {
	if n < p.size {
		n = p.size
	}
	select {
	case b := <-p.free:
		if cap(b) < n {
			b = make([]byte, n)
		}
		return b[:n], nil
	default:
	}
	select {
	case b := <-p.free:
		if cap(b) < n {
			b = make([]byte, n)
		}
		return b[:n], nil
	case <-p.slots:
		return make([]byte, n), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (p *blockPool) put(b []byte) {
	p.free <- b[:cap(b)]
}
