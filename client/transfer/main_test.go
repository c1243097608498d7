package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"spool/internal/azurite"
)

// One Azurite serves every test in the package, started on first use.
var sharedAzurite = azurite.NewShared(azurite.Options{})

func TestMain(m *testing.M) { azurite.TestMain(m, sharedAzurite) }

// storage is a shared-key client of the package's Azurite.
func storage(t testing.TB) *service.Client {
	t.Helper()
	c, err := service.NewClientFromConnectionString(sharedAzurite.Get(t).ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testBuffer is one container with the two kinds of access URL the control plane
// issues, plus a shared-key client that can tamper with it.
type testBuffer struct {
	admin *container.Client
	write *url.URL // create + read, never write
	read  *url.URL
}

func newBuffer(t *testing.T) *testBuffer { return newBufferB(t) }

func newBufferB(t testing.TB) *testBuffer {
	t.Helper()
	b := unCreatedBuffer(t)
	if _, err := b.admin.Create(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return b
}

// unCreatedBuffer has valid URLs for a container that does not exist.
func unCreatedBuffer(t testing.TB) *testBuffer {
	t.Helper()
	id := make([]byte, 10)
	rand.Read(id)
	admin := storage(t).NewContainerClient("b" + hex.EncodeToString(id))
	return &testBuffer{
		admin: admin,
		write: sasURL(t, admin, sas.ContainerPermissions{Read: true, Create: true}, time.Now().Add(time.Hour)),
		read:  sasURL(t, admin, sas.ContainerPermissions{Read: true}, time.Now().Add(time.Hour)),
	}
}

func sasURL(t testing.TB, c *container.Client, perm sas.ContainerPermissions, expiry time.Time) *url.URL {
	t.Helper()
	start := time.Now().Add(-time.Hour)
	s, err := c.GetSASURL(perm, expiry, &container.GetSASURLOptions{StartTime: &start})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (b *testBuffer) writeBytes(t *testing.T, data []byte, opts WriteOptions) {
	t.Helper()
	if _, err := Write(context.Background(), StaticURL(b.write), bytes.NewReader(data), opts); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func (b *testBuffer) readAll(ctx context.Context, opts ReadOptions) ([]byte, error) {
	var out bytes.Buffer
	_, err := Read(ctx, StaticURL(b.read), &out, opts)
	return out.Bytes(), err
}

func sasPerm(write bool) sas.ContainerPermissions {
	return sas.ContainerPermissions{Read: true, Create: write}
}
