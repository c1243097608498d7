package blobstore

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Exported for the external tests, which use blobtest (and blobtest imports this
// package).
const (
	DelegationKeyLife = delegationKeyLife
	DelegationRenewal = delegationRenewal
)

// DelegationCredential is the signer's cached key lookup for a SAS expiring at
// sasExpiry.
func DelegationCredential(ctx context.Context, bc *Containers, sasExpiry time.Time) (*service.UserDelegationCredential, error) {
	return bc.signer.(*userDelegationSigner).credential(ctx, sasExpiry)
}
