package model

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The query parameters that select buffers, as Tyger spells them: tag[key]=value
// (every pair must match), excludeTag[key]=value (any pair leaves a buffer out) and
// softDeleted=true (deleted buffers instead of live ones).
const (
	ParamSoftDeleted = "softDeleted"
	tagKind          = "tag"
	excludeTagKind   = "excludeTag"
)

// filterParamPattern matches a filter parameter by its exact spelling only: Tag[k],
// tags[k] or tag.k are not filters, and a route refuses them as unknown.
var filterParamPattern = regexp.MustCompile(`(?s)^(tag|excludeTag)\[(.*)\]$`)

// EncodeFilter is the query that selects what f selects; LiveAt is the server's own.
func EncodeFilter(f Filter) url.Values {
	q := url.Values{}
	for k, v := range f.Tags {
		q.Set(tagKind+"["+k+"]", v)
	}
	for k, v := range f.ExcludeTags {
		q.Set(excludeTagKind+"["+k+"]", v)
	}
	if f.SoftDeleted {
		q.Set(ParamSoftDeleted, "true")
	}
	return q
}

// IsFilterParam reports whether a query parameter name is a tag filter.
func IsFilterParam(name string) bool { return filterParamPattern.MatchString(name) }

// ParseFilter reads the tag filters of q strictly: each once, naming a valid tag.
// The Functions host joins a repeated key's values with commas, and tag values hold
// no comma, so a comma means a repeat and is refused: which value was meant is
// unknowable. Other parameters, softDeleted included, are the caller's to read.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	for _, name := range slices.Sorted(maps.Keys(q)) { // the same offender every time
		vs := q[name]
		m := filterParamPattern.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		kind, key := m[1], m[2]
		if len(vs) != 1 || strings.Contains(vs[0], ",") {
			return Filter{}, fmt.Errorf("The filter %s[%s] was given more than once.", kind, key)
		}
		if !ValidTagKey(key) || !ValidTagValue(vs[0]) {
			return Filter{}, fmt.Errorf("The filter %s[%s]=%s is not a valid tag.", kind, key, vs[0])
		}
		target := &f.Tags
		if kind == excludeTagKind {
			target = &f.ExcludeTags
		}
		if *target == nil {
			*target = map[string]string{}
		}
		(*target)[key] = vs[0]
	}
	return f, nil
}

// ParseSoftDeleted reads the value of softDeleted: true or false, as
// strconv.ParseBool spells them.
func ParseSoftDeleted(s string) (bool, error) {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("softDeleted must be true or false")
	}
	return v, nil
}
