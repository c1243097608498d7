package auth

import (
	"context"
	"slices"
)

// Principal is who a verified token names.
type Principal struct {
	// Subject is `sub`; ObjectID is Entra's `oid`, the stable ID of the user or
	// service principal across applications; TenantID is `tid`.
	Subject  string
	ObjectID string
	TenantID string
	// AppID is the client application the token was issued to: `azp` (v2 tokens) or
	// `appid` (v1 tokens).
	AppID string
	// Name is `preferred_username` (v2) or `upn` (v1); empty for applications.
	Name string
	// Roles are the token's `roles`, as issued.
	Roles []string
}

// tokenClaims are the claims read besides the ones go-oidc checks.
type tokenClaims struct {
	Expiry            *float64 `json:"exp"`
	NotBefore         *float64 `json:"nbf"`
	ObjectID          string   `json:"oid"`
	TenantID          string   `json:"tid"`
	AuthorizedParty   string   `json:"azp"`
	AppID             string   `json:"appid"`
	PreferredUsername string   `json:"preferred_username"`
	UPN               string   `json:"upn"`
	Roles             []string `json:"roles"`
}

func (c tokenClaims) principal(subject string) *Principal {
	p := &Principal{
		Subject:  subject,
		ObjectID: c.ObjectID,
		TenantID: c.TenantID,
		AppID:    c.AuthorizedParty,
		Name:     c.PreferredUsername,
		Roles:    slices.Clone(c.Roles),
	}
	if p.AppID == "" {
		p.AppID = c.AppID
	}
	if p.Name == "" {
		p.Name = c.UPN
	}
	return p
}

type principalKey struct{}

// ContextWithPrincipal returns ctx carrying p; the middleware does this for every
// verified request, and handler tests may do it to act as a signed-in caller.
func ContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the middleware stored in ctx, if any.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
