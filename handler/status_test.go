package handler

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"spool/client/transfer"
	"spool/internal/model"
)

// statusFixture is the live API over Azurite with its store, for checking what a
// show stored.
func statusFixture(t *testing.T) (*apiFixture, Store) {
	in := plainAzurite.get(t)
	opts := liveOptions(t, in.ConnectionString(), uniquePrefix())
	f := &apiFixture{}
	f.serve(t, opts)
	return f, opts.Store
}

func (f *apiFixture) accessURL(t *testing.T, id string, writeable bool) *url.URL {
	t.Helper()
	r := f.do(t, http.MethodPost, fmt.Sprintf("/buffers/%s/access?writeable=%v", id, writeable), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("access: %d %s", r.status, r.body)
	}
	u, err := url.Parse(decode[model.AccessURL](t, r).URI)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *apiFixture) show(t *testing.T, id string) model.Buffer {
	t.Helper()
	r := f.do(t, http.MethodGet, "/buffers/"+id, nil)
	if r.status != http.StatusOK {
		t.Fatalf("show: %d %s", r.status, r.body)
	}
	return decode[model.Buffer](t, r)
}

// waitStatus shows the buffer until it reports want.
func (f *apiFixture) waitStatus(t *testing.T, id, want string) model.Buffer {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b := f.show(t, id)
		if b.Status == want || time.Now().After(deadline) {
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestShowAndListReportEachDataStatusFromAURLOnlyWriter(t *testing.T) {
	f, store := statusFixture(t)
	rare := fmt.Sprintf("s%d", time.Now().UnixNano())
	empty, complete, failed := f.create(t, map[string]string{"k": rare}), f.create(t, map[string]string{"k": rare}), f.create(t, map[string]string{"k": rare})
	if b := f.show(t, empty.ID); b.Status != model.StatusEmpty || b.Size != nil || b.CompletedAt != nil {
		t.Fatalf("new buffer: %+v", b.DataStatus)
	}

	in, feed := io.Pipe()
	written := make(chan transfer.Stats, 1)
	go func() {
		stats, err := transfer.Write(context.Background(), transfer.StaticURL(f.accessURL(t, complete.ID, true)), in, transfer.WriteOptions{FlushInterval: 10 * time.Millisecond})
		if err != nil {
			t.Error(err)
		}
		written <- stats
	}()
	feed.Write([]byte("hello, "))
	if b := f.waitStatus(t, complete.ID, model.StatusWriting); b.Status != model.StatusWriting || b.Size != nil {
		t.Fatalf("while writing: %+v", b.DataStatus)
	}
	feed.Write([]byte("world"))
	feed.Close()
	stats := <-written
	b := f.show(t, complete.ID)
	if b.Status != model.StatusComplete || *b.Size != 12 || *b.Blobs != stats.Blobs || b.HashChain != stats.HashChain || b.CompletedAt == nil {
		t.Fatalf("after the write: %+v (wrote %+v)", b.DataStatus, stats)
	}
	if stored, err := store.Get(context.Background(), complete.ID); err != nil || stored.Status != model.StatusComplete || stored.ETag != b.ETag {
		t.Fatalf("the seal was not stored: %+v %v", stored.DataStatus, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stop, _ := io.Pipe()
	time.AfterFunc(300*time.Millisecond, cancel)
	transfer.Write(ctx, transfer.StaticURL(f.accessURL(t, failed.ID, true)), stop, transfer.WriteOptions{})
	if b := f.show(t, failed.ID); b.Status != model.StatusFailed || b.CompletedAt == nil {
		t.Fatalf("after a cancelled write: %+v", b.DataStatus)
	}

	for status, want := range map[string]string{"empty": empty.ID, "complete": complete.ID, "failed": failed.ID, "writing": ""} {
		if ids := listIDs(t, f, "/buffers?tag[k]="+rare+"&status="+status+"&limit=1"); strings.Join(ids, ",") != want {
			t.Errorf("list status=%s: %v, want [%s]", status, ids, want)
		}
	}
	for _, bad := range []string{"status=Complete", "status=done", "status=complete&status=failed", "Status=complete"} {
		if r := f.do(t, http.MethodGet, "/buffers?"+bad, nil); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
}

func TestShowInfersTheStatusOfATygerShapedBufferFromItsMarkers(t *testing.T) {
	f, _ := statusFixture(t)
	b := f.create(t, nil)
	w := f.accessURL(t, b.ID, true)
	chain := transfer.NextHashChain(transfer.InitialHashChain, transfer.ContentMD5([]byte("Hello")))
	for _, blob := range []struct{ name, body, chain string }{
		{".bufferstart", `{"version":"0.3.0"}`, ""},
		{"00/000", "Hello", chain},
		{"00/001", "", transfer.NextHashChain(chain, transfer.ContentMD5(nil))},
		{".bufferend", `{"status":"complete"}`, ""},
	} {
		if err := putTygerBlob(w, blob.name, blob.body, blob.chain); err != nil {
			t.Fatal(err)
		}
	}
	got := f.show(t, b.ID)
	if got.Status != model.StatusComplete || got.Size != nil || got.HashChain != "" || got.CompletedAt == nil {
		t.Fatalf("Tyger-shaped complete buffer: %+v", got.DataStatus)
	}
}

// putTygerBlob creates one blob as Tyger's writer does: Content-MD5, the chain
// header on data blobs, nothing of spool's.
func putTygerBlob(container *url.URL, name, body, chain string) error {
	u := *container
	u.Path += "/" + name
	req, _ := http.NewRequest(http.MethodPut, u.String(), strings.NewReader(body))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	req.Header.Set("x-ms-version", "2021-08-06")
	req.Header.Set("Content-MD5", transfer.ContentMD5([]byte(body)))
	if chain != "" {
		req.Header.Set(transfer.HashChainHeader, chain)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT %s: %d", name, resp.StatusCode)
	}
	return nil
}
