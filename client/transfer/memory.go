package transfer

import (
	"context"
	"sync"
)

// blobMemory is a Read's one memory budget: the bytes of blob buffers it has
// allocated, whether they hold a downloaded blob the output has not taken yet or
// wait for reuse. Whatever size the writer chose for its blobs, a download waits
// while the budget is spent, except for the blob the output needs next, which is
// always let in: blobs bigger than the budget slow a read down (to about one blob
// at a time) instead of deadlocking it.
type blobMemory struct {
	mu        sync.Mutex
	cond      sync.Cond
	limit     int64
	allocated int64    // bytes of every buffer handed out or kept in free
	free      [][]byte // buffers given back, for reuse
	next      int64    // the blob number the output waits for
}

// newBlobMemory returns a budget of limit bytes whose waits end with ctx; stop
// releases the context watch.
func newBlobMemory(ctx context.Context, limit int64) (m *blobMemory, stop func() bool) {
	m = &blobMemory{limit: limit}
	m.cond.L = &m.mu
	stop = context.AfterFunc(ctx, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.cond.Broadcast()
	})
	return m, stop
}

// get returns a buffer of size bytes for data blob n, waiting while the budget
// is spent unless n is the blob the output needs next.
func (m *blobMemory) get(ctx context.Context, n, size int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if b := m.reuse(size); b != nil {
			return b, nil
		}
		if m.allocated+size <= m.limit || n == m.next {
			m.allocated += size
			return make([]byte, size), nil
		}
		if len(m.free) > 0 {
			// Idle buffers too small for this blob: give their bytes back.
			m.allocated -= int64(cap(m.free[len(m.free)-1]))
			m.free = m.free[:len(m.free)-1]
			continue
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		m.cond.Wait()
	}
}

// reuse takes a free buffer that holds size bytes, if there is one.
func (m *blobMemory) reuse(size int64) []byte {
	for i, b := range m.free {
		if int64(cap(b)) >= size {
			m.free[i] = m.free[len(m.free)-1]
			m.free = m.free[:len(m.free)-1]
			return b[:size]
		}
	}
	return nil
}

// put gives back a buffer get returned, for reuse.
func (m *blobMemory) put(b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.free = append(m.free, b[:cap(b)])
	m.cond.Broadcast()
}

// advance records that the output now waits for blob next.
func (m *blobMemory) advance(next int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next = next
	m.cond.Broadcast()
}
