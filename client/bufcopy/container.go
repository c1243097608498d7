package bufcopy

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"spool/client/transfer"
)

// Names of the marker blobs beside the data blobs (Tyger's layout).
const (
	startBlob = ".bufferstart"
	endBlob   = ".bufferend"
)

// parallelCopies is how many blob copies run at once.
const parallelCopies = 8

// Counts says how the blobs of one buffer got to the destination.
type Counts struct {
	Blobs        int `json:"blobs"`
	ServerSide   int `json:"serverSide"`
	Streamed     int `json:"streamed"`
	AlreadyThere int `json:"alreadyThere"`
}

// containerCopy copies one buffer's blobs. method is the first method still worth
// trying: it only moves down, so a storage that refuses Put Blob From URL is not
// asked again for every blob.
type containerCopy struct {
	pair
	method atomic.Int32
	logf   func(string, ...any)

	mu     sync.Mutex
	counts Counts
}

// run copies .bufferstart, the data blobs up to the empty terminal one, and, once
// every copy is checked and the chain verified, .bufferend: a destination with
// .bufferend is a finished copy, which a rerun skips.
func (c *containerCopy) run(ctx context.Context) error {
	if err := c.sourceComplete(ctx); err != nil {
		return err
	}
	if end, err := head(ctx, c.hc, c.dst, endBlob); err != nil || end.exists {
		return err
	}
	if _, err := c.blob(ctx, startBlob); err != nil {
		return err
	}
	infos, err := c.dataBlobs(ctx)
	if err != nil {
		return err
	}
	if err := verifyChain(infos); err != nil {
		return err
	}
	_, err = c.blob(ctx, endBlob)
	return err
}

// dataBlobs copies blob 0, 1, ... up to the first empty one, parallelCopies at a
// time, and returns the destination's properties of each in order.
func (c *containerCopy) dataBlobs(ctx context.Context) ([]blobInfo, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelCopies)
	var infos []*blobInfo
	var headErr error
	for n := int64(0); ; n++ {
		name := transfer.BlobPath(n)
		src, err := head(gctx, c.hc, c.src, name)
		if err != nil {
			headErr = err
			break
		}
		if !src.exists {
			g.Go(func() error { return fmt.Errorf("the source buffer is corrupt: blob %s is missing", name) })
			break
		}
		got := new(blobInfo)
		infos = append(infos, got)
		g.Go(func() error {
			var err error
			*got, err = c.copyChecked(gctx, name, src)
			return err
		})
		if src.size == 0 {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if headErr != nil {
		return nil, headErr
	}
	out := make([]blobInfo, len(infos))
	for i, p := range infos {
		out[i] = *p
	}
	return out, nil
}

// blobURL is the URL of blob name in the container a SAS URL names.
func blobURL(container *url.URL, name string) string {
	u := *container
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + name
	u.RawPath = ""
	return u.String()
}
