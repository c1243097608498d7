package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// signingAlgs are the asymmetric algorithms a token may be signed with. HMAC ones
// are left out on purpose: with them a public key could be used as a shared secret.
var signingAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
}

// keySet is an oidc.KeySet that caches the issuer's keys and refetches them when a
// token names a key it does not know, at most once per refreshInterval: go-oidc's
// RemoteKeySet would refetch for every such token.
type keySet struct {
	url             string
	client          *http.Client
	now             func() time.Time
	refreshInterval time.Duration

	retryInterval time.Duration

	fetchMu   sync.Mutex // one fetch at a time; held across the request
	failed    time.Time  // when the last fetch failed; guarded by fetchMu
	lastError error      // that failure, nil after a success; guarded by fetchMu
	mu        sync.RWMutex
	keys      []jose.JSONWebKey
	fetched   time.Time // zero until the first successful fetch
}

// VerifySignature checks jwt's signature and returns its payload. go-oidc calls it
// after it has checked the algorithm against signingAlgs.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	payload, known := verifyWith(k.cached(), jws, kid)
	if payload != nil {
		return payload, nil
	}
	if known {
		// The key is one we have: a refetch would not change the verdict.
		return nil, errors.New("signature does not verify")
	}
	if err := k.refresh(ctx); err != nil {
		reportFetchError(ctx, err)
		return nil, err
	}
	if payload, _ := verifyWith(k.cached(), jws, kid); payload != nil {
		return payload, nil
	}
	return nil, fmt.Errorf("no published key verifies the signature (kid %q)", kid)
}

// verifyWith tries the keys named kid (every key when kid is empty). known says
// whether some key carried that ID.
func verifyWith(keys []jose.JSONWebKey, jws *jose.JSONWebSignature, kid string) (payload []byte, known bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		known = known || kid != ""
		if p, err := jws.Verify(&keys[i]); err == nil {
			return p, true
		}
	}
	return nil, known
}

func (k *keySet) cached() []jose.JSONWebKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys
}

// refresh fetches the keys unless the last fetch is younger than refreshInterval; a
// caller that waited for another's fetch then finds the keys already fresh. After a
// failed fetch it waits retryInterval before trying again, so that an issuer outage
// does not turn every request with an unknown key into a request to the issuer.
func (k *keySet) refresh(ctx context.Context) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.RLock()
	last := k.fetched
	k.mu.RUnlock()
	now := k.now()
	if !last.IsZero() && now.Sub(last) < k.refreshInterval {
		return nil
	}
	if k.lastError != nil && now.Sub(k.failed) < k.retryInterval {
		return k.lastError
	}
	keys, err := k.fetch(context.WithoutCancel(ctx))
	if err != nil {
		k.failed, k.lastError = now, fmt.Errorf("%w: fetching keys: %w", ErrUnavailable, err)
		return k.lastError
	}
	k.lastError = nil
	k.mu.Lock()
	k.keys, k.fetched = keys, k.now()
	k.mu.Unlock()
	return nil
}

// fetchErrorKey carries a *error through go-oidc, which flattens the errors of
// VerifySignature with %v: Verify needs to tell an unreachable key endpoint (503)
// from a bad token (401).
type fetchErrorKey struct{}

func withFetchErrorSlot(ctx context.Context) (context.Context, *error) {
	slot := new(error)
	return context.WithValue(ctx, fetchErrorKey{}, slot), slot
}

func reportFetchError(ctx context.Context, err error) {
	if slot, ok := ctx.Value(fetchErrorKey{}).(*error); ok {
		*slot = err
	}
}
