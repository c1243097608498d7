package blobstore_test

import (
	"strings"
	"testing"

	"spool/blobstore"
)

func TestOptionsFromConnectionStringTakeAccountKeyAndEndpointAndNeverQuoteTheString(t *testing.T) {
	o, err := blobstore.OptionsFromConnectionString("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;")
	if err != nil {
		t.Fatal(err)
	}
	if o.AccountName != "devstoreaccount1" || o.AccountKey != "a2V5" || o.Endpoint != "http://127.0.0.1:10000/devstoreaccount1" {
		t.Errorf("got %+v", o)
	}
	o, err = blobstore.OptionsFromConnectionString("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net")
	if err != nil || o.Endpoint != "https://acct.blob.core.windows.net/" {
		t.Errorf("derived endpoint: %+v %v", o, err)
	}
	_, err = blobstore.OptionsFromConnectionString("AccountName=acct;SharedAccessSignature=sv=secret")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a connection string without a key: %v", err)
	}
}
