package client

import (
	"fmt"
	"regexp"
	"sort"
)

// Buffer IDs are 16 random bytes in lowercase, unpadded base32: 26 characters.
var idPattern = regexp.MustCompile(`^[a-z2-7]{26}$`)

// ValidateID checks a buffer ID locally, so a typo fails at once with a clear message
// instead of a round trip (and so an ID can never change the request's path).
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%q is not a buffer ID: IDs are 26 characters of a-z and 2-7", id)
	}
	return nil
}

// The server's tag rules (Tyger's): 1-128 character keys and 0-256 character values
// of letters, digits, '.', '_' and '-'; at most 100 tags.
var (
	tagKeyPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	tagValuePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{0,256}$`)
)

// MaxTags is the most tags a buffer may carry.
const MaxTags = 100

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
		if !tagKeyPattern.MatchString(k) {
			return fmt.Errorf("invalid tag key %q: keys are 1-128 letters, digits, '.', '_' or '-'", k)
		}
		if v := tags[k]; !tagValuePattern.MatchString(v) {
			return fmt.Errorf("invalid value %q for tag %q: values are 0-256 letters, digits, '.', '_' or '-'", v, k)
		}
	}
	return nil
}
