package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Claims is a fresh claim set such as the issuer puts in an access token for
// audience: iss, aud, sub, oid, tid, azp, iat, nbf, exp one hour ahead, ver "2.0",
// and roles when any are given. Tests change or delete entries before minting.
func (i *Issuer) Claims(audience string, roles ...string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": i.URL,
		"aud": audience,
		"sub": "subject-1",
		"oid": "00000000-0000-0000-0000-0000000000a1",
		"tid": "00000000-0000-0000-0000-0000000000t1",
		"azp": "00000000-0000-0000-0000-0000000000c1",
		"ver": "2.0",
		"iat": now.Unix(),
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if len(roles) > 0 {
		c["roles"] = roles
	}
	return c
}

// Signing chooses how a token is signed; the zero value is RS256 with the current
// RSA key under its own key ID.
type Signing struct {
	// Alg is "RS256" (default), "ES256" (the current EC key), "none" (no signature)
	// or "HS256" keyed with the PEM of the RSA public key: the algorithm-confusion
	// attack on verifiers that trust the header's alg.
	Alg string
	// KeyID replaces the `kid` header when not empty; OmitKeyID leaves it out.
	KeyID     string
	OmitKeyID bool
	// ForeignKey signs with a fresh key the issuer never published, still under the
	// current key's ID: a forged signature.
	ForeignKey bool
}

// Token mints an RS256 token over claims with the current RSA key.
func (i *Issuer) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	return i.SignedToken(t, claims, Signing{})
}

// SignedToken mints a token over claims as s says.
func (i *Issuer) SignedToken(t testing.TB, claims map[string]any, s Signing) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("encoding claims: %v", err)
	}
	tok, err := i.sign(payload, s)
	if err != nil {
		t.Fatalf("minting token: %v", err)
	}
	return tok
}

func (i *Issuer) sign(payload []byte, s Signing) (string, error) {
	alg, key, kid, err := i.signingKey(s)
	if err != nil {
		return "", err
	}
	if s.KeyID != "" {
		kid = s.KeyID
	}
	if s.OmitKeyID {
		kid = ""
	}
	if alg == "none" {
		return unsigned(payload, kid)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		return "", fmt.Errorf("making %s signer: %w", alg, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return jws.CompactSerialize()
}

// signingKey picks the algorithm, private key and key ID for s.
func (i *Issuer) signingKey(s Signing) (jose.SignatureAlgorithm, any, string, error) {
	i.mu.Lock()
	rsaKey, ecKey, gen := i.rsaKey, i.ecKey, i.generation
	i.mu.Unlock()
	rsaKID, ecKID := fmt.Sprintf("rsa-%d", gen), fmt.Sprintf("ec-%d", gen)
	switch s.Alg {
	case "", "RS256":
		if s.ForeignKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			return jose.RS256, k, rsaKID, err
		}
		return jose.RS256, rsaKey, rsaKID, nil
	case "ES256":
		if s.ForeignKey {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			return jose.ES256, k, ecKID, err
		}
		return jose.ES256, ecKey, ecKID, nil
	case "HS256":
		der, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		return jose.HS256, pemKey, rsaKID, err
	case "none":
		return "none", nil, rsaKID, nil
	}
	return "", nil, "", fmt.Errorf("unknown signing algorithm %q", s.Alg)
}

// unsigned builds an `alg: none` token, which no JOSE library will sign.
func unsigned(payload []byte, kid string) (string, error) {
	header := map[string]string{"alg": "none", "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(payload) + ".", nil
}
