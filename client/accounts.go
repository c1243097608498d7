package client

import (
	"context"
	"fmt"
	"net/http"
)

// StorageAccount is one storage account of the server, as GET
// /buffers/storage-accounts lists it.
type StorageAccount struct {
	Name     string `json:"name"`
	Location string `json:"location"`
	Endpoint string `json:"endpoint"`
}

// StorageAccounts lists the storage accounts buffers may be placed in.
func (c *Client) StorageAccounts(ctx context.Context) ([]StorageAccount, error) {
	var accounts []StorageAccount
	if err := c.do(ctx, call{method: http.MethodGet, path: "/buffers/storage-accounts"}, &accounts); err != nil {
		return nil, fmt.Errorf("listing storage accounts: %w", err)
	}
	return accounts, nil
}
