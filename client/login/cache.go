//go:build linux || windows || (darwin && cgo)

package login

import (
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity/cache"
)

var (
	persistentOnce  sync.Once
	persistentCache azidentity.Cache
)

// tokenCache returns azidentity's encrypted persistent cache (Linux: a key on the
// user keyring and an encrypted file; Windows: DPAPI; macOS: the keychain) when
// wanted and available, else the zero Cache, which is azidentity's in-memory one:
// the CLI then signs in silently from its AuthenticationRecord where the platform
// keeps a session, and asks again otherwise.
func tokenCache(persistent bool) azidentity.Cache {
	if !persistent {
		return azidentity.Cache{}
	}
	persistentOnce.Do(func() {
		c, err := cache.New(&cache.Options{Name: "spool"})
		if err == nil {
			persistentCache = c
		}
	})
	return persistentCache
}
