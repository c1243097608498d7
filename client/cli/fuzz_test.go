package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// FuzzTagFlag feeds one --tag value through the real flag definition and the tag
// rules: whatever is accepted is a valid tag set that prints back as a flag value
// giving the same tags.
func FuzzTagFlag(f *testing.F) {
	for _, s := range []string{"a=1", "a=1,b=2", "a=", "=1", "a", "a=1=2", `"a=1,2"`, "a=x' or PartitionKey ne 'x", "a=1,a=2", ",", "k=v,", "é=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		fs := pflag.NewFlagSet("fuzz", pflag.ContinueOnError)
		fs.SetOutput(nil)
		tags := tagFlag(fs, "tag", "")
		if err := fs.Parse([]string{"--tag", value}); err != nil {
			return
		}
		checked, err := checkedTags("tag", *tags)
		if err != nil {
			return
		}
		var pairs []string
		for _, k := range slices.Sorted(maps.Keys(checked)) {
			if strings.ContainsAny(k+checked[k], ",='\"") {
				t.Fatalf("%q gave the tag %q=%q", value, k, checked[k])
			}
			pairs = append(pairs, k+"="+checked[k])
		}
		again := pflag.NewFlagSet("again", pflag.ContinueOnError)
		back := tagFlag(again, "tag", "")
		if len(pairs) > 0 {
			if err := again.Parse([]string{"--tag", strings.Join(pairs, ",")}); err != nil {
				t.Fatalf("%q: printed back as %q, which does not parse: %v", value, strings.Join(pairs, ","), err)
			}
		}
		if !maps.Equal(*back, checked) {
			t.Fatalf("%q gave %v, printed back it gives %v", value, checked, *back)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1", "1000", "512K", "16M", "1.5M", "4MiB", "1G", "10GB", "1T", "-1", "", " 7 ", "1e3", "9223372036854775807", "8E", "0.1K", "1KB1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			if n != 0 {
				t.Errorf("parseSize(%q) failed but returned %d", s, n)
			}
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d, a negative size", s, n)
		}
		// Round trips: the plain byte count and, when exact, KiB and MiB forms.
		for _, form := range []struct {
			text string
			ok   bool
		}{
			{fmt.Sprint(n), true},
			{fmt.Sprintf("%dK", n>>10), n%(1<<10) == 0},
			{fmt.Sprintf("%dMiB", n>>20), n%(1<<20) == 0},
		} {
			if !form.ok {
				continue
			}
			if back, err := parseSize(form.text); err != nil || back != n {
				t.Errorf("parseSize(%q) = %d, but %q gives %d, %v", s, n, form.text, back, err)
			}
		}
		if b, err := parseBlockSize(s); (err == nil) != (n > 0 && n <= maxBlockSize) || (err == nil && b != n) {
			t.Errorf("parseBlockSize(%q) = %d, %v for size %d", s, b, err, n)
		}
	})
}
