package handler

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"spool/blobstore"
	"spool/blobstore/blobtest"
	"spool/internal/model"
	"spool/tablestore"
)

var tablePrefixes atomic.Int64

// uniquePrefix keeps each test's tables apart inside the shared Azurite.
func uniquePrefix() string {
	return fmt.Sprintf("h%dt%d", time.Now().UnixNano()%1_000_000, tablePrefixes.Add(1))
}

// liveOverPlainAzurite is the API wired exactly as cmd/handler wires it from a
// connection string: table store and service SAS, over HTTP.
func liveOverPlainAzurite(t *testing.T) (*apiFixture, *http.Client) {
	in := plainAzurite.get(t)
	opts := liveOptions(t, in.ConnectionString(), uniquePrefix())
	f := &apiFixture{}
	f.serve(t, opts)
	return f, http.DefaultClient
}

// liveOverTLSAzurite is the API as it runs in Azure: tables and blobs reached with a
// token credential over HTTPS, access URLs signed with a user delegation key.
func liveOverTLSAzurite(t *testing.T) (*apiFixture, *http.Client) {
	in := tlsAzurite.get(t)
	bc, client := userDelegationContainers(t)
	svc, err := aztables.NewServiceClient(in.TableEndpoint, fakeEntraToken{},
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: client}})
	if err != nil {
		t.Fatal(err)
	}
	store, err := tablestore.Open(context.Background(), svc, tablestore.Options{TablePrefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	f := &apiFixture{}
	f.serve(t, Options{Store: store, Containers: bc, Location: "eastus"})
	return f, client
}

func TestLiveAPIOverAzuriteWithServiceSAS(t *testing.T) {
	f, client := liveOverPlainAzurite(t)
	exerciseLiveAPI(t, f, client)
}

func TestLiveAPIOverAzuriteHTTPSWithUserDelegationSAS(t *testing.T) {
	f, client := liveOverTLSAzurite(t)
	exerciseLiveAPI(t, f, client)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9._~:+=/-]+$`)

// exerciseLiveAPI walks the whole API against real storage, as a client would.
func exerciseLiveAPI(t *testing.T, f *apiFixture, client *http.Client) {
	rare := fmt.Sprintf("r%d", time.Now().UnixNano())
	a := f.create(t, map[string]string{"kind": rare, "step-no.": "1"})
	b := f.create(t, map[string]string{"kind": rare})
	c := f.create(t, map[string]string{"kind": "other"})

	// Show: ETag header and body agree and are shell-safe.
	r := f.do(t, http.MethodGet, "/buffers/"+a.ID+"?api-version=1.0", nil)
	if r.status != http.StatusOK || r.header.Get("ETag") != a.ETag || !shellSafe.MatchString(a.ETag) {
		t.Fatalf("show: %d etag %q/%q %s", r.status, r.header.Get("ETag"), a.ETag, r.body)
	}
	if got := decode[model.Buffer](t, r); got.Tags["step-no."] != "1" {
		t.Errorf("tag with - and . lost: %+v", got.Tags)
	}
	if r := f.do(t, http.MethodGet, "/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown id: %d %s", r.status, r.body)
	}

	// Newest first, filtered by tag, paged by nextLink.
	ids := listIDs(t, f, "/buffers?tag[kind]="+rare+"&limit=1")
	if fmt.Sprint(ids) != fmt.Sprint([]string{b.ID, a.ID}) {
		t.Errorf("list by tag: got %v, want [%s %s]", ids, b.ID, a.ID)
	}
	if r := f.do(t, http.MethodGet, "/buffers?_ct=bm9wZQ", nil); r.status != http.StatusBadRequest {
		t.Errorf("tampered token: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, "/buffers/count?tag[kind]="+rare, nil); string(r.body) != "2" {
		t.Errorf("count: %d %s", r.status, r.body)
	}

	// Update: a stale ETag is refused by the table; lists follow the tags at once.
	r = f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{"tags":{"kind":"other"}}`), "If-Match", b.ETag)
	if r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	moved := decode[model.Buffer](t, r)
	if moved.ETag == b.ETag || r.header.Get("ETag") != moved.ETag {
		t.Errorf("etag did not change: %q → %q (header %q)", b.ETag, moved.ETag, r.header.Get("ETag"))
	}
	r = f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{"tags":{}}`), "If-Match", b.ETag)
	if r.status != http.StatusPreconditionFailed || r.errorCode(t) != codePreconditionFailed {
		t.Errorf("stale etag: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"garbage", `"W/x"`, "%%"} {
		r = f.do(t, http.MethodPut, "/buffers/"+b.ID, strings.NewReader(`{"tags":{}}`), "If-Match", bad)
		if r.status != http.StatusPreconditionFailed {
			t.Errorf("malformed If-Match %q: %d %s", bad, r.status, r.body)
		}
	}
	if ids := listIDs(t, f, "/buffers?tag[kind]="+rare); fmt.Sprint(ids) != fmt.Sprint([]string{a.ID}) {
		t.Errorf("after losing the tag: got %v, want [%s]", ids, a.ID)
	}
	if ids := listIDs(t, f, "/buffers?tag[kind]=other&limit=2000"); !contains(ids, b.ID) || !contains(ids, c.ID) {
		t.Errorf("after gaining the tag: %v lacks %s or %s", ids, b.ID, c.ID)
	}
	if ids := listIDs(t, f, "/buffers?tag[kind]=other&excludeTag[kind]=other"); len(ids) != 0 {
		t.Errorf("exclude: got %v", ids)
	}

	// Access URLs work against the buffer's own container.
	r = f.do(t, http.MethodPost, "/buffers/"+a.ID+"/access?writeable=true&ttl=0.00:05:00", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("write access: %d %s", r.status, r.body)
	}
	write := decode[model.AccessURL](t, r).URI
	r = f.do(t, http.MethodPost, "/buffers/"+a.ID+"/access", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("read access: %d %s", r.status, r.body)
	}
	read := decode[model.AccessURL](t, r).URI
	if err := upload(t, client, blobAt(t, write, ".bufferstart"), []byte(`{"version":"0.3.0"}`)); err != nil {
		t.Fatalf("upload with write URL: %v", err)
	}
	if got, err := download(t, client, blobAt(t, read, ".bufferstart")); err != nil || !bytes.Equal(got, []byte(`{"version":"0.3.0"}`)) {
		t.Errorf("read back: %q %v", got, err)
	}
	wantForbidden(t, "overwrite", upload(t, client, blobAt(t, write, ".bufferstart"), []byte("x")))
	wantForbidden(t, "write with read URL", upload(t, client, blobAt(t, read, "0"), []byte("x")))
	if r := f.do(t, http.MethodPost, "/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa/access", nil); r.status != http.StatusNotFound {
		t.Errorf("access to unknown buffer: %d %s", r.status, r.body)
	}
}

// listIDs follows nextLink to the end and returns the IDs in order.
func listIDs(t *testing.T, f *apiFixture, path string) []string {
	t.Helper()
	return walkPages(t, f, path, 100, nil)
}

// walkPages follows nextLink from path for at most maxPages pages, hands check (when
// set) each page that links to another, and returns the IDs listed, in order.
func walkPages(t *testing.T, f *apiFixture, path string, maxPages int, check func(body []byte, list model.BufferList)) []string {
	t.Helper()
	var ids []string
	for pages := 0; path != ""; pages++ {
		if pages > maxPages {
			t.Fatal("paging does not end")
		}
		r := f.do(t, http.MethodGet, path, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		list := decode[model.BufferList](t, r)
		for _, b := range list.Items {
			ids = append(ids, b.ID)
		}
		if check != nil && list.NextLink != "" {
			check(r.body, list)
		}
		path = strings.TrimPrefix(list.NextLink, "/api")
	}
	return ids
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// failingInserts is a real store whose inserts fail, as when the table is down.
type failingInserts struct{ Store }

func (failingInserts) Insert(context.Context, model.Buffer) (model.Buffer, error) {
	return model.Buffer{}, fmt.Errorf("table unreachable: %w", model.ErrUnavailable)
}

// recordingContainers remembers the names it was asked to create.
type recordingContainers struct {
	*blobstore.Containers
	created []string
}

func (c *recordingContainers) Create(ctx context.Context, name string) error {
	c.created = append(c.created, name)
	return c.Containers.Create(ctx, name)
}

func TestCreateDeletesTheRealContainerWhenTheInsertFails(t *testing.T) {
	bc, _ := sharedKeyContainers(t)
	rec := &recordingContainers{Containers: bc}
	f := &apiFixture{}
	f.serve(t, Options{Store: failingInserts{newFakeStore()}, Containers: rec})
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(`{}`))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if len(rec.created) != 1 {
		t.Fatalf("containers created: %v", rec.created)
	}
	_, err := blobtest.ServiceClient(t, plainAzurite.get(t)).NewContainerClient(rec.created[0]).GetProperties(context.Background(), nil)
	if !bloberror.HasCode(err, bloberror.ContainerNotFound) {
		t.Errorf("container %s still there after the failed create (err %v)", rec.created[0], err)
	}
}
