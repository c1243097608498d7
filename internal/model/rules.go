package model

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// The rules every buffer ID and tag obeys, shared so that the CLI refuses locally
// exactly what the server would refuse.
var (
	// IDs are 16 random bytes in lowercase, unpadded base32: 26 characters, which is
	// also a valid container name.
	idPattern = regexp.MustCompile(`^[a-z2-7]{26}$`)
	// Tyger's tag rules: keys of 1-128 and values of 0-256 letters, digits, '.', '_', '-'.
	tagKeyPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	tagValuePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{0,256}$`)
)

// MaxTags is the most tags a buffer may carry.
const MaxTags = 100

// ValidID reports whether id has the shape of a buffer ID.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// ValidTagKey reports whether k may be a tag key.
func ValidTagKey(k string) bool { return tagKeyPattern.MatchString(k) }

// ValidTagValue reports whether v may be a tag value.
func ValidTagValue(v string) bool { return tagValuePattern.MatchString(v) }

// ValidateTags applies the tag rules to a whole tag set, naming the first offender
// in key order so that the same input always gets the same message.
func ValidateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("No more than %d tags can be set on a buffer", MaxTags)
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if !ValidTagKey(k) {
			return fmt.Errorf("Tag key %q is invalid: it must be 1-128 letters, digits, '-', '_' or '.'", k)
		}
		if v := tags[k]; !ValidTagValue(v) {
			return fmt.Errorf("Tag value %q of key %q is invalid: it must be 0-256 letters, digits, '-', '_' or '.'", v, k)
		}
	}
	return nil
}
