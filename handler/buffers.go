package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"spool/internal/model"
)

// createRequest is the body of POST /buffers. Tyger's CLI also sends "id":"" and a
// zero "createdAt"; both are accepted and replaced, and so is a client "etag".
// Any other field is refused.
type createRequest struct {
	ID        string     `json:"id"`
	CreatedAt *time.Time `json:"createdAt"`
	Location  string     `json:"location"`
	Tags      tagSet     `json:"tags"`
	ETag      string     `json:"etag"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// updateRequest is the body of PUT /buffers/{id}. Like Tyger's BufferUpdate, it
// ignores unknown fields; absent or null tags clear all tags.
type updateRequest struct {
	ID        string     `json:"id"`
	Tags      tagSet     `json:"tags"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// tagSet is a request's tags. encoding/json would read a null value as "", quietly
// storing something the client did not send; a null value is refused instead.
type tagSet map[string]string

func (t *tagSet) UnmarshalJSON(data []byte) error {
	var raw map[string]*string
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		*t = nil
		return nil
	}
	tags := make(tagSet, len(raw))
	for k, v := range raw {
		if v == nil {
			return fmt.Errorf("tag %q has a null value; values are strings", k)
		}
		tags[k] = *v
	}
	*t = tags
	return nil
}

// requireAPIVersion checks api-version on every /api route (missing means 1.0) and
// answers 400 when it is unknown. The timer's path is the host's, not the API's.
func (a *api) requireAPIVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		if err := checkAPIVersion(r.URL.Query()); err != nil {
			writeJSON(w, http.StatusBadRequest, struct {
				Error       model.ErrorInfo `json:"error"`
				APIVersions []string        `json:"apiVersions"`
			}{
				Error:       model.ErrorInfo{Code: codeUnsupportedVersion, Message: "The HTTP resource does not support the API version given: " + err.Error()},
				APIVersions: []string{currentVersion},
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// metadata is anonymous: it tells Tyger's CLI which API versions exist and where to
// sign in (auth.MetadataFor); with no authority, that no login is needed.
func (a *api) metadata(w http.ResponseWriter, r *http.Request) error {
	if _, err := readQuery(r, noParams); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.signIn)
	return nil
}

func (a *api) createBuffer(w http.ResponseWriter, r *http.Request) error {
	if _, err := readQuery(r, noParams); err != nil {
		return err
	}
	var req createRequest
	if err := readBody(w, r, &req, true); err != nil {
		return err
	}
	if err := validateTags(req.Tags); err != nil {
		return err
	}
	acct, err := a.accounts.place(req.Location)
	if err != nil {
		return err
	}
	created, err := a.create(r.Context(), acct.Containers, model.Buffer{
		ID:             newID(),
		CreatedAt:      a.now().UTC(),
		Location:       acct.Location,
		StorageAccount: acct.Name,
		Tags:           req.Tags,
		ExpiresAt:      utcPtr(req.ExpiresAt),
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/buffers/"+created.ID)
	a.writeBuffer(w, http.StatusCreated, created)
	return nil
}

// create makes the container first so a record never points at nothing. When the
// insert fails, the container goes again only once the record is known to be absent:
// an insert whose answer was lost may have landed (the SDK's retry then finds the ID
// taken, and IDs are random, so the record is ours), and deleting its container
// would leave a record that points at nothing. When storage cannot say, the
// container stays: an orphan container costs storage, a dangling record loses a
// buffer.
func (a *api) create(ctx context.Context, containers Containers, b model.Buffer) (model.Buffer, error) {
	if err := containers.Create(ctx, b.ID); err != nil {
		return model.Buffer{}, fmt.Errorf("creating container for buffer %s: %w", b.ID, err)
	}
	created, err := a.store.Insert(ctx, b)
	if err == nil {
		return created, nil
	}
	// The request's context may be what failed; the cleanup still deserves a try,
	// bounded so that a stalled table cannot hold the request much longer.
	cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.requestTimeout/2)
	defer cancel()
	landed, getErr := a.store.Get(cleanupCtx, b.ID)
	switch {
	case getErr == nil && landed.CreatedAt.Equal(b.CreatedAt):
		a.log.WarnContext(ctx, "insert reported a failure but the record landed", "id", b.ID, "err", err)
		return landed, nil
	case errors.Is(getErr, model.ErrNotFound):
		if delErr := containers.Delete(cleanupCtx, b.ID); delErr != nil {
			a.log.ErrorContext(ctx, "orphan container left after a failed insert", "id", b.ID, "err", delErr)
		}
	default:
		// The outcome is unknown (the insert may even have landed, its retry then
		// finding the ID taken); storage is what failed, so the client may retry.
		a.log.ErrorContext(ctx, "container kept: cannot tell whether the failed insert landed", "id", b.ID, "err", getErr)
		return model.Buffer{}, fmt.Errorf("inserting buffer %s: %w: %w", b.ID, model.ErrUnavailable, err)
	}
	return model.Buffer{}, fmt.Errorf("inserting buffer %s: %w", b.ID, err)
}

// bufferID is the {id} of a single-buffer route. An ID newID cannot have made names
// no buffer, so it is not found without a look at storage.
func bufferID(r *http.Request) (string, error) {
	id := mux.Vars(r)["id"]
	if !validID(id) {
		return "", model.ErrNotFound
	}
	return id, nil
}

// bufferInState reads a single-buffer route's ID and its softDeleted switch.
func bufferInState(r *http.Request) (id string, deleted bool, err error) {
	if id, err = bufferID(r); err != nil {
		return "", false, err
	}
	deleted, err = readQuery(r, (*query).softDeleted)
	return id, deleted, err
}

func (a *api) getBuffer(w http.ResponseWriter, r *http.Request) error {
	id, deleted, err := bufferInState(r)
	if err != nil {
		return err
	}
	b, err := a.getInState(r.Context(), id, deleted)
	if err != nil {
		return err
	}
	a.writeBuffer(w, http.StatusOK, b)
	return nil
}

// errUpdateContended answers an update that asked for no precondition but lost its
// compare-and-swap to other writers again and again: 412 would be a lie.
var errUpdateContended = apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
	msg: "The buffer is being changed by other requests; retry.", retryAfter: "1"}

func (a *api) updateBuffer(w http.ResponseWriter, r *http.Request) error {
	id, deleted, err := bufferInState(r)
	if err != nil {
		return err
	}
	var req updateRequest
	if err := readBody(w, r, &req, false); err != nil {
		return err
	}
	if req.ID != "" && req.ID != id {
		return invalidInput("The buffer ID in the URL does not match the buffer ID in the request body.")
	}
	if err := validateTags(req.Tags); err != nil {
		return err
	}
	upd := model.BufferUpdate{Tags: req.Tags, ExpiresAt: utcPtr(req.ExpiresAt), SoftDeleted: deleted}
	if upd.Tags == nil {
		upd.Tags = map[string]string{}
	}
	precondition := ifMatch(r)
	b, err := a.store.Update(r.Context(), id, upd, precondition)
	if errors.Is(err, model.ErrPreconditionFailed) && precondition == "" {
		a.log.WarnContext(r.Context(), "update lost to concurrent writers", "id", id, "err", err)
		return errUpdateContended
	}
	if err != nil {
		return err
	}
	a.writeBuffer(w, http.StatusOK, b)
	return nil
}

func (a *api) listBuffers(w http.ResponseWriter, r *http.Request) error {
	p, err := readQuery(r, readListParams)
	if err != nil {
		return err
	}
	p.filter.LiveAt = a.now()
	list := model.BufferList{Items: []model.Buffer{}}
	if p.limit == 0 {
		writeJSON(w, http.StatusOK, list)
		return nil
	}
	page, err := a.store.List(r.Context(), model.ListQuery{Filter: p.filter, Limit: p.limit, Continuation: p.continuation})
	if err != nil {
		return err
	}
	for _, b := range page.Items {
		list.Items = append(list.Items, withTags(b))
	}
	if page.Continuation != "" {
		list.NextLink = nextLink(p.filter, p.limit, page.Continuation)
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (a *api) countBuffers(w http.ResponseWriter, r *http.Request) error {
	filter, err := readQuery(r, readCountParams)
	if err != nil {
		return err
	}
	filter.LiveAt = a.now()
	n, err := a.store.Count(r.Context(), filter)
	if err != nil {
		return err
	}
	writeCount(w, n)
	return nil
}

func (a *api) accessBuffer(w http.ResponseWriter, r *http.Request) error {
	id, err := bufferID(r)
	if err != nil {
		return err
	}
	p, err := readQuery(r, readAccessParams)
	if err != nil {
		return err
	}
	// A URL for a buffer that does not exist would be useless, and one for a deleted
	// or expired buffer would outlive its deletion; say so at once.
	b, err := a.getInState(r.Context(), id, false)
	if err != nil {
		return err
	}
	ttl, err := urlLifetime(b, p.ttl, a.now())
	if err != nil {
		return err
	}
	containers, err := a.accounts.of(b)
	if err != nil {
		return err
	}
	uri, err := containers.AccessURL(r.Context(), id, p.writeable, ttl)
	if err != nil {
		return fmt.Errorf("signing access to buffer %s: %w", id, err)
	}
	if err := a.recordGrant(r, id, p.writeable, ttl); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, model.AccessURL{URI: uri})
	return nil
}

// urlLifetime caps an access URL's ttl so that it never outlives the buffer: a URL
// for a buffer that expires in 10 s lasts at most 10 s. The cap is counted to the
// whole second before the expiry, since a SAS expiry has whole seconds and the
// signer's clock reads a moment after ours; a buffer with less than that left is on
// its way out, so not found.
func urlLifetime(b model.Buffer, ttl time.Duration, now time.Time) (time.Duration, error) {
	if b.ExpiresAt == nil {
		return ttl, nil
	}
	left := b.ExpiresAt.Truncate(time.Second).Sub(now)
	if left <= 0 {
		return 0, fmt.Errorf("buffer %s expires within the second: %w", b.ID, model.ErrNotFound)
	}
	return min(ttl, left), nil
}

// writeBuffer answers one buffer, its ETag also in the header (unquoted, as Tyger does).
func (a *api) writeBuffer(w http.ResponseWriter, status int, b model.Buffer) {
	if b.ETag != "" {
		w.Header().Set("ETag", b.ETag)
	}
	writeJSON(w, status, withTags(b))
}

// withTags makes a buffer without tags show "tags": {} rather than null.
func withTags(b model.Buffer) model.Buffer {
	if b.Tags == nil {
		b.Tags = map[string]string{}
	}
	return b
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
