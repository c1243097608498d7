package handler

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spool/internal/model"
)

// Limits from Tyger's API.
const (
	maxTags        = model.MaxTags
	defaultLimit   = 20
	maxLimit       = 2000
	currentVersion = "1.0"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns 26 lowercase base32 characters of 128 random bits: a valid container
// name, like Tyger's IDs.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return idEncoding.EncodeToString(b[:])
}

// validID reports whether id could have been made by newID; anything else cannot
// exist, so it is answered 404 without touching storage.
func validID(id string) bool { return model.ValidID(id) }

// validateTags applies the shared tag rules; a violation is a 400 with their message.
func validateTags(tags map[string]string) error {
	if err := model.ValidateTags(tags); err != nil {
		return invalidInput(err.Error())
	}
	return nil
}

// checkAPIVersion accepts a missing api-version (meaning 1.0) and 1.0 itself.
func checkAPIVersion(q url.Values) error {
	v, ok := q["api-version"]
	if !ok {
		return nil
	}
	if len(v) == 1 && v[0] == currentVersion {
		return nil
	}
	return fmt.Errorf("unsupported api-version %q", strings.Join(v, ","))
}

// listParams is the query of GET /buffers.
type listParams struct {
	filter       model.Filter
	limit        int
	continuation string
	status       string // a data status to select; empty selects all
}

func readListParams(q *query) (listParams, error) {
	var p listParams
	var err error
	if p.filter, err = q.filter(); err != nil {
		return p, err
	}
	if p.limit, err = q.limit(); err != nil {
		return p, err
	}
	if p.continuation, _, err = q.single("_ct"); err != nil {
		return p, err
	}
	if p.status, err = q.status(); err != nil {
		return p, err
	}
	p.filter.SoftDeleted, err = q.softDeleted()
	return p, err
}

// status reads the status list parameter: one of the four data states.
func (q *query) status() (string, error) {
	s, ok, err := q.single(model.ParamStatus)
	if err != nil || !ok {
		return "", err
	}
	status, err := model.ParseStatus(s)
	if err != nil {
		return "", invalidInput(err.Error() + ".")
	}
	return status, nil
}

// readCountParams reads the query of GET /buffers/count. As in Tyger, a bad
// softDeleted value is ignored here (live buffers are counted).
func readCountParams(q *query) (model.Filter, error) {
	f, err := q.filter()
	f.SoftDeleted, _ = q.softDeleted()
	return f, err
}

// limit applies Tyger's rules: default 20, above 2000 clamped, negative refused.
func (q *query) limit() (int, error) {
	s, ok, err := q.single("limit")
	if err != nil || !ok {
		return defaultLimit, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, invalidInput("Limit must be a non-negative integer.")
	}
	return min(n, maxLimit), nil
}

// accessParams is the query of POST /buffers/{id}/access.
type accessParams struct {
	writeable bool
	ttl       time.Duration
}

func readAccessParams(q *query) (accessParams, error) {
	var p accessParams
	var err error
	if p.writeable, err = q.boolean("writeable"); err != nil {
		return p, err
	}
	// Tyger's CLI adds these when it reaches the API through Docker; they change
	// nothing here, but they are no mistake either.
	for _, name := range []string{"preferTcp", "fromDocker"} {
		if _, err := q.boolean(name); err != nil {
			return p, err
		}
	}
	ttlText, _, err := q.single("ttl")
	if err != nil {
		return p, err
	}
	if p.ttl, err = model.ParseAccessTTL(ttlText); err != nil {
		return p, invalidInput(err.Error())
	}
	return p, nil
}

// ifMatch reads the If-Match header: the raw ETag, tolerated in double quotes; empty
// or `*` means no precondition.
func ifMatch(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if len(v) >= 2 && strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) {
		v = v[1 : len(v)-1]
	}
	if v == "*" {
		return ""
	}
	return v
}

// nextLink is the relative link to the page after this one: the same filters and
// limit, plus the store's continuation token. The function key (`code`) is left out
// on purpose so it is never echoed into a response body.
func nextLink(f model.Filter, status string, limit int, continuation string) string {
	q := model.EncodeFilter(f)
	if status != "" {
		q.Set(model.ParamStatus, status)
	}
	q.Set("api-version", currentVersion)
	q.Set("limit", strconv.Itoa(limit))
	q.Set("_ct", continuation)
	return "/api/buffers?" + q.Encode()
}
