// Package model holds the buffer resource as it travels over the /buffers API, shared
// by the handler (which serves it), the table store (which keeps it) and the client
// (which consumes it).
package model

import (
	"errors"
	"time"
)

// Buffer is the wire and storage view of one buffer record.
//
// The field is spelled `etag` on output, as the user docs show; encoding/json matches
// names case-insensitively on input, so Tyger's `eTag` decodes into it too.
type Buffer struct {
	ID        string            `json:"id"`
	CreatedAt time.Time         `json:"createdAt"`
	Location  string            `json:"location,omitempty"`
	Tags      map[string]string `json:"tags"`
	ETag      string            `json:"etag,omitempty"`
	ExpiresAt *time.Time        `json:"expiresAt,omitempty"`
	// IsSoftDeleted marks a deleted buffer that can still be restored until
	// ExpiresAt, when it is purged.
	IsSoftDeleted bool `json:"isSoftDeleted,omitempty"`

	// KeptExpiresAt is the expiry a soft-deleted buffer had before its deletion, so
	// a restore can give it back. Storage-only: never on the wire.
	KeptExpiresAt *time.Time `json:"-"`
	// Purging marks a soft-deleted, expired buffer whose removal has begun (its
	// container may be gone already). Storage-only: such a buffer is never shown.
	Purging bool `json:"-"`
	// StorageAccount names the configured storage account that holds the buffer's
	// container; empty (records from before there were several) means the
	// deployment's first account. Storage-only: never on the wire.
	StorageAccount string `json:"-"`
}

// BufferUpdate is the mutable part of a buffer: its whole tag set, and its expiry
// when ExpiresAt is set.
type BufferUpdate struct {
	Tags      map[string]string
	ExpiresAt *time.Time
	// SoftDeleted says which state the update applies to: a buffer in the other
	// state, or one being purged, is not found.
	SoftDeleted bool
}

// BufferList is one page of GET /buffers.
type BufferList struct {
	Items    []Buffer `json:"items"`
	NextLink string   `json:"nextLink,omitempty"`
}

// AccessURL is the body of a POST /buffers/{id}/access answer.
type AccessURL struct {
	URI string `json:"uri"`
}

// ErrorBody is every error answer: {"error":{"code":"...","message":"..."}}.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo is the inner part of ErrorBody.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Filter selects buffers by tags: every pair in Tags must match, and a buffer having
// any pair of ExcludeTags is left out.
type Filter struct {
	Tags        map[string]string
	ExcludeTags map[string]string
	// SoftDeleted selects soft-deleted buffers instead of live ones.
	SoftDeleted bool
	// LiveAt, when set, leaves out buffers whose ExpiresAt is at or before it: an
	// expired buffer is on its way out (soft deletion or purge) even before the
	// sweep gets to it.
	LiveAt time.Time
}

// Selects reports whether f selects b: every pair of Tags present, no pair of
// ExcludeTags, the state asked for, not purging, and not expired at LiveAt.
func (f Filter) Selects(b Buffer) bool {
	if b.IsSoftDeleted != f.SoftDeleted || b.Purging {
		return false
	}
	if !f.LiveAt.IsZero() && b.ExpiresAt != nil && !b.ExpiresAt.After(f.LiveAt) {
		return false
	}
	for k, v := range f.Tags {
		if got, ok := b.Tags[k]; !ok || got != v {
			return false
		}
	}
	for k, v := range f.ExcludeTags {
		if got, ok := b.Tags[k]; ok && got == v {
			return false
		}
	}
	return true
}

// ListQuery is one page request for buffers, newest first.
type ListQuery struct {
	Filter
	Limit int
	// Continuation is the opaque token from an earlier page; empty starts at the top.
	Continuation string
}

// ListPage is one page of results; an empty Continuation means no more pages.
type ListPage struct {
	Items        []Buffer
	Continuation string
}

// Errors every store implementation reports (wrapped) so the handler can map them to
// HTTP answers without knowing the storage.
var (
	ErrNotFound            = errors.New("buffer not found")
	ErrPreconditionFailed  = errors.New("etag does not match")
	ErrInvalidContinuation = errors.New("invalid continuation token")
	// ErrUnavailable marks storage faults (timeouts, 5xx) that a retry may cure.
	ErrUnavailable = errors.New("storage unavailable")
)
