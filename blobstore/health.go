package blobstore

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Ping checks that blob storage answers with the app's own rights: listing one
// container needs only the data role the app has (Storage Blob Data Contributor),
// unlike reading the service properties.
func (bc *Containers) Ping(ctx context.Context) error {
	pager := bc.service.NewListContainersPager(&service.ListContainersOptions{MaxResults: to.Ptr(int32(1))})
	if _, err := pager.NextPage(ctx); err != nil {
		return storageError("listing containers", err)
	}
	return nil
}

// Endpoint is the blob service URL of the account, without credentials.
func (bc *Containers) Endpoint() string { return bc.service.URL() }

// AccountName is the storage account's name.
func (bc *Containers) AccountName() string { return bc.accountName }
