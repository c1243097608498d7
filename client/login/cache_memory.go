//go:build !(linux || windows || (darwin && cgo))

package login

import "github.com/Azure/azure-sdk-for-go/sdk/azidentity"

// tokenCache is azidentity's in-memory cache where its persistent one cannot be
// built (macOS without cgo has no keychain access).
func tokenCache(bool) azidentity.Cache { return azidentity.Cache{} }
