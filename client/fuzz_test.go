package client

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Tag text that could change a URL, a Table query or the host's comma-joined
// query string must never pass validation.
var unsafeInTags = regexp.MustCompile(`['"/\\#?&=,%\s\x00-\x1f\x7f]|[^\x00-\x7f]`)

func FuzzValidateTags(f *testing.F) {
	for _, kv := range [][2]string{{"a", "1"}, {"a-b.c_d", ""}, {"", "v"}, {"x' or PartitionKey ne 'x", "1"}, {"k", "a,b"}, {"k", "é"}, {strings.Repeat("k", 128), strings.Repeat("v", 256)}, {strings.Repeat("k", 129), "v"}} {
		f.Add(kv[0], kv[1], uint8(1))
	}
	f.Fuzz(func(t *testing.T, key, value string, n uint8) {
		tags := map[string]string{key: value}
		for i := 1; i < int(n); i++ {
			tags[fmt.Sprintf("k%d", i)] = "v"
		}
		err := ValidateTags(tags)
		if err != nil {
			return
		}
		if len(tags) > MaxTags {
			t.Fatalf("%d tags accepted", len(tags))
		}
		if tags[key] != value {
			return // an extra tag replaced the fuzzed one
		}
		if len(key) == 0 || len(key) > 128 || len(value) > 256 {
			t.Fatalf("tag %q=%q accepted despite its length", key, value)
		}
		if unsafeInTags.MatchString(key) || unsafeInTags.MatchString(value) {
			t.Fatalf("tag %q=%q accepted with an unsafe character", key, value)
		}
	})
}
