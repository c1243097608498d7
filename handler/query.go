package handler

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"spool/internal/model"
)

// query is a request's query, parsed strictly once. A route reads the parameters it
// knows through it; any other is refused, so a misspelt filter (Tag[k], tags[k],
// tag.k) can never widen a bulk change to every buffer.
type query struct {
	values url.Values
	read   map[string]bool
}

// alwaysAccepted are the parameters every route accepts: the API version (checked before routing) and the
// function key, which the Functions host leaves in the query.
var alwaysAccepted = []string{"api-version", "code"}

// readQuery parses r's query with read and refuses what read did not take.
func readQuery[P any](r *http.Request, read func(*query) (P, error)) (P, error) {
	var zero P
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return zero, err
	}
	p, err := read(q)
	if err != nil {
		return zero, err
	}
	if err := q.refuseUnread(); err != nil {
		return zero, err
	}
	return p, nil
}

// parseQuery parses raw exactly. r.URL.Query() silently drops a pair it cannot
// parse (a ';' or a bad '%' escape); here such a pair refuses the whole request,
// naming its key but never its value, which could be the function key.
func parseQuery(raw string) (*query, error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, malformedPair(raw)
	}
	q := &query{values: values, read: map[string]bool{}}
	for _, name := range alwaysAccepted {
		q.read[name] = true
	}
	return q, nil
}

// malformedPair names the first pair of raw that url.ParseQuery refuses.
func malformedPair(raw string) error {
	for pair := range strings.SplitSeq(raw, "&") {
		key, value, _ := strings.Cut(pair, "=")
		name, keyErr := url.QueryUnescape(key)
		if keyErr != nil {
			name = key
		}
		switch _, valueErr := url.QueryUnescape(value); {
		case strings.Contains(pair, ";"):
			return invalidInput(fmt.Sprintf("The query parameter %q is malformed: ';' is not a separator (use '&', or %%3B inside a value).", name))
		case keyErr != nil, valueErr != nil:
			return invalidInput(fmt.Sprintf("The query parameter %q is malformed: it holds a bad %%-escape.", name))
		}
	}
	return invalidInput("The query string is malformed.")
}

// refuseUnread refuses the first parameter, in name order, that no reader took.
func (q *query) refuseUnread() error {
	for _, name := range slices.Sorted(maps.Keys(q.values)) {
		if !q.read[name] {
			return invalidInput(fmt.Sprintf("The query parameter %q is not known on this route.", name))
		}
	}
	return nil
}

// single returns the one value of a parameter. The Functions host joins repeated
// keys with commas, so a second value shows up either as a second entry or inside
// the first one; callers whose values can hold no comma treat both as bad.
func (q *query) single(name string) (string, bool, error) {
	q.read[name] = true
	vs, ok := q.values[name]
	if !ok {
		return "", false, nil
	}
	if len(vs) != 1 {
		return "", true, invalidInput(fmt.Sprintf("The query parameter %q must be given once.", name))
	}
	return vs[0], true, nil
}

// boolean reads a true/false parameter; false when absent.
func (q *query) boolean(name string) (bool, error) {
	s, ok, err := q.single(name)
	if err != nil || !ok {
		return false, err
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, invalidInput(fmt.Sprintf("%s must be true or false, not %q.", name, s))
	}
	return v, nil
}

// softDeleted reads Tyger's softDeleted switch: true selects soft-deleted buffers
// instead of live ones.
func (q *query) softDeleted() (bool, error) {
	s, ok, err := q.single(model.ParamSoftDeleted)
	if err != nil || !ok {
		return false, err
	}
	v, err := model.ParseSoftDeleted(s)
	if err != nil {
		return false, invalidInput(err.Error())
	}
	return v, nil
}

// filter reads the tag[k] and excludeTag[k] parameters.
func (q *query) filter() (model.Filter, error) {
	for name := range q.values {
		if model.IsFilterParam(name) {
			q.read[name] = true
		}
	}
	f, err := model.ParseFilter(q.values)
	if err != nil {
		return f, invalidInput(err.Error())
	}
	return f, nil
}

// timeSpan reads a TimeSpan parameter; bad prefixes the grammar's own message.
func (q *query) timeSpan(name, bad string) (time.Duration, bool, error) {
	s, ok, err := q.single(name)
	if err != nil || !ok {
		return 0, ok, err
	}
	d, err := model.ParseTimeSpan(s)
	if err != nil {
		return 0, true, invalidInput(bad + ": " + err.Error())
	}
	return d, true, nil
}

// noParams is the reader of routes that take no parameters of their own.
func noParams(*query) (struct{}, error) { return struct{}{}, nil }
