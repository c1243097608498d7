package blobstore_test

import (
	"fmt"
	"os"
	"testing"

	"spool/internal/azurite"
)

// Both Azurite flavours for the whole package: plain HTTP for service SAS, HTTPS
// with OAuth for user-delegation SAS.
var plainAzurite, tlsAzurite *azurite.Instance

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	if plainAzurite, err = azurite.Start(azurite.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "starting Azurite:", err)
		return 1
	}
	defer plainAzurite.Stop()
	if tlsAzurite, err = azurite.Start(azurite.Options{HTTPS: true}); err != nil {
		fmt.Fprintln(os.Stderr, "starting Azurite with HTTPS:", err)
		return 1
	}
	defer tlsAzurite.Stop()
	return m.Run()
}
