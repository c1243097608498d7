package model

import "regexp"

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
