package tablestore_test

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/handler"
	"spool/internal/azurite"
	"spool/internal/model"
	"spool/tablestore"
)

var _ handler.Store = (*tablestore.Store)(nil)

// One Azurite for the package; each test gets its own tables through a prefix.
var (
	service    *aztables.ServiceClient
	prefixSeq  atomic.Int64
	azuriteRun *azurite.Instance
)

func TestMain(m *testing.M) {
	in, err := azurite.Start(azurite.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting azurite:", err)
		os.Exit(1)
	}
	azuriteRun = in
	service, err = tablestore.ServiceClientFromConnectionString(in.ConnectionString())
	if err != nil {
		in.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	in.Stop()
	os.Exit(code)
}

func newStore(t testing.TB, opts tablestore.Options) *tablestore.Store {
	t.Helper()
	if opts.TablePrefix == "" {
		opts.TablePrefix = fmt.Sprintf("t%d", prefixSeq.Add(1))
	}
	s, err := tablestore.Open(context.Background(), service, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID makes an ID the way the handler does: 16 random bytes, lowercase base32.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// base is a fixed creation time; tests place buffers relative to it.
var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func insert(t testing.TB, s *tablestore.Store, createdAt time.Time, tags map[string]string) model.Buffer {
	t.Helper()
	b, err := s.Insert(context.Background(), model.Buffer{ID: newID(), CreatedAt: createdAt, Location: "local", Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ids(bufs []model.Buffer) string {
	var s []string
	for _, b := range bufs {
		s = append(s, b.ID)
	}
	return strings.Join(s, ",")
}
