package handler

import (
	"testing"

	"spool/internal/azurite"
)

// One Azurite per flavour for the whole package, started on first use so that a
// targeted `go test -run` of pure handler logic starts none.
var (
	plainAzurite = sharedAzurite{azurite.NewShared(azurite.Options{})}
	tlsAzurite   = sharedAzurite{azurite.NewShared(azurite.Options{HTTPS: true})}
)

func TestMain(m *testing.M) { azurite.TestMain(m, plainAzurite.Shared, tlsAzurite.Shared) }

// sharedAzurite keeps the name the package's tests use for a shared instance.
type sharedAzurite struct{ *azurite.Shared }

func (s sharedAzurite) get(t testing.TB) *azurite.Instance {
	t.Helper()
	return s.Get(t)
}
