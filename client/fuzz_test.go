package client

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1", "1000", "512K", "16M", "1.5M", "4MiB", "1G", "10GB", "1T", "-1", "", " 7 ", "1e3", "9223372036854775807", "8E", "0.1K", "1KB1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if n != 0 {
				t.Errorf("ParseSize(%q) failed but returned %d", s, n)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, a negative size", s, n)
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
			if back, err := ParseSize(form.text); err != nil || back != n {
				t.Errorf("ParseSize(%q) = %d, but %q gives %d, %v", s, n, form.text, back, err)
			}
		}
		if b, err := ParseBlockSize(s); (err == nil) != (n > 0) || (err == nil && b != n) {
			t.Errorf("ParseBlockSize(%q) = %d, %v for size %d", s, b, err, n)
		}
	})
}

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

func FuzzResolveBuffer(f *testing.F) {
	for _, s := range []string{
		sasURL, testID, "https://acct.blob.core.windows.net/c?sp=r&sig=SECRETSIG%3D",
		"http://", "http:///c?sig=SECRETSIG", "ftp://h/c?sig=SECRETSIG", "https://h/c?sig=SECRETSIG&se=x%zz",
		"://x", "http://user:SECRETPASS@h/c?sig=SECRETSIG", "", ".", "/", strings.Repeat("a", 26), "aaaa\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if strings.ContainsRune(arg, 0) || strings.HasPrefix(arg, "/proc") || strings.HasPrefix(arg, "/dev") || strings.HasPrefix(arg, "/sys") {
			return // paths of special files say nothing about argument handling
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		src, err := ResolveBuffer(ctx, nil, arg, ResolveOptions{FileRefreshWait: time.Millisecond, FileRefreshTries: 1})
		secret := ""
		if u, perr := url.Parse(arg); perr == nil {
			secret = u.Query().Get("sig")
		}
		if err != nil {
			if src != nil {
				t.Errorf("ResolveBuffer(%q) gave a source and an error", arg)
			}
			// An argument that is not meant as a URL may be quoted back; a URL's
			// signature may not.
			if strings.Contains(arg, "://") && len(secret) >= 6 && strings.Contains(err.Error(), secret) && !strings.Contains(strings.SplitN(arg, "?", 2)[0], secret) {
				t.Errorf("the error for %q repeats the SAS signature: %v", arg, err)
			}
			return
		}
		u, err := src.URL(ctx)
		if err != nil {
			return // an ID source needs a server: not reached with a nil client
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Errorf("ResolveBuffer(%q) gave the unusable URL %s", arg, RedactURL(u))
		}
		redacted, err := url.Parse(RedactURL(u))
		if err != nil {
			t.Fatalf("RedactURL(%q) does not parse: %v", arg, err)
		}
		for k, vs := range redacted.Query() {
			for _, v := range vs {
				if k != "api-version" && k != "sp" && k != "se" && v != "REDACTED" {
					t.Errorf("RedactURL(%q) shows %s=%s", arg, k, v)
				}
			}
		}
		if redacted.User != nil {
			t.Errorf("RedactURL(%q) shows user info", arg)
		}
	})
}
