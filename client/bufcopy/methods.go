package bufcopy

import (
	"context"

	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Method is how one blob reached the destination, best first in methods.
type Method string

const (
	// PutFromURL is Put Blob From URL: storage reads the source itself, at once.
	PutFromURL Method = "Put Blob From URL"
	// CopyBlob is Copy Blob with a SAS source: storage copies, perhaps
	// asynchronously; the copier waits for x-ms-copy-status success.
	CopyBlob Method = "Copy Blob"
	// Streamed means the bytes went through this client: read from the source and
	// written to the destination with the source's Content-MD5, which the
	// destination checks. Used only where storage refused both server-side calls.
	Streamed Method = "streamed through the client"
)

// methods is the order methods are tried in.
var methods = []Method{PutFromURL, CopyBlob, Streamed}

// copyPollInterval is how often a pending Copy Blob is looked at.
const copyPollInterval = 200 * time.Millisecond

// copyPendingLimit bounds the wait for one asynchronous Copy Blob.
const copyPendingLimit = 10 * time.Minute

// pair is the source and destination containers of one buffer copy.
type pair struct {
	hc       *http.Client
	src, dst *url.URL
}

// putFromURL copies with Put Blob From URL, setting the source's MD5 and chain on
// the new blob (this call takes metadata from the request, not the source). With
// x-ms-source-content-md5, storage checks the bytes it fetched against that MD5.
func (p pair) putFromURL(ctx context.Context, name string, src blobInfo) error {
	h := contentHeaders(src, "x-ms-blob-content-md5")
	h.Set("x-ms-source-content-md5", src.md5)
	h.Set("x-ms-blob-type", "BlockBlob")
	h.Set("x-ms-copy-source", blobURL(p.src, name))
	return p.expect(ctx, name, h, http.StatusCreated)
}

// copyBlob copies with Copy Blob, which keeps the source's properties and
// metadata, and waits until the copy is done.
func (p pair) copyBlob(ctx context.Context, name string, _ blobInfo) error {
	h := http.Header{"x-ms-copy-source": {blobURL(p.src, name)}}
	if err := p.expect(ctx, name, h, http.StatusAccepted, http.StatusCreated); err != nil {
		return err
	}
	deadline := time.Now().Add(copyPendingLimit)
	for {
		info, err := head(ctx, p.hc, p.dst, name)
		if err != nil {
			return err
		}
		switch info.copyStatus {
		case "success", "":
			return nil
		case "pending":
		default:
			return fmt.Errorf("copy of blob %s ended %q: %w", name, info.copyStatus, errRefused)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("copy of blob %s still pending after %v", name, copyPendingLimit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(copyPollInterval):
		}
	}
}

// stream reads the blob from the source and writes it to the destination with
// the source's Content-MD5, so the destination refuses bytes that differ.
func (p pair) stream(ctx context.Context, name string, src blobInfo) error {
	resp, err := send(ctx, p.hc, http.MethodGet, blobURL(p.src, name), nil, 0, nil)
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reading blob %s: %s", name, statusText(resp))
	}
	h := contentHeaders(src, "Content-MD5")
	h.Set("x-ms-blob-type", "BlockBlob")
	put, err := send(ctx, p.hc, http.MethodPut, blobURL(p.dst, name), resp.Body, src.size, h)
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", name, err)
	}
	put.Body.Close()
	if put.StatusCode != http.StatusCreated {
		return fmt.Errorf("writing blob %s: %s", name, statusText(put))
	}
	return nil
}

// expect sends an empty-bodied PUT to the destination blob. 409 means the blob is
// there already (a rerun, or a lost answer): the caller's check decides. A 5xx
// or a refusal other than one of access is errRefused.
func (p pair) expect(ctx context.Context, name string, h http.Header, want ...int) error {
	resp, err := send(ctx, p.hc, http.MethodPut, blobURL(p.dst, name), nil, 0, h)
	if err != nil {
		return fmt.Errorf("copying blob %s: %w", name, err)
	}
	resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	switch {
	case resp.StatusCode == http.StatusConflict:
		return nil
	case resp.StatusCode == http.StatusForbidden && resp.Header.Get("x-ms-error-code") == "AuthenticationFailed":
		return fmt.Errorf("copying blob %s: %s", name, statusText(resp))
	}
	return fmt.Errorf("copying blob %s: %s: %w", name, statusText(resp), errRefused)
}
