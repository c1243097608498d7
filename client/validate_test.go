package client

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidateTagsAppliesTheServersRules(t *testing.T) {
	ok := []map[string]string{
		nil,
		{"a": ""},
		{"A-z_0.9": "v-1_2.3"},
		{strings.Repeat("k", 128): strings.Repeat("v", 256)},
	}
	for _, tags := range ok {
		if err := ValidateTags(tags); err != nil {
			t.Errorf("ValidateTags(%v) = %v", tags, err)
		}
	}
	bad := []map[string]string{
		{"": "v"},
		{"a b": "v"},
		{"k": "v w"},
		{"k": "ü"},
		{"k=": "v"},
		{strings.Repeat("k", 129): "v"},
		{"k": strings.Repeat("v", 257)},
	}
	for _, tags := range bad {
		if err := ValidateTags(tags); err == nil {
			t.Errorf("ValidateTags(%v) accepted", tags)
		}
	}
	many := map[string]string{}
	for i := range MaxTags + 1 {
		many[fmt.Sprint("k", i)] = "v"
	}
	if err := ValidateTags(many); err == nil || !strings.Contains(err.Error(), "at most 100") {
		t.Errorf("101 tags: %v", err)
	}
}
