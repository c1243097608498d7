package azurite

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Shared is one Azurite for a whole test binary, started on first use, so that a
// targeted `go test -run` of tests that need no storage starts none. TestMain stops
// it by PID when the tests are done.
type Shared struct {
	opts Options
	once sync.Once
	in   *Instance
	err  error
}

// NewShared describes an instance to start on first use; opts are as for Start
// (HTTPS with OAuth, an on-disk Dir, fixed ports).
func NewShared(opts Options) *Shared { return &Shared{opts: opts} }

// Instance returns the running instance, starting it on the first call; every
// later call returns the same instance or the same start error.
func (s *Shared) Instance() (*Instance, error) {
	s.once.Do(func() {
		s.in, s.err = Start(s.opts)
		if s.err != nil {
			s.err = fmt.Errorf("starting Azurite (HTTPS %v): %w", s.opts.HTTPS, s.err)
		}
	})
	return s.in, s.err
}

// Get is Instance for a test: a start failure fails t.
func (s *Shared) Get(t testing.TB) *Instance {
	t.Helper()
	in, err := s.Instance()
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// stop stops the instance if it was started.
func (s *Shared) stop() {
	if s.in != nil {
		s.in.Stop()
	}
}

// TestMain runs a package's tests, stops every shared instance that was started and
// exits with the tests' status: `func TestMain(m *testing.M) { azurite.TestMain(m, storage) }`.
func TestMain(m *testing.M, shared ...*Shared) {
	code := m.Run()
	for _, s := range shared {
		s.stop()
	}
	os.Exit(code)
}
