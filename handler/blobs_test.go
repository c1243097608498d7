package handler

import (
	"net/http"
	"testing"

	"spool/blobstore"
	"spool/blobstore/blobtest"
)

// The handler's live tests reach blob storage through spool/blobstore on the
// package's shared Azurites; these helpers bind blobtest's to them.

func sharedKeyContainers(t testing.TB) (*blobstore.Containers, *http.Client) {
	return blobtest.SharedKeyContainers(t, plainAzurite.get(t))
}

func userDelegationContainers(t testing.TB) (*blobstore.Containers, *http.Client) {
	return blobtest.UserDelegationContainers(t, tlsAzurite.get(t))
}

type fakeEntraToken = blobtest.FakeEntraToken

var (
	certPool       = blobtest.CertPool
	blobAt         = blobtest.BlobAt
	otherContainer = blobtest.OtherContainer
	upload         = blobtest.Upload
	download       = blobtest.Download
	wantForbidden  = blobtest.WantForbidden
	mustQuery      = blobtest.MustQuery
)
