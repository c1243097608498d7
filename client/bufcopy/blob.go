package bufcopy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"spool/client/transfer"
	"spool/internal/redact"
)

// storageVersion is the blob REST version of every request: Put Blob From URL
// needs 2020-04-08 or later.
const storageVersion = "2021-08-06"

// blobInfo is what a HEAD tells about one blob: enough to copy it and to check a
// copy against its source.
type blobInfo struct {
	exists bool
	size   int64
	md5    string // Content-MD5, base64
	chain  string // the hash chain metadata; empty on the marker blobs
	// copyStatus is x-ms-copy-status while a Copy Blob is under way or done.
	copyStatus string
}

// sameContent says whether two blobs carry the same MD5 and chain value.
func (b blobInfo) sameContent(o blobInfo) bool {
	return b.exists && o.exists && b.size == o.size && b.md5 == o.md5 && b.chain == o.chain
}

// send makes one blob request; transport errors are redacted, since they quote the
// URL and its SAS.
func send(ctx context.Context, hc *http.Client, method, target string, body io.Reader, size int64, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, redact.Error(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("x-ms-version", storageVersion)
	if method == http.MethodPut {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, redact.Error(err)
	}
	return resp, nil
}

// head reads a blob's properties; a missing blob is no error.
func head(ctx context.Context, hc *http.Client, container *url.URL, name string) (blobInfo, error) {
	resp, err := send(ctx, hc, http.MethodHead, blobURL(container, name), nil, 0, nil)
	if err != nil {
		return blobInfo{}, fmt.Errorf("reading the properties of blob %s: %w", name, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return blobInfo{}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return blobInfo{}, fmt.Errorf("reading the properties of blob %s: %s", name, statusText(resp))
	}
	size, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	return blobInfo{
		exists:     true,
		size:       size,
		md5:        resp.Header.Get("Content-MD5"),
		chain:      resp.Header.Get(transfer.HashChainHeader),
		copyStatus: resp.Header.Get("x-ms-copy-status"),
	}, nil
}

// statusText names a refusal by status and storage error code, never by URL.
func statusText(resp *http.Response) string {
	if code := resp.Header.Get("x-ms-error-code"); code != "" {
		return fmt.Sprintf("%s (%s)", resp.Status, code)
	}
	return resp.Status
}

// contentHeaders are the headers that give a copy its source's MD5 and chain.
func contentHeaders(src blobInfo, md5Header string) http.Header {
	h := http.Header{md5Header: {src.md5}}
	if src.chain != "" {
		h.Set(transfer.HashChainHeader, src.chain)
	}
	return h
}
