package client

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"spool/internal/model"
	"spool/internal/redact"
)

// ValidateID checks a buffer ID locally, so a typo fails at once with a clear message
// instead of a round trip (and so an ID can never change the request's path).
func ValidateID(id string) error {
	if !model.ValidID(id) {
		return fmt.Errorf("%s is not a buffer ID: IDs are 26 characters of a-z and 2-7", QuoteArg(id))
	}
	return nil
}

// MaxTags is the most tags a buffer may carry.
const MaxTags = model.MaxTags

// ValidateTags applies the server's tag rules, so bad input fails before any request.
func ValidateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%d tags given: a buffer can have at most %d", len(tags), MaxTags)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same offender every time
	for _, k := range keys {
		if !model.ValidTagKey(k) {
			return fmt.Errorf("invalid tag key %q: keys are 1-128 letters, digits, '.', '_' or '-'", k)
		}
		if v := tags[k]; !model.ValidTagValue(v) {
			return fmt.Errorf("invalid value %q for tag %q: values are 0-256 letters, digits, '.', '_' or '-'", v, k)
		}
	}
	return nil
}

// QuoteArg quotes a command-line value for an error message without any secret it
// may carry: a query (where SAS signatures and function keys live) is cut off,
// whatever is left passes through redact.String, and a long value is shortened.
func QuoteArg(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i] + "?…"
	}
	s = redact.String(s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return strconv.Quote(s)
}
