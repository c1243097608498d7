package blobtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
)

// Upload writes data to blobURL with no credential but the URL's own, and no retry.
func Upload(t testing.TB, client *http.Client, blobURL string, data []byte) error {
	t.Helper()
	bb, err := blockblob.NewClientWithNoCredential(blobURL, &blockblob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: client, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bb.Upload(context.Background(), streaming.NopCloser(bytes.NewReader(data)), nil)
	return err
}

// Download reads blobURL with no credential but the URL's own, and no retry.
func Download(t testing.TB, client *http.Client, blobURL string) ([]byte, error) {
	t.Helper()
	b, err := blob.NewClientWithNoCredential(blobURL, &blob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: client, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.DownloadStream(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
