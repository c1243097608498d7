// Package redact removes secrets (SAS signatures, account keys, function keys,
// bearer tokens) from URLs and free text, so they can appear in errors, logs and
// progress output. It is shared by the CLI, the REST client and the transfer engine
// so that all of them agree on what is safe to show.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces every secret value.
const Mask = "REDACTED"

// safeQueryKeys are SAS fields that grant nothing and help a person debug a URL:
// the service version, resource, permissions, start, expiry, protocol and the API
// version. Every other query value may be (or become) a credential.
var safeQueryKeys = map[string]bool{
	"sv": true, "sr": true, "sp": true, "st": true, "se": true, "spr": true, "api-version": true,
}

// URL renders u without user info and with every query value but the safe SAS
// fields replaced by Mask.
func URL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	q := c.Query()
	for k, vs := range q {
		if safeQueryKeys[strings.ToLower(k)] {
			continue
		}
		for i := range vs {
			vs[i] = Mask
		}
	}
	c.RawQuery = q.Encode()
	return String(c.String())
}

// secretPatterns find credentials in text that may not parse as a URL at all (a
// mistyped argument, an SDK error quoting a request, a connection string).
var secretPatterns = []*regexp.Regexp{
	// key=value pairs of SAS tokens, function keys and connection strings; the value
	// runs to the next separator. The key may be percent-encoded or mixed-case.
	regexp.MustCompile(`(?i)\b(sig|code|accountkey|sharedaccesssignature|sharedaccesskey|x-functions-key|skoid|sktid|sks|skv|token|access_token|client_secret)(=|%3d|:\s*)([^&;\s"'<>]*)`),
	// Authorization headers and bearer tokens.
	regexp.MustCompile(`(?i)\b(bearer)(\s+)([A-Za-z0-9\-._~+/]+=*)`),
}

// String replaces every credential value that text contains by Mask.
func String(text string) string {
	for _, p := range secretPatterns {
		text = p.ReplaceAllStringFunc(text, func(m string) string {
			sub := p.FindStringSubmatch(m)
			if sub[3] == "" || sub[3] == Mask {
				return m
			}
			return sub[1] + sub[2] + Mask
		})
	}
	return text
}

// Error wraps err so that its message passes through String; errors.Is and
// errors.As still see the original.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return redactedError{err}
}

type redactedError struct{ err error }

func (e redactedError) Error() string { return String(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }
