package cli

import (
	"testing"

	"spool/internal/azurite"
)

// cliAzurite serves the end-to-end tests, started on first use so the unit tests
// need none. The in-process handler over it (stack.server) ends with the binary.
var cliAzurite = azurite.NewShared(azurite.Options{})

func TestMain(m *testing.M) { azurite.TestMain(m, cliAzurite) }
