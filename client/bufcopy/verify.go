package bufcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"spool/client/transfer"
)

// blob copies one blob that may have no chain value (the markers).
func (c *containerCopy) blob(ctx context.Context, name string) (blobInfo, error) {
	src, err := head(ctx, c.hc, c.src, name)
	if err != nil {
		return blobInfo{}, err
	}
	if !src.exists {
		return blobInfo{}, fmt.Errorf("the source buffer is corrupt: blob %s is missing", name)
	}
	return c.copyChecked(ctx, name, src)
}

// copyChecked makes sure the destination holds blob name with the source's size,
// MD5 and chain value: a blob already there is checked and kept (a rerun), else it
// is copied with the best method storage accepts and checked afterwards.
func (c *containerCopy) copyChecked(ctx context.Context, name string, src blobInfo) (blobInfo, error) {
	dst, err := head(ctx, c.hc, c.dst, name)
	if err != nil {
		return blobInfo{}, err
	}
	if dst.exists && dst.copyStatus != "pending" {
		if !dst.sameContent(src) {
			return blobInfo{}, fmt.Errorf("the destination's blob %s differs from the source's (MD5 %s, want %s)", name, dst.md5, src.md5)
		}
		c.count(func(n *Counts) { n.AlreadyThere++ })
		return dst, nil
	}
	method, err := c.copyAny(ctx, name, src)
	if err != nil {
		return blobInfo{}, err
	}
	if dst, err = head(ctx, c.hc, c.dst, name); err != nil {
		return blobInfo{}, err
	}
	if !dst.sameContent(src) {
		return blobInfo{}, fmt.Errorf("blob %s copied by %v does not match its source (MD5 %q, want %q)", name, method, dst.md5, src.md5)
	}
	c.count(func(n *Counts) {
		if method == Streamed {
			n.Streamed++
		} else {
			n.ServerSide++
		}
	})
	return dst, nil
}

// copyAny tries the methods from the current one down; a method storage refuses
// is not tried again for this buffer.
func (c *containerCopy) copyAny(ctx context.Context, name string, src blobInfo) (Method, error) {
	for i := int(c.method.Load()); ; i++ {
		var err error
		switch methods[i] {
		case PutFromURL:
			err = c.putFromURL(ctx, name, src)
		case CopyBlob:
			err = c.copyBlob(ctx, name, src)
		default:
			return Streamed, c.stream(ctx, name, src)
		}
		if !errors.Is(err, errRefused) {
			return methods[i], err
		}
		c.logf("blob %s: %v; trying %v", name, err, methods[i+1])
		c.method.CompareAndSwap(int32(i), int32(i+1))
	}
}

func (c *containerCopy) count(change func(*Counts)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	change(&c.counts)
}

// verifyChain recomputes the hash chain from the destination's MD5s and compares
// it with the chain value each data blob carries (the terminal empty blob's
// included), so the copy is known whole and in order without reading its bytes.
func verifyChain(infos []blobInfo) error {
	chain := transfer.InitialHashChain
	for n, info := range infos {
		chain = transfer.NextHashChain(chain, info.md5)
		if info.chain != chain {
			return fmt.Errorf("the copy's hash chain breaks at blob %s", transfer.BlobPath(int64(n)))
		}
	}
	if len(infos) == 0 || infos[len(infos)-1].size != 0 {
		return errors.New("the copy has no terminal empty blob")
	}
	return nil
}

// errRefused is a server-side copy call storage does not do here (Azurite answers
// Put Blob From URL with 500, and may not reach another instance's blobs); the
// next method is tried.
var errRefused = errors.New("refused")

// sourceComplete refuses a source that is still being written or failed: its
// copy would be as incomplete.
func (c *containerCopy) sourceComplete(ctx context.Context) error {
	resp, err := send(ctx, c.hc, http.MethodGet, blobURL(c.src, endBlob), nil, 0, nil)
	if err != nil {
		return fmt.Errorf("reading the source's %s: %w", endBlob, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return errors.New("the source buffer is not complete (no .bufferend: still being written, or never written)")
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reading the source's %s: %s", endBlob, statusText(resp))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		return fmt.Errorf("reading the source's %s: %w", endBlob, err)
	}
	if !strings.Contains(string(body), `"complete"`) {
		return fmt.Errorf("the source buffer is not complete: %s says %s", endBlob, body)
	}
	return nil
}
