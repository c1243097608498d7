package auth

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"spool/internal/oidctest"
)

func TestEachRoleIsAllowedItsPermissionsAndRefusedTheRestWith403(t *testing.T) {
	f := newFixture(t)
	want := map[string][]Permission{
		"reader":      {ReadBuffers, ReadAccess},
		"contributor": {ReadBuffers, ReadAccess, CreateBuffers, UpdateBuffers, WriteAccess},
		"owner":       ownerPermissions,
		"none":        nil,
		"admin":       nil, // a role spool does not know grants nothing
	}
	for role, allowed := range want {
		t.Run(role, func(t *testing.T) {
			var roles []string
			if role != "none" {
				roles = []string{role}
			}
			tok := f.token(t, roles...)
			for _, perm := range ownerPermissions {
				rec := f.bearer("/p/"+string(perm), tok)
				if slices.Contains(allowed, perm) {
					if rec.Code != http.StatusOK {
						t.Errorf("%s: %d %s, want 200", perm, rec.Code, rec.Body)
					}
					continue
				}
				if rec.Code != http.StatusForbidden || errorCode(t, rec) != "Forbidden" {
					t.Errorf("%s: %d %s, want 403 Forbidden", perm, rec.Code, rec.Body)
				}
				if h := rec.Header().Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) {
					t.Errorf("%s: WWW-Authenticate %q, want insufficient_scope", perm, h)
				}
			}
		})
	}
}

func TestPermissionsOfListsWhatTheRolesGrant(t *testing.T) {
	got := PermissionsOf(&Principal{Roles: []string{"reader", "unknown"}})
	if !slices.Equal(got, []Permission{ReadBuffers, ReadAccess}) {
		t.Errorf("reader: %v", got)
	}
	if got := PermissionsOf(nil); got != nil {
		t.Errorf("nil principal: %v", got)
	}
}

func TestTheStrongestOfSeveralRolesApplies(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "reader", "owner")
	if rec := f.bearer("/p/"+string(BulkOperations), tok); rec.Code != http.StatusOK {
		t.Fatalf("reader+owner on bulk: %d %s", rec.Code, rec.Body)
	}
}

// badTokenCase is one way of sending a token that must be refused with 401.
type badTokenCase struct {
	name   string
	header func(t *testing.T, f *fixture) []string
	// wantError is the RFC 6750 error attribute; empty means none (no credentials).
	wantError string
}

func signed(change func(c map[string]any), s oidctest.Signing) func(*testing.T, *fixture) []string {
	return func(t *testing.T, f *fixture) []string {
		c := f.iss.Claims(testAudience, "owner")
		if change != nil {
			change(c)
		}
		return []string{"Bearer " + f.iss.SignedToken(t, c, s)}
	}
}

func literal(headers ...string) func(*testing.T, *fixture) []string {
	return func(*testing.T, *fixture) []string { return headers }
}

var badTokenCases = []badTokenCase{
	{"no Authorization header", literal(), ""},
	{"expired", signed(func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Minute).Unix() }, oidctest.Signing{}), "invalid_token"},
	{"without exp", signed(func(c map[string]any) { delete(c, "exp") }, oidctest.Signing{}), "invalid_token"},
	{"not yet valid", signed(func(c map[string]any) { c["nbf"] = time.Now().Add(10 * time.Minute).Unix() }, oidctest.Signing{}), "invalid_token"},
	{"wrong audience", signed(func(c map[string]any) { c["aud"] = "api://someone-else" }, oidctest.Signing{}), "invalid_token"},
	{"wrong issuer", signed(func(c map[string]any) { c["iss"] = "https://evil.example/" }, oidctest.Signing{}), "invalid_token"},
	{"RS256 signed by a foreign key", signed(nil, oidctest.Signing{ForeignKey: true}), "invalid_token"},
	{"ES256 signed by a foreign key", signed(nil, oidctest.Signing{Alg: "ES256", ForeignKey: true}), "invalid_token"},
	{"unknown kid", signed(nil, oidctest.Signing{KeyID: "no-such-key"}), "invalid_token"},
	{"alg none", signed(nil, oidctest.Signing{Alg: "none"}), "invalid_token"},
	{"alg none without kid", signed(nil, oidctest.Signing{Alg: "none", OmitKeyID: true}), "invalid_token"},
	{"HS256 keyed with the public key", signed(nil, oidctest.Signing{Alg: "HS256"}), "invalid_token"},
	{"garbage", literal("Bearer not-a-token"), "invalid_token"},
	{"three garbage parts", literal("Bearer aaa.bbb.ccc"), "invalid_token"},
	{"empty bearer", literal("Bearer "), "invalid_request"},
	{"JWS JSON serialization", literal(`Bearer {"payload":"e30","protected":"eyJhbGciOiJSUzI1NiJ9","signature":"AA"}`), "invalid_request"},
	{"Basic scheme", literal("Basic dXNlcjpwYXNz"), "invalid_request"},
	{"two tokens in one header", literal("Bearer a.b.c, Bearer d.e.f"), "invalid_request"},
	{"second Authorization header", func(t *testing.T, f *fixture) []string {
		tok := f.token(t, "owner")
		return []string{"Bearer " + tok, "Bearer " + tok}
	}, "invalid_request"},
}

func TestBadTokensAreRefusedWith401AndABearerChallenge(t *testing.T) {
	f := newFixture(t)
	for _, c := range badTokenCases {
		t.Run(c.name, func(t *testing.T) {
			headers := c.header(t, f)
			rec := f.do("/p/"+string(ReadBuffers), headers...)
			if rec.Code != http.StatusUnauthorized || errorCode(t, rec) != "Unauthorized" {
				t.Fatalf("%d %s, want 401 Unauthorized", rec.Code, rec.Body)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, `Bearer realm="spool"`) {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", challenge)
			}
			hasError := strings.Contains(challenge, "error=")
			if c.wantError == "" && hasError || c.wantError != "" && !strings.Contains(challenge, `error="`+c.wantError+`"`) {
				t.Errorf("WWW-Authenticate %q, want error %q", challenge, c.wantError)
			}
			for _, h := range headers {
				if tok := strings.TrimPrefix(h, "Bearer "); len(tok) > 8 && strings.Contains(rec.Body.String()+challenge, tok) {
					t.Errorf("the answer echoes the token")
				}
			}
		})
	}
	recordAccessFault(t, "bad bearer tokens: missing, expired, no exp, nbf ahead, wrong aud/iss, forged RS256/ES256, unknown kid, alg none, HS256 keyed with the public key, garbage, two headers",
		len(badTokenCases), fmt.Sprintf("%d×401 JSON with RFC 6750 challenge, no token echoed", len(badTokenCases)))
}

func TestSmallClockSkewIsTolerated(t *testing.T) {
	f := newFixture(t)
	cases := map[string]func(c map[string]any){
		"expired 30s ago":         func(c map[string]any) { c["exp"] = time.Now().Add(-30 * time.Second).Unix() },
		"valid from 30s from now": func(c map[string]any) { c["nbf"] = time.Now().Add(30 * time.Second).Unix() },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			c := f.iss.Claims(testAudience, "reader")
			change(c)
			if rec := f.bearer("/p/"+string(ReadBuffers), f.iss.Token(t, c)); rec.Code != http.StatusOK {
				t.Fatalf("%d %s, want 200 within DefaultClockSkew", rec.Code, rec.Body)
			}
		})
	}
}

func TestECTokensAreAccepted(t *testing.T) {
	f := newFixture(t)
	tok := f.iss.SignedToken(t, f.iss.Claims(testAudience, "reader"), oidctest.Signing{Alg: "ES256"})
	if rec := f.bearer("/p/"+string(ReadBuffers), tok); rec.Code != http.StatusOK {
		t.Fatalf("ES256: %d %s", rec.Code, rec.Body)
	}
}

func TestAnonymousRoutesNeedNoToken(t *testing.T) {
	f := newFixture(t)
	if rec := f.do("/api/metadata"); rec.Code != http.StatusOK {
		t.Fatalf("metadata: %d %s", rec.Code, rec.Body)
	}
	if f.iss.DiscoveryFetches() != 0 {
		t.Errorf("an anonymous request contacted the issuer")
	}
}

func TestRequireWithoutMiddlewareFailsClosed(t *testing.T) {
	h := Require(ReadBuffers)(http.HandlerFunc(echoPrincipal))
	f := &fixture{handler: h}
	rec := f.do("/")
	if rec.Code != http.StatusUnauthorized || errorCode(t, rec) != "Unauthorized" {
		t.Fatalf("%d %s, want 401", rec.Code, rec.Body)
	}
}

func TestCheckDecidesInsideAHandler(t *testing.T) {
	f := newFixture(t)
	h := func(w http.ResponseWriter, r *http.Request) {
		perm := ReadAccess
		if r.URL.Query().Get("writeable") == "true" {
			perm = WriteAccess
		}
		if Check(w, r, perm) {
			w.WriteHeader(http.StatusNoContent)
		}
	}
	v, err := New(Options{Issuers: []string{f.iss.URL}, Audiences: []string{testAudience}})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = v.Middleware(nil)(http.HandlerFunc(h))
	reader := f.token(t, "reader")
	if rec := f.bearer("/access", reader); rec.Code != http.StatusNoContent {
		t.Errorf("read access: %d", rec.Code)
	}
	if rec := f.bearer("/access?writeable=true", reader); rec.Code != http.StatusForbidden || errorCode(t, rec) != "Forbidden" {
		t.Errorf("write access as reader: %d %s", rec.Code, rec.Body)
	}
	if rec := f.bearer("/access?writeable=true", f.token(t, "contributor")); rec.Code != http.StatusNoContent {
		t.Errorf("write access as contributor: %d", rec.Code)
	}
}
