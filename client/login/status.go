package login

import (
	"context"
	"encoding/json"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// StatusReport describes the remembered login, for `spool login status`.
type StatusReport struct {
	ServerURL string
	Method    Method
	// SignedIn says whether a token could be had without prompting; Err says why not.
	SignedIn bool
	Err      error
	// From the token, for display only (the server verifies it; the CLI does not):
	// who it names, their roles and when it expires.
	Name      string
	ObjectID  string
	Roles     []string
	ExpiresOn time.Time
}

// Status loads the login remembered at file (empty: DefaultConfigPath) and tries to
// get a token without prompting. It fails only when nothing usable is remembered.
func Status(ctx context.Context, file string) (StatusReport, error) {
	s, err := Load(file)
	if err != nil {
		return StatusReport{}, err
	}
	return s.Status(ctx), nil
}

// Status describes the session from a token it gets now (the one it holds, where
// its credential keeps one).
func (s *Session) Status(ctx context.Context) StatusReport {
	r := StatusReport{ServerURL: s.Config.ServerURL, Method: s.Config.Method}
	tok, err := s.Token(ctx)
	if err != nil {
		r.Err = err
		return r
	}
	r.SignedIn, r.ExpiresOn = true, tok.ExpiresOn
	r.Name, r.ObjectID, r.Roles = describeToken(tok.Token)
	return r
}

// describeToken reads the claims of a token without verifying it: only to show the
// user who they are signed in as. A token that is not a JWT shows nothing.
func describeToken(raw string) (name, objectID string, roles []string) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256, jose.ES384,
	})
	if err != nil {
		return "", "", nil
	}
	var c struct {
		PreferredUsername string   `json:"preferred_username"`
		UPN               string   `json:"upn"`
		AppID             string   `json:"appid"`
		AuthorizedParty   string   `json:"azp"`
		ObjectID          string   `json:"oid"`
		Roles             []string `json:"roles"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c) != nil {
		return "", "", nil
	}
	for _, n := range []string{c.PreferredUsername, c.UPN, c.AuthorizedParty, c.AppID} {
		if n != "" {
			return n, c.ObjectID, c.Roles
		}
	}
	return "", c.ObjectID, c.Roles
}
