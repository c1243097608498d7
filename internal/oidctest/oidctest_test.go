package oidctest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestDiscoveryNamesTheIssuerAndItsKeys(t *testing.T) {
	iss := Start(t)
	if !strings.HasPrefix(iss.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %s is not loopback", iss.URL)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, iss.URL+"/.well-known/openid-configuration", &doc)
	if doc.Issuer != iss.URL || doc.JWKSURI != iss.JWKSURL() || iss.DiscoveryFetches() != 1 {
		t.Fatalf("discovery %+v, fetches %d", doc, iss.DiscoveryFetches())
	}
}

func publishedKeys(t *testing.T, iss *Issuer) *jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	if code := getJSON(t, iss.JWKSURL(), &set); code != http.StatusOK {
		t.Fatalf("JWKS: %d", code)
	}
	return &set
}

func TestTokensVerifyWithThePublishedKeys(t *testing.T) {
	iss := Start(t)
	set := publishedKeys(t, iss)
	for _, alg := range []string{"RS256", "ES256"} {
		tok := iss.SignedToken(t, iss.Claims("aud"), Signing{Alg: alg})
		jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		keys := set.Key(jws.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("%s: kid %q not published", alg, jws.Signatures[0].Header.KeyID)
		}
		if _, err := jws.Verify(keys[0]); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	if iss.JWKSFetches() != 1 {
		t.Errorf("JWKS fetches %d, want 1", iss.JWKSFetches())
	}
}

func TestForeignKeyTokensDoNotVerify(t *testing.T) {
	iss := Start(t)
	set := publishedKeys(t, iss)
	tok := iss.SignedToken(t, iss.Claims("aud"), Signing{ForeignKey: true})
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(set.Key(iss.RSAKeyID())[0]); err == nil {
		t.Error("a token signed by a foreign key verified")
	}
}

func TestAlgNoneTokensHaveAnEmptySignature(t *testing.T) {
	iss := Start(t)
	tok := iss.SignedToken(t, iss.Claims("aud"), Signing{Alg: "none"})
	if parts := strings.Split(tok, "."); len(parts) != 3 || parts[2] != "" {
		t.Fatalf("token %q", tok)
	}
}

func TestRotationReplacesOrKeepsKeys(t *testing.T) {
	iss := Start(t)
	first := iss.RSAKeyID()
	if err := iss.Rotate(true); err != nil {
		t.Fatal(err)
	}
	if n := len(publishedKeys(t, iss).Key(first)); n != 1 || iss.RSAKeyID() == first {
		t.Fatalf("after a keeping rotation the old key is published %d times, new kid %s", n, iss.RSAKeyID())
	}
	if err := iss.Rotate(false); err != nil {
		t.Fatal(err)
	}
	if set := publishedKeys(t, iss); len(set.Key(first)) != 0 || len(set.Keys) != 2 {
		t.Fatalf("after a replacing rotation %d keys are published", len(set.Keys))
	}
}

func TestSetDownAnswers503(t *testing.T) {
	iss := Start(t)
	iss.SetDown(true)
	var v any
	if code := getJSON(t, iss.JWKSURL(), &v); code != http.StatusServiceUnavailable || iss.JWKSFetches() != 0 {
		t.Fatalf("down: %d, fetches %d", code, iss.JWKSFetches())
	}
}
