package transfer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// seenRequest is what a fake storage endpoint saw of one request.
type seenRequest struct {
	method, path     string
	header           http.Header
	contentLength    int64
	transferEncoding []string
	query            string
}

func TestWritePutsSpecHeadersOnTheWire(t *testing.T) {
	var mu sync.Mutex
	var seen []seenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.Path, r.Header.Clone(), r.ContentLength, r.TransferEncoding, r.URL.RawQuery})
		mu.Unlock()
		if r.Method == http.MethodHead {
			w.Header().Set("x-ms-error-code", "BlobNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/devstoreaccount1/buf?sv=2021-08-06&sp=rc&sig=secret%2Bsig")
	if _, err := Write(context.Background(), StaticURL(u), strings.NewReader("Hello"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []struct{ method, path, md5, chain string }{
		{"HEAD", "/devstoreaccount1/buf/.bufferstart", "", ""},
		{"PUT", "/devstoreaccount1/buf/.bufferstart", "jRl6v+tdX5RbfseHVtVXDw==", ""},
		{"PUT", "/devstoreaccount1/buf/00/000", "ixqZU8RhEpaoJ6v4xHgE1w==", "Be2sTc2k0VLW0/rZazR8uFCREuD5k1d9OtCAk14ns4U="},
		{"PUT", "/devstoreaccount1/buf/00/001", "1B2M2Y8AsgTpgAmY7PhCfg==", "LV4PrI5mIT9mYkXErCiaIwlu8B8xxyHjH0UKfSKNt2w="},
		{"PUT", "/devstoreaccount1/buf/.bufferend", "ST1I8wBaRZuA0wEZRSBkxw==", ""}, // Tyger's body plus the seal
	}
	if len(seen) != len(want) {
		t.Fatalf("saw %d requests, want %d: %+v", len(seen), len(want), seen)
	}
	for i, w := range want {
		r := seen[i]
		if r.method != w.method || r.path != w.path {
			t.Fatalf("request %d is %s %s, want %s %s", i, r.method, r.path, w.method, w.path)
		}
		if r.query != u.RawQuery {
			t.Errorf("%s: query %q, want the access URL's %q", r.path, r.query, u.RawQuery)
		}
		if got := r.header.Get("x-ms-version"); got != "2021-08-06" {
			t.Errorf("%s: x-ms-version %q", r.path, got)
		}
		if _, err := time.Parse(time.RFC1123, r.header.Get("Date")); err != nil {
			t.Errorf("%s: Date %q: %v", r.path, r.header.Get("Date"), err)
		}
		if r.method != "PUT" {
			continue
		}
		if len(r.transferEncoding) != 0 || r.header.Get("Content-Length") == "" {
			t.Errorf("%s: body not sent with a Content-Length (transfer encoding %v)", r.path, r.transferEncoding)
		}
		if r.header.Get("If-None-Match") != "*" {
			t.Errorf("%s: If-None-Match %q: every blob must be created conditionally", r.path, r.header.Get("If-None-Match"))
		}
		if r.header.Get("x-ms-blob-type") != "BlockBlob" || r.header.Get("Content-MD5") != w.md5 || r.header.Get(HashChainHeader) != w.chain {
			t.Errorf("%s: blob type %q, MD5 %q, chain %q; want BlockBlob, %q, %q", r.path,
				r.header.Get("x-ms-blob-type"), r.header.Get("Content-MD5"), r.header.Get(HashChainHeader), w.md5, w.chain)
		}
	}
	if terminal := seen[3]; terminal.contentLength != 0 || terminal.header.Get("Content-Length") != "0" {
		t.Errorf("terminal blob sent with Content-Length %q", terminal.header.Get("Content-Length"))
	}
}
