package main

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/blobstore"
	"spool/tablestore"
)

// clients builds the table store and the blob containers the configuration names.
// Nothing here contacts storage: the tables are created later (see tables), so the
// handler can listen while storage is unreachable or its roles still propagate.
// Errors are configuration mistakes and never quote the connection string.
func clients(c config) (*tablestore.Store, *blobstore.Containers, error) {
	svc, blobOpts, err := serviceClients(c)
	if err != nil {
		return nil, nil, err
	}
	store, err := tablestore.New(svc, tablestore.Options{TablePrefix: c.tablePrefix, IndexShards: c.indexShards})
	if err != nil {
		return nil, nil, err
	}
	containers, err := blobstore.New(blobOpts)
	if err != nil {
		return nil, nil, err
	}
	return store, containers, nil
}

var accountPattern = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

func serviceClients(c config) (*aztables.ServiceClient, blobstore.Options, error) {
	tableOpts := &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: blobstore.DefaultRetry()}}
	if c.connectionString != "" {
		blobOpts, err := blobstore.OptionsFromConnectionString(c.connectionString)
		if err != nil {
			return nil, blobstore.Options{}, fmt.Errorf("SPOOL_STORAGE_CONNECTION_STRING: %w", err)
		}
		svc, err := aztables.NewServiceClientFromConnectionString(c.connectionString, tableOpts)
		if err != nil {
			return nil, blobstore.Options{}, errors.New("SPOOL_STORAGE_CONNECTION_STRING is not a valid table connection string")
		}
		return svc, blobOpts, nil
	}
	if !accountPattern.MatchString(c.account) {
		return nil, blobstore.Options{}, fmt.Errorf("SPOOL_STORAGE_ACCOUNT %q must be 3-24 lowercase letters or digits", c.account)
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, blobstore.Options{}, fmt.Errorf("getting Azure credentials: %w", err)
	}
	svc, err := aztables.NewServiceClient("https://"+c.account+".table.core.windows.net/", cred, tableOpts)
	if err != nil {
		return nil, blobstore.Options{}, fmt.Errorf("table service for account %s: %w", c.account, err)
	}
	blobOpts := blobstore.Options{
		Endpoint:    "https://" + c.account + ".blob.core.windows.net/",
		AccountName: c.account,
		Credential:  cred,
	}
	return svc, blobOpts, nil
}
