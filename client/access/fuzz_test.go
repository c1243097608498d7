package access

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"spool/internal/redact"
)

func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		sasURL, testID, "https://acct.blob.core.windows.net/c?sp=r&sig=SECRETSIG%3D",
		"http://", "http:///c?sig=SECRETSIG", "ftp://h/c?sig=SECRETSIG", "https://h/c?sig=SECRETSIG&se=x%zz",
		"://x", "http://user:SECRETPASS@h/c?sig=SECRETSIG",
		" http://h/c?sig=SECRETSIG", "http:/h/c?sig=SECRETSIG", "http//h/c?sig=SECRETSIG", "http://h/my c?sig=SECRETSIG", "abc?sig=SECRETSIG", "", ".", "/", strings.Repeat("a", 26), "aaaa\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if strings.ContainsRune(arg, 0) || strings.HasPrefix(arg, "/proc") || strings.HasPrefix(arg, "/dev") || strings.HasPrefix(arg, "/sys") {
			return // paths of special files say nothing about argument handling
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		src, err := Resolve(ctx, nil, arg, Options{FileRefreshWait: time.Millisecond, FileRefreshTries: 1})
		secret := ""
		if u, perr := url.Parse(arg); perr == nil {
			secret = u.Query().Get("sig")
		}
		if m := sigValue.FindStringSubmatch(arg); m != nil && secret == "" {
			secret = m[1] // a mistyped URL: its signature is just as secret
		}
		if err != nil {
			if src != nil {
				t.Errorf("Resolve(%q) gave a source and an error", arg)
			}
			// An argument that is not meant as a URL may be quoted back; a URL's
			// signature may not.
			if len(secret) >= 6 && strings.Contains(err.Error(), secret) && !strings.Contains(strings.SplitN(arg, "?", 2)[0], secret) {
				t.Errorf("the error for %q repeats the SAS signature: %v", arg, err)
			}
			return
		}
		u, err := src.URL(ctx)
		if err != nil {
			return // an ID source needs a server: not reached with a nil client
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Errorf("Resolve(%q) gave the unusable URL %s", arg, redact.URL(u))
		}
		redacted, err := url.Parse(redact.URL(u))
		if err != nil {
			t.Fatalf("redact.URL(%q) does not parse: %v", arg, err)
		}
		for k, vs := range redacted.Query() {
			for _, v := range vs {
				// An empty value shows nothing (redact.String may rewrite a key such
				// as "SIG%3D" so that its mask lands in the key instead).
				if !harmlessSASFields[k] && v != redact.Mask && v != "" {
					t.Errorf("redact.URL(%q) shows %s=%s", arg, k, v)
				}
			}
		}
		if redacted.User != nil {
			t.Errorf("redact.URL(%q) shows user info", arg)
		}
	})
}

// sigValue finds a signature in text that need not parse as a URL.
var sigValue = regexp.MustCompile(`sig=([^&\s]+)`)

// harmlessSASFields are the query fields redact.URL may show: they grant nothing.
var harmlessSASFields = map[string]bool{"sv": true, "sr": true, "sp": true, "st": true, "se": true, "spr": true, "api-version": true}
