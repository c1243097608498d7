// Package oidctest runs a real OpenID Connect issuer on 127.0.0.1 for tests: a
// discovery document, a JWKS endpoint with RSA and EC keys that can be rotated, and a
// minter of access tokens, good ones and deliberately bad ones.
package oidctest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a running OIDC issuer. Its URL is the issuer identifier; tokens it mints
// carry it as `iss` unless told otherwise.
type Issuer struct {
	URL string

	srv  *http.Server
	done chan struct{}

	mu         sync.Mutex
	generation int
	rsaKey     *rsa.PrivateKey
	ecKey      *ecdsa.PrivateKey
	retired    []jose.JSONWebKey // still published after a rotation that keeps them

	down             atomic.Bool
	jwksURIOverride  atomic.Pointer[string]
	requests         atomic.Int64
	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
}

// Start runs an issuer on a free loopback port; it is stopped when t ends.
func Start(t testing.TB) *Issuer {
	t.Helper()
	iss, err := New()
	if err != nil {
		t.Fatalf("starting OIDC issuer: %v", err)
	}
	t.Cleanup(func() { _ = iss.Close() })
	return iss
}

// New runs an issuer on a free loopback port; Close stops it.
func New() (*Issuer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	iss := &Issuer{URL: "http://" + ln.Addr().String(), done: make(chan struct{})}
	if err := iss.Rotate(false); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.serveDiscovery)
	mux.HandleFunc("GET /keys", iss.serveJWKS)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iss.requests.Add(1)
		mux.ServeHTTP(w, r)
	})
	iss.srv = &http.Server{Handler: counted, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(iss.done)
		_ = iss.srv.Serve(ln)
	}()
	return iss, nil
}

// Close stops the issuer and waits for it to stop.
func (i *Issuer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := i.srv.Shutdown(ctx)
	<-i.done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// SetDown makes every endpoint answer 503 (true) or serve again (false), to play an
// issuer that is not reachable yet.
func (i *Issuer) SetDown(down bool) { i.down.Store(down) }

// Requests counts every request the issuer received, answered or not.
func (i *Issuer) Requests() int { return int(i.requests.Load()) }

// SetJWKSURI makes the discovery document name uri as jwks_uri ("" restores the
// issuer's own), to play an issuer that publishes its keys somewhere unsafe.
func (i *Issuer) SetJWKSURI(uri string) {
	if uri == "" {
		i.jwksURIOverride.Store(nil)
		return
	}
	i.jwksURIOverride.Store(&uri)
}

// JWKSFetches counts the requests the JWKS endpoint has answered with keys.
func (i *Issuer) JWKSFetches() int { return int(i.jwksFetches.Load()) }

// DiscoveryFetches counts the requests the discovery endpoint has answered.
func (i *Issuer) DiscoveryFetches() int { return int(i.discoveryFetches.Load()) }

// JWKSURL is where the issuer publishes its keys.
func (i *Issuer) JWKSURL() string { return i.URL + "/keys" }

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if i.down.Load() {
		http.Error(w, "issuer down", http.StatusServiceUnavailable)
		return
	}
	i.discoveryFetches.Add(1)
	jwksURI := i.JWKSURL()
	if o := i.jwksURIOverride.Load(); o != nil {
		jwksURI = *o
	}
	writeJSON(w, map[string]any{
		"issuer":                                i.URL,
		"jwks_uri":                              jwksURI,
		"authorization_endpoint":                i.URL + "/authorize",
		"token_endpoint":                        i.URL + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if i.down.Load() {
		http.Error(w, "issuer down", http.StatusServiceUnavailable)
		return
	}
	i.jwksFetches.Add(1)
	writeJSON(w, jose.JSONWebKeySet{Keys: i.publishedKeys()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Rotate replaces the signing keys with new ones under new key IDs. With keepOld the
// previous public keys stay published, as real issuers do during a rollover.
func (i *Issuer) Rotate(keepOld bool) error {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating RSA key: %w", err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating EC key: %w", err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if keepOld && i.rsaKey != nil {
		i.retired = append(i.retired, i.currentKeysLocked()...)
	} else {
		i.retired = nil
	}
	i.generation++
	i.rsaKey, i.ecKey = rsaKey, ecKey
	return nil
}

// RSAKeyID and ECKeyID name the current keys, as in their tokens' `kid`.
func (i *Issuer) RSAKeyID() string { return i.keyID("rsa") }

// ECKeyID names the current EC key.
func (i *Issuer) ECKeyID() string { return i.keyID("ec") }

func (i *Issuer) keyID(kind string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return fmt.Sprintf("%s-%d", kind, i.generation)
}

func (i *Issuer) publishedKeys() []jose.JSONWebKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append(i.currentKeysLocked(), i.retired...)
}

func (i *Issuer) currentKeysLocked() []jose.JSONWebKey {
	return []jose.JSONWebKey{
		{Key: i.rsaKey.Public(), KeyID: fmt.Sprintf("rsa-%d", i.generation), Algorithm: "RS256", Use: "sig"},
		{Key: i.ecKey.Public(), KeyID: fmt.Sprintf("ec-%d", i.generation), Algorithm: "ES256", Use: "sig"},
	}
}
