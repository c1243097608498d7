package handler

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"spool/auth"
	"spool/internal/oidctest"
	"spool/internal/reliability"
)

// badToken is a way a request can fail to prove who sends it.
type badToken struct {
	name  string
	token func(t *testing.T, f *authFixture) string // "" sends no Authorization header
}

// owned claims are an owner's, so only the defect named makes the token fail.
func owned(f *authFixture, change func(c map[string]any)) map[string]any {
	c := f.iss.Claims(signInAudience, auth.RoleOwner)
	change(c)
	return c
}

var badTokens = []badToken{
	{"no token", func(*testing.T, *authFixture) string { return "" }},
	{"expired token", func(t *testing.T, f *authFixture) string {
		return f.iss.Token(t, owned(f, func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = unix(-3*time.Hour), unix(-3*time.Hour), unix(-2*time.Hour)
		}))
	}},
	{"token not valid yet", func(t *testing.T, f *authFixture) string {
		return f.iss.Token(t, owned(f, func(c map[string]any) { c["nbf"] = unix(time.Hour) }))
	}},
	{"token for another audience", func(t *testing.T, f *authFixture) string {
		return f.iss.Token(t, owned(f, func(c map[string]any) { c["aud"] = "api://someone-else" }))
	}},
	{"token naming another issuer", func(t *testing.T, f *authFixture) string {
		return f.iss.Token(t, owned(f, func(c map[string]any) { c["iss"] = "https://login.example.com/evil/v2.0" }))
	}},
	{"token of another real issuer", func(t *testing.T, f *authFixture) string {
		other := oidctest.Start(t)
		return other.Token(t, other.Claims(signInAudience, auth.RoleOwner))
	}},
	{"forged signature", func(t *testing.T, f *authFixture) string {
		return f.iss.SignedToken(t, owned(f, func(map[string]any) {}), oidctest.Signing{ForeignKey: true})
	}},
	{"unknown kid", func(t *testing.T, f *authFixture) string {
		return f.iss.SignedToken(t, owned(f, func(map[string]any) {}), oidctest.Signing{KeyID: "no-such-key"})
	}},
	{"alg none", func(t *testing.T, f *authFixture) string {
		return f.iss.SignedToken(t, owned(f, func(map[string]any) {}), oidctest.Signing{Alg: "none"})
	}},
	{"HS256 keyed with the public key", func(t *testing.T, f *authFixture) string {
		return f.iss.SignedToken(t, owned(f, func(map[string]any) {}), oidctest.Signing{Alg: "HS256"})
	}},
	{"garbage", func(*testing.T, *authFixture) string { return "not.a.jwt" }},
}

func unix(from time.Duration) int64 { return time.Now().Add(from).Unix() }

// TestBadTokensAre401OnEveryRouteAndChangeNothing sends each bad token to every
// route but metadata: 401 with a Bearer challenge, and the store (records and the
// audit trail) exactly as before.
func TestBadTokensAre401OnEveryRouteAndChangeNothing(t *testing.T) {
	f := newAuthFixture(t)
	owner := f.token(t, auth.RoleOwner)
	live, deleted := f.seed(t, owner, "attack", false), f.seed(t, owner, "attack", true)
	for _, bt := range badTokens {
		t.Run(bt.name, func(t *testing.T) {
			tok := bt.token(t, f)
			before := f.snapshot(t, live.ID, deleted.ID)
			tries := 0
			for _, rt := range roleRoutes {
				id := live.ID
				if rt.deleted {
					id = deleted.ID
				}
				path := strings.NewReplacer("{id}", id, "{tag}", "attack").Replace(rt.path)
				a := f.call(rt.method, path, rt.body, tok)
				tries++
				challenge := a.header.Get("WWW-Authenticate")
				if a.status != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Bearer ") {
					t.Errorf("%s %s with %s: %v (WWW-Authenticate %q), want 401 with a Bearer challenge",
						rt.method, path, bt.name, a, challenge)
				}
			}
			after := f.snapshot(t, live.ID, deleted.ID)
			if after != before {
				t.Errorf("%s changed the store:\nbefore\n%s\nafter\n%s", bt.name, before, after)
			}
			reliability.Record(t, reliability.Row{
				Area:    "access",
				Fault:   "bearer sign-in: " + bt.name + ", every route (real handler over Azurite)",
				Tries:   tries,
				Outcome: "every answer 401 with WWW-Authenticate: Bearer; records and audit trail unchanged",
			})
		})
	}
}

// TestMetadataAndTheTimerNeedNoToken: Tyger's CLI reads metadata before signing in,
// and the host's timer invocation carries no token.
func TestMetadataAndTheTimerNeedNoToken(t *testing.T) {
	f := newAuthFixture(t)
	if a := f.call(http.MethodGet, "/metadata", "", ""); a.status != http.StatusOK {
		t.Errorf("metadata without a token: %v", a)
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(f.base, "/api")+sweepPath, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if a := f.send(req); a.status != http.StatusOK {
		t.Errorf("timer invocation without a token: %v, want 200", a)
	}
}
