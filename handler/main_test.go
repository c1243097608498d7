package handler

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"spool/internal/azurite"
)

// One Azurite per flavour for the whole package, started on first use so that a
// targeted `go test -run` of pure handler logic starts none.
var (
	plainAzurite = &lazyAzurite{opts: azurite.Options{}}
	tlsAzurite   = &lazyAzurite{opts: azurite.Options{HTTPS: true}}
)

func TestMain(m *testing.M) {
	code := m.Run()
	plainAzurite.stop()
	tlsAzurite.stop()
	os.Exit(code)
}

type lazyAzurite struct {
	opts azurite.Options
	once sync.Once
	in   *azurite.Instance
	err  error
}

func (l *lazyAzurite) get(t testing.TB) *azurite.Instance {
	t.Helper()
	l.once.Do(func() {
		l.in, l.err = azurite.Start(l.opts)
		if l.err != nil {
			l.err = fmt.Errorf("starting Azurite (HTTPS %v): %w", l.opts.HTTPS, l.err)
		}
	})
	if l.err != nil {
		t.Fatal(l.err)
	}
	return l.in
}

func (l *lazyAzurite) stop() {
	if l.in != nil {
		l.in.Stop()
	}
}
