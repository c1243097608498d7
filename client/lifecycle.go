package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"spool/internal/model"
)

// filterQuery is the query that selects the buffers opts names, in the shared
// wire grammar the server parses.
func filterQuery(opts ListOptions) url.Values {
	return model.EncodeFilter(model.Filter{Tags: opts.Tags, ExcludeTags: opts.ExcludeTags, SoftDeleted: opts.SoftDeleted})
}

// checkFilter applies the server's own tag rules to a filter.
func checkFilter(opts ListOptions) error {
	if err := model.ValidateTags(opts.Tags); err != nil {
		return err
	}
	if err := model.ValidateTags(opts.ExcludeTags); err != nil {
		return fmt.Errorf("exclude tags: %w", err)
	}
	return nil
}

// ParseTTL reads a lifetime in the API's TimeSpan grammar (model.ParseTimeSpan:
// D or [D.]HH:MM[:SS[.fffffff]]), bounded by model.MaxTimeSpan, so the CLI takes
// exactly what the server takes.
func ParseTTL(s string) (time.Duration, error) {
	return model.ParseTimeSpan(s)
}

// Change is an update of one buffer: its whole tag set, and its expiry when
// ExpiresAt is set. SoftDeleted addresses a deleted buffer (whose expiry is its
// purge time). A non-empty ETag is sent as If-Match.
type Change struct {
	Tags        map[string]string
	ExpiresAt   *time.Time
	SoftDeleted bool
	ETag        string
}

// UpdateBuffer applies a Change and returns the updated record.
func (c *Client) UpdateBuffer(ctx context.Context, id string, ch Change) (model.Buffer, error) {
	if err := ValidateID(id); err != nil {
		return model.Buffer{}, err
	}
	if err := ValidateTags(ch.Tags); err != nil {
		return model.Buffer{}, err
	}
	body := struct {
		Tags      map[string]string `json:"tags"`
		ExpiresAt *time.Time        `json:"expiresAt,omitempty"`
	}{ch.Tags, ch.ExpiresAt}
	if body.Tags == nil {
		body.Tags = map[string]string{}
	}
	q := url.Values{}
	if ch.SoftDeleted {
		q.Set("softDeleted", "true")
	}
	var b model.Buffer
	err := c.do(ctx, call{method: http.MethodPut, path: "/buffers/" + id, query: q, body: body, ifMatch: ch.ETag, bufferID: id}, &b)
	return b, err
}

// Lifecycle operations on buffers.
type Operation int

const (
	// Delete soft-deletes live buffers: restorable until purged.
	Delete Operation = iota
	// Restore brings soft-deleted buffers back.
	Restore
	// Purge has soft-deleted buffers removed for good by the server's next sweep.
	Purge
)

func (op Operation) String() string {
	return [...]string{"delete", "restore", "purge"}[op]
}

// targetsDeleted reports whether the operation works on soft-deleted buffers.
func (op Operation) targetsDeleted() bool { return op != Delete }

// Apply performs op on one buffer and returns its record afterwards.
func (c *Client) Apply(ctx context.Context, op Operation, id string) (model.Buffer, error) {
	if err := ValidateID(id); err != nil {
		return model.Buffer{}, err
	}
	cl := call{method: http.MethodDelete, path: "/buffers/" + id, bufferID: id}
	switch op {
	case Restore:
		cl.method, cl.path = http.MethodPost, "/buffers/"+id+"/restore"
	case Purge:
		cl.query = url.Values{"softDeleted": {"true"}, "ttl": {"0"}}
	}
	var b model.Buffer
	if err := c.do(ctx, cl, &b); err != nil {
		// A 412 here is about the buffer's state, not an etag (none is sent): the
		// APIError says what the server said ("Buffer is not soft-deleted").
		if errors.Is(err, model.ErrPreconditionFailed) {
			return model.Buffer{}, fmt.Errorf("%s buffer %s: %w", op, id, err)
		}
		return model.Buffer{}, fmt.Errorf("%s: %w", op, err)
	}
	return b, nil
}

// CountFor counts the buffers that op would act on among those opts selects.
func (c *Client) CountFor(ctx context.Context, op Operation, opts ListOptions) (int, error) {
	opts.SoftDeleted = op.targetsDeleted()
	return c.CountBuffers(ctx, opts)
}

// CountBuffers counts the buffers opts selects.
func (c *Client) CountBuffers(ctx context.Context, opts ListOptions) (int, error) {
	if err := checkFilter(opts); err != nil {
		return 0, err
	}
	var n int
	err := c.do(ctx, call{method: http.MethodGet, path: "/buffers/count", query: filterQuery(opts)}, &n)
	return n, err
}

// ApplyAll performs op on every buffer opts selects (every buffer when it names no
// tags) and returns how many changed.
func (c *Client) ApplyAll(ctx context.Context, op Operation, opts ListOptions) (int, error) {
	opts.SoftDeleted = false
	if err := checkFilter(opts); err != nil {
		return 0, err
	}
	q := filterQuery(opts)
	cl := call{method: http.MethodDelete, path: "/buffers", query: q}
	switch op {
	case Restore:
		cl.method, cl.path = http.MethodPost, "/buffers/restore"
	case Purge:
		q.Set("softDeleted", "true")
		q.Set("ttl", "0")
	}
	var n int
	if err := c.do(ctx, cl, &n); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return n, nil
}
