package handler

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"spool/internal/azurite"
)

// fakeEntraToken is a test-only azcore.TokenCredential: an unsigned JWT with the
// claims Azurite's basic OAuth checks (it does not verify signatures).
type fakeEntraToken struct{}

func (fakeEntraToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
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

func certPool(t testing.TB, in *azurite.Instance) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(in.CertPEM) {
		t.Fatal("Azurite's certificate does not parse")
	}
	return pool
}

func sharedKeyContainers(t testing.TB) (*BlobContainers, *http.Client) {
	in := plainAzurite.get(t)
	bc, err := NewBlobContainers(BlobOptions{
		Endpoint:    in.BlobEndpoint,
		AccountName: azurite.AccountName,
		AccountKey:  azurite.AccountKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return bc, http.DefaultClient
}

func userDelegationContainers(t testing.TB) (*BlobContainers, *http.Client) {
	in := tlsAzurite.get(t)
	pool := certPool(t, in)
	bc, err := NewBlobContainers(BlobOptions{
		Endpoint:    in.BlobEndpoint,
		AccountName: azurite.AccountName,
		Credential:  fakeEntraToken{},
		RootCAs:     pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	return bc, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// blobAt turns a container SAS URL into the URL of one blob in it.
func blobAt(t *testing.T, containerSAS, name string) string {
	t.Helper()
	u, err := url.Parse(containerSAS)
	if err != nil {
		t.Fatal(err)
	}
	u.Path += "/" + name
	return u.String()
}

// otherContainer points a container SAS at another container, keeping the signature.
func otherContainer(t *testing.T, containerSAS, from, to string) string {
	t.Helper()
	u, err := url.Parse(containerSAS)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = strings.Replace(u.Path, from, to, 1)
	return u.String()
}

func upload(t *testing.T, client *http.Client, blobURL string, data []byte) error {
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

func download(t *testing.T, client *http.Client, blobURL string) ([]byte, error) {
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

func wantForbidden(t *testing.T, what string, err error) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("%s: want 403, got %v", what, err)
	}
}

// checkSASGuards proves the URLs do what the API promises: a write URL creates and
// reads but cannot overwrite, a read URL reads but cannot write, and a URL for one
// container is useless for another.
func checkSASGuards(t *testing.T, bc *BlobContainers, client *http.Client) {
	ctx := context.Background()
	a, b := newID(), newID()
	for _, name := range []string{a, b} {
		if err := bc.Create(ctx, name); err != nil {
			t.Fatalf("creating container: %v", err)
		}
	}
	writeA, err := bc.AccessURL(ctx, a, true, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	readA, err := bc.AccessURL(ctx, a, false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if q := mustQuery(t, writeA); q.Get("sp") != "rc" || q.Get("sr") != "c" {
		t.Errorf("write URL grants sp=%s sr=%s, want rc on the container", q.Get("sp"), q.Get("sr"))
	}
	if q := mustQuery(t, readA); q.Get("sp") != "r" {
		t.Errorf("read URL grants sp=%s, want r", q.Get("sp"))
	}

	data := []byte("write once, read many")
	if err := upload(t, client, blobAt(t, writeA, "0"), data); err != nil {
		t.Fatalf("uploading with the write URL: %v", err)
	}
	if got, err := download(t, client, blobAt(t, readA, "0")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading with the read URL: %q %v", got, err)
	}
	if got, err := download(t, client, blobAt(t, writeA, "0")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading with the write URL: %q %v", got, err)
	}
	wantForbidden(t, "overwriting with the write URL", upload(t, client, blobAt(t, writeA, "0"), []byte("other")))
	wantForbidden(t, "writing with the read URL", upload(t, client, blobAt(t, readA, "1"), data))
	wantForbidden(t, "writing B with A's write URL", upload(t, client, blobAt(t, otherContainer(t, writeA, a, b), "0"), data))
	_, err = download(t, client, blobAt(t, otherContainer(t, readA, a, b), "0"))
	wantForbidden(t, "reading B with A's read URL", err)
	if got, _ := download(t, client, blobAt(t, readA, "0")); !bytes.Equal(got, data) {
		t.Errorf("blob changed after refused writes: %q", got)
	}

	if err := bc.Create(ctx, a); err == nil {
		t.Error("creating an existing container succeeded")
	}
	for _, name := range []string{a, b} {
		if err := bc.Delete(ctx, name); err != nil {
			t.Errorf("deleting container: %v", err)
		}
	}
	if err := bc.Delete(ctx, a); err != nil {
		t.Errorf("deleting a deleted container: %v", err)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestServiceSASFromAccountKeyGrantsReadOrCreateButNeverOverwrite(t *testing.T) {
	bc, client := sharedKeyContainers(t)
	checkSASGuards(t, bc, client)
}

func TestUserDelegationSASGrantsReadOrCreateButNeverOverwrite(t *testing.T) {
	bc, client := userDelegationContainers(t)
	checkSASGuards(t, bc, client)
	url, err := bc.AccessURL(context.Background(), newID(), false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, url)
	if q.Get("skoid") == "" || q.Get("spr") != "https" {
		t.Errorf("not an https-only user-delegation SAS: %s", q.Encode())
	}
}

func TestUserDelegationKeyIsCachedAndRenewedBeforeExpiry(t *testing.T) {
	in := tlsAzurite.get(t)
	clock := time.Now()
	bc, err := NewBlobContainers(BlobOptions{
		Endpoint: in.BlobEndpoint, AccountName: azurite.AccountName,
		Credential: fakeEntraToken{}, RootCAs: certPool(t, in),
		Now: func() time.Time { return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	signer := bc.signer.(*userDelegationSigner)
	ctx := context.Background()
	first, err := signer.credential(ctx, clock.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(delegationKeyLife - delegationRenewal - time.Minute)
	if again, _ := signer.credential(ctx, clock.Add(time.Hour)); again != first {
		t.Error("key renewed while it had more than the renewal margin left")
	}
	clock = clock.Add(2 * time.Minute)
	renewed, err := signer.credential(ctx, clock.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if renewed == first {
		t.Error("key not renewed inside the renewal margin")
	}
}
