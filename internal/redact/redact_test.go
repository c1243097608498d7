package redact

import (
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"testing"
)

func TestURLKeepsOnlyHarmlessSASFields(t *testing.T) {
	u, _ := url.Parse("https://user:pw@acct.blob.core.windows.net/c?sv=2023-01-03&sp=rc&se=2026-01-01T00%3A00%3A00Z&sig=c2VjcmV0&skoid=abc&code=fnkey")
	got := URL(u)
	for _, secret := range []string{"c2VjcmV0", "abc", "fnkey", "user", "pw"} {
		if strings.Contains(got, secret) {
			t.Errorf("URL() = %q still shows %q", got, secret)
		}
	}
	for _, keep := range []string{"sv=2023-01-03", "sp=rc", "se=2026"} {
		if !strings.Contains(got, keep) {
			t.Errorf("URL() = %q lost %q", got, keep)
		}
	}
}

func TestStringScrubsSecretsInTextThatIsNoURL(t *testing.T) {
	cases := map[string]string{
		"leading space":     ` http://h/c?sv=1&sig=SECRET1`,
		"one slash":         `http:/h/c?sig=SECRET1&sp=r`,
		"no colon":          `http//h/c?se=x&sig=SECRET1`,
		"encoded equals":    `http://h/c?sig%3DSECRET1`,
		"upper case key":    `http://h/c?SIG=SECRET1`,
		"function key":      `http://h/api/buffers?code=SECRET1`,
		"connection string": `DefaultEndpointsProtocol=http;AccountName=a;AccountKey=SECRET1==;BlobEndpoint=x`,
		"header":            `x-functions-key: SECRET1`,
		"bearer":            `Authorization: Bearer SECRET1.abc.def`,
		"quoted in error":   `parse "http://h/c?sig=SECRET1": invalid character " " in host name`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if got := String(in); strings.Contains(got, "SECRET1") {
				t.Errorf("String(%q) = %q", in, got)
			}
		})
	}
}

func TestStringLeavesOrdinaryTextAlone(t *testing.T) {
	in := "buffer abc does not exist (sp=r, se=2026-01-01)"
	if got := String(in); got != in {
		t.Errorf("String(%q) = %q", in, got)
	}
}

func TestErrorRedactsMessageButKeepsChain(t *testing.T) {
	err := Error(errors.Join(fs.ErrNotExist, errors.New("GET http://h/c?sig=SECRET1")))
	if strings.Contains(err.Error(), "SECRET1") {
		t.Errorf("Error() = %q", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is lost the wrapped error")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}
