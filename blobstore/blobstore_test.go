package blobstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"spool/blobstore"
	"spool/blobstore/blobtest"
	"spool/internal/azurite"
)

// containerName is a fresh valid container name: lowercase letters and digits.
func containerName() string {
	return "t" + strings.ToLower(rand.Text())
}

// checkSASGuards proves the URLs do what the API promises: a write URL creates and
// reads but cannot overwrite, a read URL reads but cannot write, and a URL for one
// container is useless for another.
func checkSASGuards(t *testing.T, bc *blobstore.Containers, client *http.Client) {
	ctx := context.Background()
	a, b := containerName(), containerName()
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
	if q := blobtest.MustQuery(t, writeA); q.Get("sp") != "rc" || q.Get("sr") != "c" {
		t.Errorf("write URL grants sp=%s sr=%s, want rc on the container", q.Get("sp"), q.Get("sr"))
	}
	if q := blobtest.MustQuery(t, readA); q.Get("sp") != "r" {
		t.Errorf("read URL grants sp=%s, want r", q.Get("sp"))
	}

	data := []byte("write once, read many")
	if err := blobtest.Upload(t, client, blobtest.BlobAt(t, writeA, "0"), data); err != nil {
		t.Fatalf("uploading with the write URL: %v", err)
	}
	if got, err := blobtest.Download(t, client, blobtest.BlobAt(t, readA, "0")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading with the read URL: %q %v", got, err)
	}
	if got, err := blobtest.Download(t, client, blobtest.BlobAt(t, writeA, "0")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading with the write URL: %q %v", got, err)
	}
	blobtest.WantForbidden(t, "overwriting with the write URL", blobtest.Upload(t, client, blobtest.BlobAt(t, writeA, "0"), []byte("other")))
	blobtest.WantForbidden(t, "writing with the read URL", blobtest.Upload(t, client, blobtest.BlobAt(t, readA, "1"), data))
	blobtest.WantForbidden(t, "writing B with A's write URL", blobtest.Upload(t, client, blobtest.BlobAt(t, blobtest.OtherContainer(t, writeA, a, b), "0"), data))
	_, err = blobtest.Download(t, client, blobtest.BlobAt(t, blobtest.OtherContainer(t, readA, a, b), "0"))
	blobtest.WantForbidden(t, "reading B with A's read URL", err)
	if got, _ := blobtest.Download(t, client, blobtest.BlobAt(t, readA, "0")); !bytes.Equal(got, data) {
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

func TestServiceSASFromAccountKeyGrantsReadOrCreateButNeverOverwrite(t *testing.T) {
	bc, client := blobtest.SharedKeyContainers(t, plainAzurite.Get(t))
	checkSASGuards(t, bc, client)
}

func TestUserDelegationSASGrantsReadOrCreateButNeverOverwrite(t *testing.T) {
	bc, client := blobtest.UserDelegationContainers(t, tlsAzurite.Get(t))
	checkSASGuards(t, bc, client)
	url, err := bc.AccessURL(context.Background(), containerName(), false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	q := blobtest.MustQuery(t, url)
	if q.Get("skoid") == "" || q.Get("spr") != "https" {
		t.Errorf("not an https-only user-delegation SAS: %s", q.Encode())
	}
}

func TestUserDelegationKeyIsCachedAndRenewedBeforeExpiry(t *testing.T) {
	in := tlsAzurite.Get(t)
	clock := time.Now()
	bc, err := blobstore.New(blobstore.Options{
		Endpoint: in.BlobEndpoint, AccountName: azurite.AccountName,
		Credential: blobtest.FakeEntraToken{}, RootCAs: blobtest.CertPool(t, in),
		Now: func() time.Time { return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := blobstore.DelegationCredential(ctx, bc, clock.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(blobstore.DelegationKeyLife - blobstore.DelegationRenewal - time.Minute)
	if again, _ := blobstore.DelegationCredential(ctx, bc, clock.Add(time.Hour)); again != first {
		t.Error("key renewed while it had more than the renewal margin left")
	}
	clock = clock.Add(2 * time.Minute)
	renewed, err := blobstore.DelegationCredential(ctx, bc, clock.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if renewed == first {
		t.Error("key not renewed inside the renewal margin")
	}
}
