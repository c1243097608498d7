package model

import (
	"net/url"
	"reflect"
	"testing"
)

func TestParseFilterReadsBackWhatEncodeFilterWrites(t *testing.T) {
	want := Filter{Tags: map[string]string{"run": "42", "a.b": ""}, ExcludeTags: map[string]string{"keep": "yes"}}
	q := EncodeFilter(want)
	got, err := ParseFilter(q)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	if q.Has(ParamSoftDeleted) {
		t.Errorf("softDeleted sent for live buffers: %v", q)
	}
	want.SoftDeleted = true
	if q := EncodeFilter(want); q.Get(ParamSoftDeleted) != "true" {
		t.Errorf("softDeleted missing: %v", q)
	}
}

func TestParseFilterRefusesRepeatsAndInvalidTags(t *testing.T) {
	for raw, msg := range map[string]string{
		"tag[k]=a,b":          "given more than once",
		"tag[k]=a&tag[k]=b":   "given more than once",
		"tag[]=x":             "is not a valid tag",
		"excludeTag[k]=a%20b": "is not a valid tag",
	} {
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseFilter(q)
		wantRefusal(t, raw, err, msg)
	}
	for _, name := range []string{"Tag[k]", "tags[k]", "tag.k", "TAG[k]", "excludetag[k]", "tag[k"} {
		if IsFilterParam(name) {
			t.Errorf("%s taken for a filter", name)
		}
	}
}
