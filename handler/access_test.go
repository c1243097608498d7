package handler

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"spool/blobstore"
	"spool/internal/azurite"
	"spool/internal/reliability"
)

// checkSASGuards in blobstore/blobstore_test.go covers reading, creating and the refused
// overwrite; these are the remaining ways a URL could be misused.

func deleteBlob(t *testing.T, client *http.Client, blobURL string) error {
	t.Helper()
	b, err := blob.NewClientWithNoCredential(blobURL, &blob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: client, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Delete(context.Background(), nil)
	return err
}

func deleteContainer(t *testing.T, client *http.Client, containerSAS string) error {
	t.Helper()
	c, err := container.NewClientWithNoCredential(containerSAS, &container.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: client, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Delete(context.Background(), nil)
	return err
}

// withQuery replaces one SAS query field, keeping the signature.
func withQuery(t *testing.T, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// flipSignature changes one character of the signature.
func flipSignature(t *testing.T, raw string) string {
	t.Helper()
	sig := mustQuery(t, raw).Get("sig")
	c := byte('A')
	if sig[0] == 'A' {
		c = 'B'
	}
	return withQuery(t, raw, "sig", string(c)+sig[1:])
}

// checkSASRefusals tries every misuse of a container's read and write URLs, and
// of expired and tampered ones, and returns how many were tried.
func checkSASRefusals(t *testing.T, bc *blobstore.Containers, expired *blobstore.Containers, client *http.Client) int {
	ctx := context.Background()
	a, b := newID(), newID()
	for _, name := range []string{a, b} {
		if err := bc.Create(ctx, name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bc.Delete(context.Background(), name) })
	}
	sign := func(c *blobstore.Containers, name string, writeable bool) string {
		u, err := c.AccessURL(ctx, name, writeable, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	writeA, readA, writeB := sign(bc, a, true), sign(bc, a, false), sign(bc, b, true)
	data := []byte("write once")
	for _, u := range []string{writeA, writeB} {
		if err := upload(t, client, blobAt(t, u, "0"), data); err != nil {
			t.Fatalf("setup upload: %v", err)
		}
	}
	expiredRead, expiredWrite := sign(expired, a, false), sign(expired, a, true)
	if se, _ := time.Parse(time.RFC3339, mustQuery(t, expiredRead).Get("se")); !se.Before(time.Now()) {
		t.Fatalf("the expired URL expires at %s", se)
	}
	later := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	attempts := []struct {
		what string
		try  func() error
	}{
		{"read URL overwrites a blob", func() error { return upload(t, client, blobAt(t, readA, "0"), []byte("x")) }},
		{"read URL creates a blob", func() error { return upload(t, client, blobAt(t, readA, "new"), []byte("x")) }},
		{"read URL deletes a blob", func() error { return deleteBlob(t, client, blobAt(t, readA, "0")) }},
		{"read URL deletes the container", func() error { return deleteContainer(t, client, readA) }},
		{"write URL overwrites a blob", func() error { return upload(t, client, blobAt(t, writeA, "0"), []byte("x")) }},
		{"write URL deletes a blob", func() error { return deleteBlob(t, client, blobAt(t, writeA, "0")) }},
		{"write URL deletes the container", func() error { return deleteContainer(t, client, writeA) }},
		{"A's write URL creates in B", func() error { return upload(t, client, blobAt(t, otherContainer(t, writeA, a, b), "new"), data) }},
		{"A's write URL deletes in B", func() error { return deleteBlob(t, client, blobAt(t, otherContainer(t, writeA, a, b), "0")) }},
		{"A's read URL reads B", func() error {
			_, err := download(t, client, blobAt(t, otherContainer(t, readA, a, b), "0"))
			return err
		}},
		{"expired read URL reads", func() error {
			_, err := download(t, client, blobAt(t, expiredRead, "0"))
			return err
		}},
		{"expired write URL creates", func() error { return upload(t, client, blobAt(t, expiredWrite, "new"), data) }},
		{"tampered signature reads", func() error {
			_, err := download(t, client, blobAt(t, flipSignature(t, readA), "0"))
			return err
		}},
		{"read URL with sp=rcwd keeps its signature", func() error {
			return deleteBlob(t, client, blobAt(t, withQuery(t, readA, "sp", "rcwd"), "0"))
		}},
		{"write URL with sp=rcw overwrites", func() error {
			return upload(t, client, blobAt(t, withQuery(t, writeA, "sp", "rcw"), "0"), []byte("x"))
		}},
		{"expired URL with a later se", func() error {
			_, err := download(t, client, blobAt(t, withQuery(t, expiredRead, "se", later), "0"))
			return err
		}},
		{"read URL with sr=b widened to another container", func() error {
			_, err := download(t, client, blobAt(t, withQuery(t, otherContainer(t, readA, a, b), "sr", "b"), "0"))
			return err
		}},
	}
	for _, at := range attempts {
		wantForbidden(t, at.what, at.try())
	}
	for _, u := range []string{readA, writeB} {
		if got, err := download(t, client, blobAt(t, u, "0")); err != nil || string(got) != string(data) {
			t.Errorf("data changed after refused attempts: %q %v", got, err)
		}
	}
	return len(attempts)
}

func TestServiceSASURLsCannotBeMisusedExpiredOrTampered(t *testing.T) {
	bc, client := sharedKeyContainers(t)
	in := plainAzurite.get(t)
	checkSASRefusalsRecorded(t, bc, client, blobstore.Options{
		Endpoint: in.BlobEndpoint, AccountName: azurite.AccountName, AccountKey: azurite.AccountKey,
	}, "service SAS misuse: read URL writes/deletes, write URL overwrites/deletes, URL for A used on B, expired, tampered sig/sp/se/sr")
}

func TestUserDelegationSASURLsCannotBeMisusedExpiredOrTampered(t *testing.T) {
	bc, client := userDelegationContainers(t)
	in := tlsAzurite.get(t)
	checkSASRefusalsRecorded(t, bc, client, blobstore.Options{
		Endpoint: in.BlobEndpoint, AccountName: azurite.AccountName, Credential: fakeEntraToken{}, RootCAs: certPool(t, in),
	}, "user-delegation SAS misuse (HTTPS, OAuth): read URL writes/deletes, write URL overwrites/deletes, A on B, expired, tampered")
}

// checkSASRefusalsRecorded runs checkSASRefusals with a signer whose clock runs two
// hours behind (so its URLs are born expired) and records the outcome as fault.
func checkSASRefusalsRecorded(t *testing.T, bc *blobstore.Containers, client *http.Client, opts blobstore.Options, fault string) {
	t.Helper()
	opts.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, err := blobstore.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	n := checkSASRefusals(t, bc, expired, client)
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   fault,
		Tries:   n,
		Outcome: fmt.Sprintf("%d×403 from Azurite; the stored blobs unchanged", n),
	})
}

// The API hands out URLs only for the buffer named, and says nothing about others.
func TestAccessURLsNameOnlyTheirOwnBuffersContainer(t *testing.T) {
	f, _ := liveOverPlainAzurite(t)
	a, b := f.create(t, nil), f.create(t, nil)
	for _, writeable := range []string{"true", "false"} {
		r := f.do(t, http.MethodPost, "/buffers/"+a.ID+"/access?writeable="+writeable, nil)
		uri := decode[struct{ URI string }](t, r).URI
		u, err := url.Parse(uri)
		if err != nil || !strings.HasSuffix(u.Path, "/"+a.ID) || strings.Contains(uri, b.ID) {
			t.Errorf("writeable=%s: URL %s does not name exactly container %s", writeable, u.Path, a.ID)
		}
		if q := u.Query(); q.Get("sr") != "c" || strings.ContainsAny(q.Get("sp"), "wdlx") {
			t.Errorf("writeable=%s: sr=%s sp=%s", writeable, q.Get("sr"), q.Get("sp"))
		}
	}
}
