package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// Verifier checks bearer tokens. It discovers an issuer on first use, not in New, so
// that the handler can listen before the issuer answers; a failed discovery is
// retried on a later request, at most once per Options.DiscoveryRetry.
type Verifier struct {
	opts    Options
	issuers []*issuer
}

// issuer is one accepted issuer and, once discovered, the verifier of its tokens.
type issuer struct {
	url string

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
	v := &Verifier{opts: opts.withDefaults()}
	for _, url := range opts.Issuers {
		v.issuers = append(v.issuers, &issuer{url: url})
	}
	return v, nil
}

// Verify checks raw, a compact JWT, and returns who it names. An error wrapping
// ErrUnavailable means the issuer could not be reached; any other error means the
// token is not acceptable.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	iss, err := v.issuerOf(raw)
	if err != nil {
		return nil, err
	}
	idv, err := iss.tokenVerifier(ctx, v.opts)
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
	errOtherIssuer   = errors.New("the token is issued by an issuer this server does not accept")
)

// issuerOf picks the accepted issuer the token names, reading `iss` before the
// signature is checked only to know whose keys must check it. Tokens of other issuers
// never cause a request.
func (v *Verifier) issuerOf(raw string) (*issuer, error) {
	jws, err := jose.ParseSignedCompact(raw, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		return nil, fmt.Errorf("malformed token claims: %w", err)
	}
	for _, iss := range v.issuers {
		if iss.url == claims.Issuer {
			return iss, nil
		}
	}
	return nil, errOtherIssuer
}

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

// tokenVerifier returns the go-oidc verifier of the issuer, discovering it if that
// has not succeeded yet.
func (is *issuer) tokenVerifier(ctx context.Context, opts Options) (*oidc.IDTokenVerifier, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.verifier != nil {
		return is.verifier, nil
	}
	now := opts.Now()
	if !is.lastTry.IsZero() && now.Sub(is.lastTry) < opts.DiscoveryRetry {
		return nil, is.lastError
	}
	is.lastTry = now
	idv, err := discover(ctx, opts, is.url)
	if err != nil {
		is.lastError = fmt.Errorf("%w: discovering %s: %w", ErrUnavailable, is.url, err)
		opts.Logger.Warn("OIDC discovery failed", "issuer", is.url, "err", err)
		return nil, is.lastError
	}
	is.verifier = idv
	return idv, nil
}

// discover reads the issuer's discovery document (go-oidc checks that it names the
// same issuer) and builds a verifier over its keys.
func discover(ctx context.Context, opts Options, issuerURL string) (*oidc.IDTokenVerifier, error) {
	// A caller that hangs up must not leave a failure behind for everyone else.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultFetchTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, opts.HTTPClient), issuerURL)
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
	keys := &keySet{url: doc.JWKSURL, client: opts.HTTPClient, now: opts.Now, refreshInterval: opts.KeyRefreshInterval,
		retryInterval: opts.DiscoveryRetry}
	algs := make([]string, len(signingAlgs))
	for i, a := range signingAlgs {
		algs[i] = string(a)
	}
	return oidc.NewVerifier(doc.Issuer, keys, &oidc.Config{
		SkipClientIDCheck:    true, // Verify checks the audience against a list
		SupportedSigningAlgs: algs,
		// Expiry is checked in checkTimes with the configured skew; go-oidc's own check
		// runs on a clock set back by that skew, so it never refuses first.
		Now: func() time.Time { return opts.Now().Add(-opts.ClockSkew) },
	}), nil
}
