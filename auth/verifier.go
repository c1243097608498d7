package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Verifier checks bearer tokens. It discovers the issuer on first use, not in New, so
// that the handler can listen before the issuer answers; a failed discovery is
// retried on a later request, at most once per Options.DiscoveryRetry.
type Verifier struct {
	opts Options

	mu        sync.Mutex // guards the fields below; held during discovery
	verifier  *oidc.IDTokenVerifier
	lastTry   time.Time
	lastError error
}

// New checks opts and returns a Verifier; it makes no request yet.
func New(opts Options) (*Verifier, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Verifier{opts: opts.withDefaults()}, nil
}

// Verify checks raw, a compact JWT, and returns who it names. An error wrapping
// ErrUnavailable means the issuer could not be reached; any other error means the
// token is not acceptable.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	idv, err := v.tokenVerifier(ctx)
	if err != nil {
		return nil, err
	}
	ctx, fetchErr := withFetchErrorSlot(ctx)
	tok, err := idv.Verify(ctx, raw)
	if *fetchErr != nil {
		return nil, *fetchErr
	}
	if err != nil {
		return nil, err
	}
	var c tokenClaims
	if err := tok.Claims(&c); err != nil {
		return nil, fmt.Errorf("reading claims: %w", err)
	}
	if err := v.checkTimes(c); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(v.opts.Audiences, a) }) {
		return nil, errWrongAudience
	}
	return c.principal(tok.Subject), nil
}

var (
	errWrongAudience = errors.New("the token is not issued for this server's audience")
	errNotYetValid   = errors.New("the token is not valid yet (nbf)")
	errExpired       = errors.New("the token has expired")
)

// checkTimes applies ClockSkew to exp and nbf. go-oidc checks exp without leeway
// (shifted by tokenVerifier's clock) and nbf with a fixed five minutes; this check is
// the one that holds.
func (v *Verifier) checkTimes(c tokenClaims) error {
	now := v.opts.Now()
	if c.Expiry == nil {
		return errors.New("the token has no expiry (exp)")
	}
	if now.Add(-v.opts.ClockSkew).After(time.Unix(int64(*c.Expiry), 0)) {
		return errExpired
	}
	if c.NotBefore != nil && now.Add(v.opts.ClockSkew).Before(time.Unix(int64(*c.NotBefore), 0)) {
		return errNotYetValid
	}
	return nil
}

// tokenVerifier returns the go-oidc verifier, discovering the issuer if that has not
// succeeded yet.
func (v *Verifier) tokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	now := v.opts.Now()
	if !v.lastTry.IsZero() && now.Sub(v.lastTry) < v.opts.DiscoveryRetry {
		return nil, v.lastError
	}
	v.lastTry = now
	idv, err := v.discover(ctx)
	if err != nil {
		v.lastError = fmt.Errorf("%w: discovering %s: %w", ErrUnavailable, v.opts.Issuer, err)
		v.opts.Logger.Warn("OIDC discovery failed", "issuer", v.opts.Issuer, "err", err)
		return nil, v.lastError
	}
	v.verifier = idv
	return idv, nil
}

// discover reads the issuer's discovery document (go-oidc checks that it names the
// same issuer) and builds a verifier over its keys.
func (v *Verifier) discover(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	// A caller that hangs up must not leave a failure behind for everyone else.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultFetchTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, v.opts.HTTPClient), v.opts.Issuer)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURL string `json:"jwks_uri"`
	}
	if err := provider.Claims(&doc); err != nil {
		return nil, fmt.Errorf("reading discovery document: %w", err)
	}
	if err := checkFetchURL("jwks_uri", doc.JWKSURL); err != nil {
		return nil, err
	}
	keys := &keySet{url: doc.JWKSURL, client: v.opts.HTTPClient, now: v.opts.Now, refreshInterval: v.opts.KeyRefreshInterval,
		retryInterval: v.opts.DiscoveryRetry}
	algs := make([]string, len(signingAlgs))
	for i, a := range signingAlgs {
		algs[i] = string(a)
	}
	return oidc.NewVerifier(doc.Issuer, keys, &oidc.Config{
		SkipClientIDCheck:    true, // Verify checks the audience against a list
		SupportedSigningAlgs: algs,
		// Expiry is checked in checkTimes with the configured skew; go-oidc's own check
		// runs on a clock set back by that skew, so it never refuses first.
		Now: func() time.Time { return v.opts.Now().Add(-v.opts.ClockSkew) },
	}), nil
}
