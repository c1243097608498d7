package blobstore_test

import (
	"testing"

	"spool/internal/azurite"
)

// Both Azurite flavours for the whole package, each started by the first test that
// needs it: plain HTTP for service SAS, HTTPS with OAuth for user-delegation SAS.
var plainAzurite, tlsAzurite = azurite.NewShared(azurite.Options{}), azurite.NewShared(azurite.Options{HTTPS: true})

func TestMain(m *testing.M) { azurite.TestMain(m, plainAzurite, tlsAzurite) }
