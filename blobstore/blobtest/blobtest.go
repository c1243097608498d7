// Package blobtest holds what tests of SAS URLs need on both sides of the adapter:
// a fake Entra token Azurite accepts, clients for Azurite's two flavours, and
// uploads and downloads through a SAS URL alone. Tests only.
package blobtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"spool/blobstore"
	"spool/internal/azurite"
)

// FakeEntraToken is an azcore.TokenCredential for tests: an unsigned JWT with the
// claims Azurite's basic OAuth checks (it does not verify signatures).
type FakeEntraToken struct{}

// GetToken returns a fresh unsigned token valid for an hour.
func (FakeEntraToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	now := time.Now()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	claims := map[string]any{
		"iss": "https://sts.windows.net/" + tenant + "/",
		"aud": "https://storage.azure.com",
		"tid": tenant,
		"oid": "5f3d0c1e-0000-4000-8000-000000000001",
		"iat": now.Add(-time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	token := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + ".c2lnbmF0dXJl"
	return azcore.AccessToken{Token: token, ExpiresOn: now.Add(time.Hour)}, nil
}

// CertPool trusts in's self-signed certificate.
func CertPool(t testing.TB, in *azurite.Instance) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(in.CertPEM) {
		t.Fatal("Azurite's certificate does not parse")
	}
	return pool
}

// SharedKeyContainers signs service SAS URLs with the account key of a plain-HTTP
// Azurite; the client is the one to use its URLs with.
func SharedKeyContainers(t testing.TB, in *azurite.Instance) (*blobstore.Containers, *http.Client) {
	t.Helper()
	bc, err := blobstore.New(blobstore.Options{
		Endpoint:    in.BlobEndpoint,
		AccountName: azurite.AccountName,
		AccountKey:  azurite.AccountKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return bc, http.DefaultClient
}

// UserDelegationContainers signs user-delegation SAS URLs on an HTTPS Azurite with
// OAuth; the client trusts its certificate.
func UserDelegationContainers(t testing.TB, in *azurite.Instance) (*blobstore.Containers, *http.Client) {
	t.Helper()
	pool := CertPool(t, in)
	bc, err := blobstore.New(blobstore.Options{
		Endpoint:    in.BlobEndpoint,
		AccountName: azurite.AccountName,
		Credential:  FakeEntraToken{},
		RootCAs:     pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	return bc, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// WantForbidden fails t unless err is storage's 403.
func WantForbidden(t testing.TB, what string, err error) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("%s: want 403, got %v", what, err)
	}
}

// ServiceClient reaches in's blob service directly with the account key, to look
// at containers behind the adapter's back.
func ServiceClient(t testing.TB, in *azurite.Instance) *service.Client {
	t.Helper()
	cred, err := service.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	var opts *service.ClientOptions
	if len(in.CertPEM) > 0 {
		opts = &service.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: &http.Client{
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: CertPool(t, in)}},
		}}}
	}
	client, err := service.NewClientWithSharedKeyCredential(in.BlobEndpoint, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return client
}
