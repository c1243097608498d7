// Package bufcopy copies buffers between storage accounts of one spool deployment
// or between deployments, blob by blob from storage to storage: Put Blob From URL,
// else Copy Blob, with a read SAS of the source; only where storage refuses both
// do the bytes pass through this client (and the result says so). The source is
// only read. A journal remembers which destination buffer each source went to, so
// a rerun resumes: blobs already at the destination are checked and kept.
package bufcopy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"

	"spool/client"
	"spool/internal/model"
)

// Options says where buffers go.
type Options struct {
	Source, Destination *client.Client
	// Location is the destination location; empty means the destination's default.
	Location string
	Journal  *Journal
	// HTTPClient makes the blob requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Logf receives notes (a method storage refused); nil discards them.
	Logf func(format string, args ...any)
}

// Result is one buffer's copy.
type Result struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// Done says the destination was complete already: nothing was copied.
	Done bool `json:"alreadyDone,omitempty"`
	Counts
}

// Buffer copies the buffer with the given ID, or finishes an earlier copy of it.
func Buffer(ctx context.Context, opts Options, id string) (Result, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	src, err := opts.Source.GetBuffer(ctx, id, client.GetOptions{})
	if err != nil {
		return Result{}, err
	}
	destID, err := destination(ctx, opts, src)
	if err != nil {
		return Result{}, err
	}
	res := Result{Source: id, Destination: destID}
	p, err := containers(ctx, opts, id, destID)
	if err != nil {
		return res, err
	}
	c := &containerCopy{pair: p, logf: opts.Logf}
	if err := c.run(ctx); err != nil {
		return res, fmt.Errorf("copying buffer %s to %s: %w", id, destID, err)
	}
	res.Counts = c.counts
	res.Blobs = res.ServerSide + res.Streamed + res.AlreadyThere
	res.Done = res.Blobs == 0
	return res, nil
}

// destination returns the buffer an earlier run created for src, or creates one
// with src's tags and expiry and journals it before any blob is copied.
func destination(ctx context.Context, opts Options, src model.Buffer) (string, error) {
	key := journalKey(opts, src.ID)
	if id := opts.Journal.lookup(key); id != "" {
		dest, err := opts.Destination.GetBuffer(ctx, id, client.GetOptions{})
		if err == nil {
			return id, sameTags(ctx, opts.Destination, dest, src.Tags)
		}
		if !errors.Is(err, model.ErrNotFound) {
			return "", err
		}
	}
	b, err := opts.Destination.CreateBuffer(ctx, client.CreateRequest{Tags: src.Tags, ExpiresAt: src.ExpiresAt, Location: opts.Location})
	if err != nil {
		return "", err
	}
	if err := opts.Journal.record(key, b.ID); err != nil {
		return "", err
	}
	return b.ID, nil
}

// sameTags gives an earlier copy the source's tags again when they changed since.
func sameTags(ctx context.Context, c *client.Client, dest model.Buffer, tags map[string]string) error {
	if maps.Equal(dest.Tags, tags) {
		return nil
	}
	_, err := c.UpdateBuffer(ctx, dest.ID, client.Change{Tags: tags, ETag: dest.ETag})
	return err
}

// containers gets a read URL for the source and a create-only one for the
// destination.
func containers(ctx context.Context, opts Options, srcID, destID string) (pair, error) {
	srcURL, err := opts.Source.Access(ctx, srcID, false, "")
	if err != nil {
		return pair{}, err
	}
	dstURL, err := opts.Destination.Access(ctx, destID, true, "")
	if err != nil {
		return pair{}, err
	}
	s, err := url.Parse(srcURL)
	if err != nil {
		return pair{}, errors.New("the source's access URL does not parse")
	}
	d, err := url.Parse(dstURL)
	if err != nil {
		return pair{}, errors.New("the destination's access URL does not parse")
	}
	return pair{hc: opts.HTTPClient, src: s, dst: d}, nil
}
