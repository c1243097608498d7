package auth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"spool/internal/oidctest"
)

func TestTygerShapedTokensAreAccepted(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name   string
		claims map[string]any
		want   Principal
		allow  Permission
		refuse Permission
	}{
		{
			name: "Entra v1 user token with owner",
			claims: map[string]any{"aud": testAudience, "ver": "1.0", "appid": "cli-app", "upn": "ada@example.com",
				"oid": "oid-1", "tid": "tenant-1", "roles": []string{"owner"}, "azp": nil},
			want:  Principal{ObjectID: "oid-1", TenantID: "tenant-1", AppID: "cli-app", Name: "ada@example.com", Roles: []string{"owner"}},
			allow: PurgeBuffers,
		},
		{
			name: "Entra v2 app token with contributor, audience as bare app ID",
			claims: map[string]any{"aud": "spool-test-app-id", "ver": "2.0", "azp": "pipeline-app",
				"preferred_username": "", "oid": "oid-2", "tid": "tenant-1", "roles": []string{"contributor"}},
			want:   Principal{ObjectID: "oid-2", TenantID: "tenant-1", AppID: "pipeline-app", Roles: []string{"contributor"}},
			allow:  WriteAccess,
			refuse: DeleteBuffers,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims := f.iss.Claims(testAudience)
			for k, v := range c.claims {
				if v == nil {
					delete(claims, k)
					continue
				}
				claims[k] = v
			}
			tok := f.iss.Token(t, claims)
			rec := f.bearer("/p/"+string(c.allow), tok)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", c.allow, rec.Code, rec.Body)
			}
			var got Principal
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			c.want.Subject = "subject-1"
			if got.Subject != c.want.Subject || got.ObjectID != c.want.ObjectID || got.TenantID != c.want.TenantID ||
				got.AppID != c.want.AppID || got.Name != c.want.Name || !slices.Equal(got.Roles, c.want.Roles) {
				t.Errorf("principal %+v, want %+v", got, c.want)
			}
			if c.refuse != "" {
				if rec := f.bearer("/p/"+string(c.refuse), tok); rec.Code != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", c.refuse, rec.Code)
				}
			}
		})
	}
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestFromEnvReadsIssuerAndAudiences(t *testing.T) {
	opts, err := FromEnv(env(map[string]string{
		EnvIssuer:   "https://login.microsoftonline.com/tenant-1/v2.0, https://sts.windows.net/tenant-1/",
		EnvAudience: " api://spool , 1111-app-id,,",
		EnvCLIAppID: "cli-app",
	}))
	if err != nil {
		t.Fatal(err)
	}
	wantIssuers := []string{"https://login.microsoftonline.com/tenant-1/v2.0", "https://sts.windows.net/tenant-1/"}
	if !opts.Enabled() || !slices.Equal(opts.Issuers, wantIssuers) || !slices.Equal(opts.Audiences, []string{"api://spool", "1111-app-id"}) || opts.CLIAppID != "cli-app" {
		t.Fatalf("options %+v", opts)
	}
	if _, err := New(opts); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestFromEnvWithoutIssuerDisablesSignIn(t *testing.T) {
	opts, err := FromEnv(env(nil))
	if err != nil || opts.Enabled() {
		t.Fatalf("unset: %+v %v, want disabled", opts, err)
	}
}

func TestFromEnvRefusesUnsafeOrIncompleteSettings(t *testing.T) {
	cases := []struct {
		name, issuer, audience, wantInError string
	}{
		{"plain http to a remote issuer", "http://login.example.com/tenant", "api://spool", "https"},
		{"plain http to a name that only looks local", "http://127.0.0.1.example.com", "api://spool", "https"},
		{"another scheme", "ftp://login.example.com/", "api://spool", "https"},
		{"a relative issuer", "login.example.com/tenant", "api://spool", "absolute"},
		{"an issuer with a query", "https://login.example.com/?x=1", "api://spool", "absolute"},
		{"no audience", "https://login.example.com/tenant", " , ", EnvAudience},
		{"an audience without issuer", "", "api://spool", EnvIssuer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromEnv(env(map[string]string{EnvIssuer: c.issuer, EnvAudience: c.audience}))
			if err == nil || !strings.Contains(err.Error(), c.wantInError) {
				t.Fatalf("error %v, want one mentioning %q", err, c.wantInError)
			}
		})
	}
	if _, err := New(Options{Issuers: []string{"http://example.com"}, Audiences: []string{"a"}}); err == nil {
		t.Error("New accepted a plain http remote issuer")
	}
}

func TestPlainHTTPIsAllowedForLoopbackIssuers(t *testing.T) {
	for _, issuer := range []string{"http://127.0.0.1:8080", "http://localhost:1234/tenant", "http://[::1]:99/"} {
		if _, err := FromEnv(env(map[string]string{EnvIssuer: issuer, EnvAudience: "a"})); err != nil {
			t.Errorf("%s: %v", issuer, err)
		}
	}
}

func TestMetadataTellsTygersCLIHowToSignIn(t *testing.T) {
	versions := []string{"1.0"}
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"sign-in off", Options{}, `{"apiVersions":["1.0"]}`},
		{"Entra v2 issuer", Options{Issuers: []string{"https://login.microsoftonline.com/t1/v2.0"}, Audiences: []string{"api://spool", "id"}, CLIAppID: "cli"},
			`{"authority":"https://login.microsoftonline.com/t1","audience":"api://spool","serverAppUri":"api://spool","cliAppId":"cli","rbacEnabled":true,"apiVersions":["1.0"]}`},
		{"Entra v1 issuer", Options{Issuers: []string{"https://sts.windows.net/t1/"}, Audiences: []string{"api://spool"}},
			`{"authority":"https://login.microsoftonline.com/t1","audience":"api://spool","serverAppUri":"api://spool","rbacEnabled":true,"apiVersions":["1.0"]}`},
		{"explicit authority and app URI", Options{Issuers: []string{"https://idp.example/"}, Audiences: []string{"x"}, Authority: "https://idp.example/a", ServerAppURI: "api://s"},
			`{"authority":"https://idp.example/a","audience":"api://s","serverAppUri":"api://s","rbacEnabled":true,"apiVersions":["1.0"]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := json.Marshal(MetadataFor(c.opts, versions))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestTokensOfEveryListedIssuerAreAcceptedAndOthersCauseNoRequest(t *testing.T) {
	v1, v2, other := oidctest.Start(t), oidctest.Start(t), oidctest.Start(t)
	v, err := New(Options{Issuers: []string{v1.URL, v2.URL}, Audiences: []string{testAudience}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{handler: v.Middleware(nil)(Require(ReadBuffers)(http.HandlerFunc(echoPrincipal)))}
	for _, iss := range []*oidctest.Issuer{v1, v2} {
		if rec := f.bearer("/", iss.Token(t, iss.Claims(testAudience, "reader"))); rec.Code != http.StatusOK {
			t.Fatalf("token of %s: %d %s", iss.URL, rec.Code, rec.Body)
		}
	}
	// Claims of a listed issuer signed by an unlisted one's key: a forgery.
	forged := other.Token(t, v1.Claims(testAudience, "owner"))
	unlisted := other.Token(t, other.Claims(testAudience, "owner"))
	for name, tok := range map[string]string{"forged": forged, "unlisted": unlisted} {
		if rec := f.bearer("/", tok); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, rec.Code)
		}
	}
	if other.Requests() != 0 || v1.DiscoveryFetches() != 1 || v2.DiscoveryFetches() != 1 {
		t.Errorf("requests: unlisted issuer %d, discovery v1 %d v2 %d; want 0, 1, 1",
			other.Requests(), v1.DiscoveryFetches(), v2.DiscoveryFetches())
	}
}
