package handler

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spool/auth"
	"spool/internal/model"
)

// errGrantNotRecorded answers an access request whose grant could not be written to
// the audit trail: the URL is not handed out, since a grant nobody can trace is not
// granted.
var errGrantNotRecorded = apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
	msg: "The access grant could not be recorded in the audit trail, so no access URL was issued; retry later.", retryAfter: "5"}

// recordGrant writes the audit entry of an access URL for id that lasts ttl.
func (a *api) recordGrant(r *http.Request, id string, writeable bool, ttl time.Duration) error {
	now := a.now().UTC()
	g := model.Grant{
		ID: newID(), BufferID: id, GrantedAt: now, Writeable: writeable,
		ExpiresAt: now.Add(ttl), Caller: a.callerOf(r),
	}
	if err := a.store.RecordGrant(r.Context(), g); err != nil {
		a.log.WarnContext(r.Context(), "access grant not recorded; refused", "id", id, "err", err)
		return errGrantNotRecorded
	}
	return nil
}

// callerOf names who the request comes from: the verified token's principal; else
// App Service authentication's principal when the server requires one (only then
// are its headers trustworthy); else the function key the host checked.
func (a *api) callerOf(r *http.Request) model.Caller {
	if p, ok := auth.PrincipalFrom(r.Context()); ok {
		return model.Caller{Method: model.CallerBearerToken, ObjectID: p.ObjectID, AppID: p.AppID,
			TenantID: p.TenantID, Name: p.Name}
	}
	if a.requirePrincipal {
		return model.Caller{Method: model.CallerAppServiceAuth,
			ObjectID: strings.TrimSpace(r.Header.Get("X-MS-CLIENT-PRINCIPAL-ID")),
			Name:     strings.TrimSpace(r.Header.Get("X-MS-CLIENT-PRINCIPAL-NAME"))}
	}
	return model.Caller{Method: model.CallerFunctionKey}
}

// auditParams is the query of GET /buffers/{id}/audit: a page size (list's rules)
// and where the page starts.
type auditParams struct {
	pageSize int
	after    string
}

func readAuditParams(q *query) (auditParams, error) {
	size, err := q.limit()
	if err != nil {
		return auditParams{}, err
	}
	after, _, err := q.single("_ct")
	return auditParams{pageSize: size, after: after}, err
}

// auditBuffer answers a buffer's access grants, newest first, a page at a time. A
// purged buffer's trail stays readable; an ID with neither record nor trail is 404.
func (a *api) auditBuffer(w http.ResponseWriter, r *http.Request) error {
	id, err := bufferID(r)
	if err != nil {
		return err
	}
	p, err := readQuery(r, readAuditParams)
	if err != nil {
		return err
	}
	page, err := a.store.Grants(r.Context(), model.GrantQuery{BufferID: id, Limit: p.pageSize, Continuation: p.after})
	if err != nil {
		return err
	}
	if len(page.Items) == 0 && p.after == "" {
		if _, err := a.store.Get(r.Context(), id); err != nil {
			return err
		}
	}
	list := model.GrantList{Items: page.Items}
	if page.Continuation != "" {
		list.NextLink = auditNextLink(id, p.pageSize, page.Continuation)
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// auditNextLink is the relative link to the next page of a trail (without the
// function key, as nextLink).
func auditNextLink(id string, limit int, continuation string) string {
	q := url.Values{}
	q.Set("api-version", currentVersion)
	q.Set("limit", strconv.Itoa(limit))
	q.Set("_ct", continuation)
	return "/api/buffers/" + id + "/audit?" + q.Encode()
}
