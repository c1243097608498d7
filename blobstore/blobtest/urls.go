package blobtest

import (
	"net/url"
	"strings"
	"testing"
)

// BlobAt turns a container SAS URL into the URL of one blob in it.
func BlobAt(t testing.TB, containerSAS, name string) string {
	t.Helper()
	u, err := url.Parse(containerSAS)
	if err != nil {
		t.Fatal(err)
	}
	u.Path += "/" + name
	return u.String()
}

// OtherContainer points a container SAS at another container, keeping the signature.
func OtherContainer(t testing.TB, containerSAS, from, to string) string {
	t.Helper()
	u, err := url.Parse(containerSAS)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = strings.Replace(u.Path, from, to, 1)
	return u.String()
}

// MustQuery parses raw's query.
func MustQuery(t testing.TB, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
