// Package auth verifies bearer tokens and maps their roles to what a caller may do.
//
// A Verifier checks the JWT in `Authorization: Bearer` against an OpenID Connect
// issuer (Entra ID in a deployment, internal/oidctest in tests): its signature with
// the issuer's published keys, its issuer, audience and lifetime. The token's `roles`
// claim (reader, contributor, owner) decides which Permissions the caller holds.
package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Environment variables read by FromEnv.
const (
	EnvIssuer       = "SPOOL_AUTH_ISSUER"
	EnvAudience     = "SPOOL_AUTH_AUDIENCE"
	EnvAuthority    = "SPOOL_AUTH_AUTHORITY"
	EnvServerAppURI = "SPOOL_AUTH_SERVER_APP_URI"
	EnvCLIAppID     = "SPOOL_AUTH_CLI_APP_ID"
)

// Defaults for the zero values of Options.
const (
	DefaultClockSkew          = time.Minute
	DefaultKeyRefreshInterval = 5 * time.Minute
	DefaultDiscoveryRetry     = 10 * time.Second
	DefaultFetchTimeout       = 10 * time.Second
)

// Options configures a Verifier.
type Options struct {
	// Issuers are the accepted OIDC issuer identifiers, e.g.
	// https://login.microsoftonline.com/<tenant>/v2.0; a token must carry one as
	// `iss`, exactly. Each one's discovery document is at
	// {issuer}/.well-known/openid-configuration. Entra ID issues v1 tokens
	// (https://sts.windows.net/<tenant>/) or v2 ones by the API app's
	// requestedAccessTokenVersion, so a deployment may list both. Plain http is
	// accepted only for a loopback host (tests).
	Issuers []string
	// Audiences are the accepted `aud` values; a token must name at least one. Entra
	// uses both api://<app-id> and the bare app ID, so list both.
	Audiences []string
	// Authority, ServerAppURI and CLIAppID are only served in Metadata for Tyger's
	// CLI. Authority defaults to the Entra authority derived from Issuer and
	// ServerAppURI to the first audience.
	Authority    string
	ServerAppURI string
	CLIAppID     string
	// ClockSkew is how far exp and nbf may be off; 0 means DefaultClockSkew.
	ClockSkew time.Duration
	// KeyRefreshInterval is the least time between two JWKS fetches caused by a token
	// naming an unknown key, so that random key IDs cannot hammer the issuer; 0 means
	// DefaultKeyRefreshInterval.
	KeyRefreshInterval time.Duration
	// DiscoveryRetry is the least time between two failed attempts to fetch the
	// discovery document or the keys; 0 means DefaultDiscoveryRetry.
	DiscoveryRetry time.Duration
	// HTTPClient fetches discovery and keys; nil means a client with
	// DefaultFetchTimeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives why tokens were refused (never the tokens); nil discards.
	Logger *slog.Logger
}

// FromEnv reads Options from SPOOL_AUTH_* variables through getenv (os.Getenv in
// production); SPOOL_AUTH_ISSUER and SPOOL_AUTH_AUDIENCE are comma-separated lists. With SPOOL_AUTH_ISSUER unset it returns zero Options, whose Enabled is
// false: the deployment signs nobody in.
func FromEnv(getenv func(string) string) (Options, error) {
	opts := Options{
		Issuers:      commaList(getenv(EnvIssuer)),
		Audiences:    commaList(getenv(EnvAudience)),
		Authority:    strings.TrimSpace(getenv(EnvAuthority)),
		ServerAppURI: strings.TrimSpace(getenv(EnvServerAppURI)),
		CLIAppID:     strings.TrimSpace(getenv(EnvCLIAppID)),
	}
	if !opts.Enabled() {
		if len(opts.Audiences) > 0 {
			return Options{}, fmt.Errorf("%s is set but %s is not: name the token issuer", EnvAudience, EnvIssuer)
		}
		return Options{}, nil
	}
	if err := opts.Validate(); err != nil {
		return Options{}, err
	}
	return opts, nil
}

func commaList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Enabled says whether an issuer is configured.
func (o Options) Enabled() bool { return len(o.Issuers) > 0 }

// Validate refuses an issuer that is not an absolute https URL (http only on
// loopback) and a missing audience.
func (o Options) Validate() error {
	if len(o.Issuers) == 0 {
		return fmt.Errorf("%s is empty: name the token issuer(s), comma-separated", EnvIssuer)
	}
	for _, iss := range o.Issuers {
		if err := checkFetchURL("issuer "+EnvIssuer, iss); err != nil {
			return err
		}
	}
	if len(o.Audiences) == 0 {
		return fmt.Errorf("%s is empty: name the audience(s) tokens must be issued for, comma-separated", EnvAudience)
	}
	return nil
}

// checkFetchURL accepts https URLs, and http ones only for a loopback host, since keys
// fetched over plain http could be replaced by anyone on the path.
func checkFetchURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q is not an absolute URL without query or fragment", what, raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%s %q must use https: plain http is allowed only for a loopback host", what, raw)
	}
	return fmt.Errorf("%s %q must be an https URL", what, raw)
}

// refuseInsecureRedirect keeps the https rule on redirects of discovery and keys.
func refuseInsecureRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	return checkFetchURL("redirect", req.URL.String())
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withDefaults fills in the zero values.
func (o Options) withDefaults() Options {
	if o.ClockSkew <= 0 {
		o.ClockSkew = DefaultClockSkew
	}
	if o.KeyRefreshInterval <= 0 {
		o.KeyRefreshInterval = DefaultKeyRefreshInterval
	}
	if o.DiscoveryRetry <= 0 {
		o.DiscoveryRetry = DefaultDiscoveryRetry
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultFetchTimeout, CheckRedirect: refuseInsecureRedirect}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// ErrUnavailable marks a token that could not be checked because the issuer's
// discovery document or keys could not be fetched: a server problem, not the caller's.
var ErrUnavailable = errors.New("the token issuer is unavailable")
