package handler

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
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
	defaultTTL     = time.Hour
	minTTL         = 30 * time.Second
	maxTTL         = time.Hour
	currentVersion = "1.0"
)

var (
	// A .NET TimeSpan as Tyger's CLI sends it: D, D.HH:MM[:SS[.fffffff]] or HH:MM[:SS].
	ttlPattern = regexp.MustCompile(`^(?:(\d{1,7})\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$`)
	daysOnly   = regexp.MustCompile(`^\d{1,7}$`)
	// tag[key] and excludeTag[key] query parameters.
	tagParamPattern = regexp.MustCompile(`(?s)^(tag|excludeTag)\[(.*)\]$`)
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

func validateTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return invalidInput(fmt.Sprintf("No more than %d tags can be set on a buffer", maxTags))
	}
	for k, v := range tags {
		if !model.ValidTagKey(k) {
			return invalidInput(fmt.Sprintf("Tag key %q is invalid: it must be 1-128 letters, digits, '-', '_' or '.'", k))
		}
		if !model.ValidTagValue(v) {
			return invalidInput(fmt.Sprintf("Tag value %q of key %q is invalid: it must be 0-256 letters, digits, '-', '_' or '.'", v, k))
		}
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

// singleValue returns the one value of a query key. The Functions host joins
// repeated keys with commas, so a second value shows up either as a second entry or
// inside the first one; callers whose values can hold no comma treat both as bad.
func singleValue(q url.Values, key string) (string, bool, error) {
	vs, ok := q[key]
	if !ok {
		return "", false, nil
	}
	if len(vs) != 1 {
		return "", true, invalidInput(fmt.Sprintf("The query parameter %q must be given once.", key))
	}
	return vs[0], true, nil
}

// parseFilter reads tag[k]=v and excludeTag[k]=v. Tag values cannot contain commas,
// so a comma means the key was repeated (and joined by the host): refused, since
// which value was meant is unknowable.
func parseFilter(q url.Values) (model.Filter, error) {
	var f model.Filter
	for key, vs := range q {
		m := tagParamPattern.FindStringSubmatch(key)
		if m == nil {
			continue
		}
		kind, tagKey := m[1], m[2]
		if len(vs) != 1 || strings.Contains(vs[0], ",") {
			return f, invalidInput(fmt.Sprintf("The filter %s[%s] was given more than once.", kind, tagKey))
		}
		if !model.ValidTagKey(tagKey) || !model.ValidTagValue(vs[0]) {
			return f, invalidInput(fmt.Sprintf("The filter %s[%s]=%s is not a valid tag.", kind, tagKey, vs[0]))
		}
		target := &f.Tags
		if kind == "excludeTag" {
			target = &f.ExcludeTags
		}
		if *target == nil {
			*target = map[string]string{}
		}
		(*target)[tagKey] = vs[0]
	}
	return f, nil
}

// parseLimit applies Tyger's rules: default 20, above 2000 clamped, negative refused.
func parseLimit(q url.Values) (int, error) {
	s, ok, err := singleValue(q, "limit")
	if err != nil || !ok {
		return defaultLimit, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, invalidInput("Limit must be a non-negative integer.")
	}
	return min(n, maxLimit), nil
}

// parseTTL reads a .NET TimeSpan (D.HH:MM:SS and its shorter forms) and checks that
// it lies within 30 s and 1 h; empty means the 1 h default.
func parseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return defaultTTL, nil
	}
	ttl, ok := parseTimeSpan(s)
	if !ok {
		return 0, invalidInput(fmt.Sprintf("The ttl %q is not a valid TimeSpan such as 0.00:30:00.", s))
	}
	if ttl < minTTL {
		return 0, invalidInput("Access TTL must be at least 30 seconds.")
	}
	if ttl > maxTTL {
		return 0, invalidInput("Access TTL must be less than or equal to 01:00:00.")
	}
	return ttl, nil
}

func parseTimeSpan(s string) (time.Duration, bool) {
	atoi := func(s string) int64 {
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	if daysOnly.MatchString(s) {
		return time.Duration(atoi(s)) * 24 * time.Hour, true
	}
	m := ttlPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	days, hours, minutes, seconds := atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4])
	if hours > 23 || minutes > 59 || seconds > 59 {
		return 0, false
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour +
		time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second
	if frac := m[5]; frac != "" {
		// Seven digits are 100 ns ticks; pad shorter fractions on the right.
		ticks := atoi(frac + strings.Repeat("0", 7-len(frac)))
		d += time.Duration(ticks) * 100 * time.Nanosecond
	}
	return d, true
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
func nextLink(f model.Filter, limit int, continuation string) string {
	q := url.Values{}
	q.Set("api-version", currentVersion)
	for k, v := range f.Tags {
		q.Set("tag["+k+"]", v)
	}
	for k, v := range f.ExcludeTags {
		q.Set("excludeTag["+k+"]", v)
	}
	if f.SoftDeleted {
		q.Set("softDeleted", "true")
	}
	q.Set("limit", strconv.Itoa(limit))
	q.Set("_ct", continuation)
	return "/api/buffers?" + q.Encode()
}

// softDeletedOnly reads Tyger's softDeleted switch: true selects soft-deleted
// buffers instead of live ones.
func softDeletedOnly(q url.Values) (bool, error) {
	s, ok, err := singleValue(q, "softDeleted")
	if err != nil || !ok {
		return false, err
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, invalidInput("softDeleted must be true or false")
	}
	return v, nil
}
