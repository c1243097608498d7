package tablestore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/blobstore"
	"spool/internal/azurite"
	"spool/internal/model"
	"spool/internal/storetest"
	"spool/tablestore"
)

// One Azurite for the package; each test gets its own tables through a prefix, so
// tests that make their own store may run in parallel.
var (
	storage   = azurite.NewShared(azurite.Options{})
	prefixSeq atomic.Int64
)

func TestMain(m *testing.M) { azurite.TestMain(m, storage) }

// tableService is a client of the package's Azurite made as cmd/handler makes its
// table client, with the same retry policy.
func tableService(t testing.TB) *aztables.ServiceClient {
	t.Helper()
	return serviceAt(t, storage.Get(t).ConnectionString())
}

func serviceAt(t testing.TB, connectionString string) *aztables.ServiceClient {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(connectionString,
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: blobstore.DefaultRetry()}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func newStore(t testing.TB, opts tablestore.Options) *tablestore.Store {
	t.Helper()
	if opts.TablePrefix == "" {
		opts.TablePrefix = fmt.Sprintf("t%d", prefixSeq.Add(1))
	}
	s, err := tablestore.Open(context.Background(), tableService(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	newID       = storetest.NewID
	ids         = storetest.IDs
	markPurging = storetest.MarkPurging
)

// base is a fixed creation time; tests place buffers relative to it.
var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func insert(t testing.TB, s *tablestore.Store, createdAt time.Time, tags map[string]string) model.Buffer {
	t.Helper()
	return storetest.InsertBuffer(t, s, model.Buffer{ID: newID(), CreatedAt: createdAt, Tags: tags})
}

func insertExpiring(t testing.TB, s *tablestore.Store, createdAt, expiresAt time.Time, tags map[string]string) model.Buffer {
	t.Helper()
	return storetest.InsertBuffer(t, s, model.Buffer{ID: newID(), CreatedAt: createdAt, Tags: tags, ExpiresAt: &expiresAt})
}
