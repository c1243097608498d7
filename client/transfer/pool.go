package transfer

import "context"

// blockPool is a Write's memory budget: it hands out at most limit blocks of
// size bytes, allocating them only when first needed, so a tiny transfer
// allocates little.
type blockPool struct {
	free  chan []byte
	slots chan struct{} // one token per block that may still be allocated
	size  int
}

func newBlockPool(limit, size int) *blockPool {
	p := &blockPool{free: make(chan []byte, limit), slots: make(chan struct{}, limit), size: size}
	for range limit {
		p.slots <- struct{}{}
	}
	return p
}

// get returns a block, waiting while all of them are in use. A freed block is
// preferred over allocating a new one.
func (p *blockPool) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		return b, nil
	default:
	}
	select {
	case b := <-p.free:
		return b, nil
	case <-p.slots:
		return make([]byte, p.size), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (p *blockPool) put(b []byte) {
	p.free <- b[:cap(b)]
}
