package auth

import (
	"net/url"
	"strings"
)

// Metadata is the body of GET /api/metadata: the API versions, and for a server that
// signs callers in, what Tyger's CLI needs to ask Entra ID for a token (scope
// `{audience}/.default` from `authority`, as public client `cliAppId`). Without an
// issuer only apiVersions is sent, which tells the CLI that no login is needed.
type Metadata struct {
	Authority    string   `json:"authority,omitempty"`
	Audience     string   `json:"audience,omitempty"`
	ServerAppURI string   `json:"serverAppUri,omitempty"`
	CLIAppID     string   `json:"cliAppId,omitempty"`
	RBACEnabled  bool     `json:"rbacEnabled,omitempty"`
	APIVersions  []string `json:"apiVersions"`
}

// MetadataFor describes a server configured with opts that serves apiVersions.
func MetadataFor(opts Options, apiVersions []string) Metadata {
	m := Metadata{APIVersions: apiVersions}
	if !opts.Enabled() {
		return m
	}
	m.Authority = opts.Authority
	if m.Authority == "" {
		m.Authority = authorityOf(opts.Issuers[0])
	}
	m.ServerAppURI = opts.ServerAppURI
	if m.ServerAppURI == "" && len(opts.Audiences) > 0 {
		m.ServerAppURI = opts.Audiences[0]
	}
	m.Audience = m.ServerAppURI
	m.CLIAppID = opts.CLIAppID
	m.RBACEnabled = true
	return m
}

// authorityOf derives the Entra ID authority (https://login.microsoftonline.com/<tenant>)
// from a v2 issuer (…/<tenant>/v2.0) or a v1 one (https://sts.windows.net/<tenant>/);
// any other issuer is its own authority.
func authorityOf(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return issuer
	}
	path := strings.Trim(u.Path, "/")
	switch {
	case u.Host == "login.microsoftonline.com" && strings.HasSuffix(path, "/v2.0"):
		return "https://login.microsoftonline.com/" + strings.TrimSuffix(path, "/v2.0")
	case u.Host == "sts.windows.net" && path != "" && !strings.Contains(path, "/"):
		return "https://login.microsoftonline.com/" + path
	}
	return strings.TrimSuffix(issuer, "/")
}
