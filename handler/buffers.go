package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
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

type metadataResponse struct {
	APIVersions []string `json:"apiVersions"`
}

// readBody decodes a JSON body of at most MaxBodyBytes into v. The Functions host
// forwards a body only when Content-Length > 0, so an empty body is normal and
// leaves v untouched.
func readBody(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return invalidInput("The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return invalidInput(fmt.Sprintf("The request body is not valid: %s", strings.TrimPrefix(err.Error(), "json: ")))
	}
	if dec.More() {
		return invalidInput("The request body holds more than one JSON value.")
	}
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

// metadata is anonymous: it tells Tyger's CLI which API versions exist and, by giving
// no authority, that no login is needed.
func (a *api) metadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, metadataResponse{APIVersions: []string{currentVersion}})
}

func (a *api) createBuffer(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := readBody(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := validateTags(req.Tags); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.Location != "" && !strings.EqualFold(req.Location, a.location) {
		a.fail(w, r, invalidInput(fmt.Sprintf("No storage accounts configured for location '%s'", req.Location)))
		return
	}
	b := model.Buffer{
		ID:        newID(),
		CreatedAt: a.now().UTC(),
		Location:  a.location,
		Tags:      req.Tags,
		ExpiresAt: utcPtr(req.ExpiresAt),
	}
	created, err := a.create(r.Context(), b)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/buffers/"+created.ID)
	a.writeBuffer(w, http.StatusCreated, created)
}

// create makes the container first so a record never points at nothing. When the
// insert fails, the container goes again only once the record is known to be absent:
// an insert whose answer was lost may have landed (the SDK's retry then finds the ID
// taken, and IDs are random, so the record is ours), and deleting its container
// would leave a record that points at nothing. When storage cannot say, the
// container stays: an orphan container costs storage, a dangling record loses a
// buffer.
func (a *api) create(ctx context.Context, b model.Buffer) (model.Buffer, error) {
	if err := a.containers.Create(ctx, b.ID); err != nil {
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
		a.log.Warn("insert reported a failure but the record landed", "id", b.ID, "err", err)
		return landed, nil
	case errors.Is(getErr, model.ErrNotFound):
		if delErr := a.containers.Delete(cleanupCtx, b.ID); delErr != nil {
			a.log.Error("orphan container left after a failed insert", "id", b.ID, "err", delErr)
		}
	default:
		// The outcome is unknown (the insert may even have landed, its retry then
		// finding the ID taken); storage is what failed, so the client may retry.
		a.log.Error("container kept: cannot tell whether the failed insert landed", "id", b.ID, "err", getErr)
		return model.Buffer{}, fmt.Errorf("inserting buffer %s: %w: %w", b.ID, model.ErrUnavailable, err)
	}
	return model.Buffer{}, fmt.Errorf("inserting buffer %s: %w", b.ID, err)
}

func (a *api) getBuffer(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if !validID(id) {
		a.fail(w, r, model.ErrNotFound)
		return
	}
	deleted, err := softDeletedOnly(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	b, err := a.getInState(r.Context(), id, deleted)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeBuffer(w, http.StatusOK, b)
}

func (a *api) updateBuffer(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if !validID(id) {
		a.fail(w, r, model.ErrNotFound)
		return
	}
	deleted, err := softDeletedOnly(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req updateRequest
	if err := readBody(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.ID != "" && req.ID != id {
		a.fail(w, r, invalidInput("The buffer ID in the URL does not match the buffer ID in the request body."))
		return
	}
	if err := validateTags(req.Tags); err != nil {
		a.fail(w, r, err)
		return
	}
	upd := model.BufferUpdate{Tags: req.Tags, ExpiresAt: utcPtr(req.ExpiresAt), SoftDeleted: deleted}
	if upd.Tags == nil {
		upd.Tags = map[string]string{}
	}
	precondition := ifMatch(r)
	b, err := a.store.Update(r.Context(), id, upd, precondition)
	if errors.Is(err, model.ErrPreconditionFailed) && precondition == "" {
		// The client asked for no precondition, so 412 would be a lie: the store gave
		// up after losing its compare-and-swap to other writers again and again.
		a.log.Warn("update lost to concurrent writers", "id", id, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"The buffer is being changed by other requests; retry.")
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeBuffer(w, http.StatusOK, b)
}

func (a *api) listBuffers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	filter, err := parseFilter(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	limit, err := parseLimit(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ct, _, err := singleValue(q, "_ct")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	deleted, err := softDeletedOnly(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	filter.SoftDeleted, filter.LiveAt = deleted, a.now()
	list := model.BufferList{Items: []model.Buffer{}}
	if limit == 0 {
		writeJSON(w, http.StatusOK, list)
		return
	}
	page, err := a.store.List(r.Context(), model.ListQuery{Filter: filter, Limit: limit, Continuation: ct})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, b := range page.Items {
		list.Items = append(list.Items, withTags(b))
	}
	if page.Continuation != "" {
		list.NextLink = nextLink(filter, limit, page.Continuation)
	}
	writeJSON(w, http.StatusOK, list)
}

func (a *api) countBuffers(w http.ResponseWriter, r *http.Request) {
	filter, err := parseFilter(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// As in Tyger, a bad softDeleted value is ignored here (live buffers are counted).
	deleted, _ := softDeletedOnly(r.URL.Query())
	filter.SoftDeleted, filter.LiveAt = deleted, a.now()
	n, err := a.store.Count(r.Context(), filter)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeCount(w, n)
}

func (a *api) accessBuffer(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if !validID(id) {
		a.fail(w, r, model.ErrNotFound)
		return
	}
	q := r.URL.Query()
	writeable := false
	if s, ok, err := singleValue(q, "writeable"); err != nil {
		a.fail(w, r, err)
		return
	} else if ok {
		writeable, err = strconv.ParseBool(s)
		if err != nil {
			a.fail(w, r, invalidInput(fmt.Sprintf("writeable must be true or false, not %q.", s)))
			return
		}
	}
	ttlText, _, err := singleValue(q, "ttl")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ttl, err := parseTTL(ttlText)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// A URL for a buffer that does not exist would be useless, and one for a deleted
	// or expired buffer would outlive its deletion; say so at once.
	if _, err := a.getInState(r.Context(), id, false); err != nil {
		a.fail(w, r, err)
		return
	}
	uri, err := a.containers.AccessURL(r.Context(), id, writeable, ttl)
	if err != nil {
		a.fail(w, r, fmt.Errorf("signing access to buffer %s: %w", id, err))
		return
	}
	writeJSON(w, http.StatusCreated, model.AccessURL{URI: uri})
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
