package handler

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"spool/auth"
	"spool/internal/model"
	"spool/internal/oidctest"
)

// Audiences of the test API: the App ID URI and the bare app ID, as Entra uses both.
const (
	signInAudience = "api://spool-handler-test"
	signInAppID    = "6d3c2b1a-0000-4000-8000-00000000aa01"
)

// authFixture is the real handler over Azurite, signing callers in with tokens of a
// real loopback issuer.
type authFixture struct {
	*apiFixture
	opts Options
	iss  *oidctest.Issuer
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	iss := oidctest.Start(t)
	f, opts := liveFixture(t, plainAzurite.get(t).ConnectionString(), uniquePrefix(), func(o *Options) {
		o.Auth = auth.Options{Issuers: []string{iss.URL}, Audiences: []string{signInAudience, signInAppID},
			CLIAppID: "6d3c2b1a-0000-4000-8000-00000000c11a"}
	})
	return &authFixture{apiFixture: f, opts: opts, iss: iss}
}

func (f *authFixture) token(t *testing.T, roles ...string) string {
	return f.iss.Token(t, f.iss.Claims(signInAudience, roles...))
}

// call sends a request with token as its bearer token ("" sends none).
func (f *authFixture) call(method, path, body, token string) answer {
	if token == "" {
		return f.try(method, path, body)
	}
	return f.try(method, path, body, "Authorization", "Bearer "+token)
}

// seed makes a buffer tagged case=tag as an owner, soft-deleted when deleted.
func (f *authFixture) seed(t *testing.T, owner, tag string, deleted bool) model.Buffer {
	t.Helper()
	a := f.call(http.MethodPost, "/buffers", tagsJSON(map[string]string{"case": tag}), owner)
	b, err := a.buffer()
	if a.status != http.StatusCreated || err != nil {
		t.Fatalf("seeding a buffer: %v", a)
	}
	if deleted {
		if a := f.call(http.MethodDelete, "/buffers/"+b.ID, "", owner); a.status != http.StatusOK {
			t.Fatalf("seeding a deleted buffer: %v", a)
		}
	}
	return b
}

// snapshot renders every record (live and soft-deleted, with its ETag) and the
// audit trails of ids, read straight from the store.
func (f *authFixture) snapshot(t *testing.T, ids ...string) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	for _, deleted := range []bool{false, true} {
		page, err := f.opts.Store.List(ctx, model.ListQuery{Filter: model.Filter{SoftDeleted: deleted}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Items {
			lines = append(lines, fmt.Sprintf("%s %s deleted=%v tags=%v", b.ID, b.ETag, b.IsSoftDeleted, b.Tags))
		}
	}
	for _, id := range ids {
		page, err := f.opts.Store.Grants(ctx, model.GrantQuery{BufferID: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s: %d grants", id, len(page.Items)))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// roleRoute is one route of the role matrix: the least role that may call it, the
// state of the buffer it acts on, and its success status.
type roleRoute struct {
	name, method, path, body string
	least                    string
	deleted                  bool
	want                     int
}

var roleRoutes = []roleRoute{
	{"create", "POST", "/buffers", `{"tags":{}}`, auth.RoleContributor, false, 201},
	{"list", "GET", "/buffers", "", auth.RoleReader, false, 200},
	{"count", "GET", "/buffers/count", "", auth.RoleReader, false, 200},
	{"show", "GET", "/buffers/{id}", "", auth.RoleReader, false, 200},
	{"set tags", "PUT", "/buffers/{id}", `{"tags":{"k":"v"}}`, auth.RoleContributor, false, 200},
	{"read access", "POST", "/buffers/{id}/access", "", auth.RoleReader, false, 201},
	{"write access", "POST", "/buffers/{id}/access?writeable=true", "", auth.RoleContributor, false, 201},
	{"delete", "DELETE", "/buffers/{id}", "", auth.RoleOwner, false, 200},
	{"purge", "DELETE", "/buffers/{id}?softDeleted=true&ttl=0.00:00:00", "", auth.RoleOwner, true, 200},
	{"restore", "POST", "/buffers/{id}/restore", "", auth.RoleOwner, true, 200},
	{"bulk delete", "DELETE", "/buffers?tag[case]={tag}", "", auth.RoleOwner, false, 200},
	{"bulk restore", "POST", "/buffers/restore?tag[case]={tag}", "", auth.RoleOwner, true, 200},
	{"audit", "GET", "/buffers/{id}/audit", "", auth.RoleOwner, false, 200},
	{"healthz", "GET", "/healthz", "", auth.RoleReader, false, 200},
}

var roleRank = map[string]int{auth.RoleReader: 1, auth.RoleContributor: 2, auth.RoleOwner: 3}

// TestEachRoleReachesExactlyItsRoutes runs every route with a token of each role:
// a role at or above the route's least role succeeds, any other is 403 Forbidden
// and leaves the store as it was.
func TestEachRoleReachesExactlyItsRoutes(t *testing.T) {
	f := newAuthFixture(t)
	owner := f.token(t, auth.RoleOwner)
	for i, rt := range roleRoutes {
		for _, role := range []string{auth.RoleReader, auth.RoleContributor, auth.RoleOwner} {
			t.Run(rt.name+"/"+role, func(t *testing.T) {
				tag := fmt.Sprintf("m%d%s", i, role)
				b := f.seed(t, owner, tag, rt.deleted)
				path := strings.NewReplacer("{id}", b.ID, "{tag}", tag).Replace(rt.path)
				before := f.snapshot(t, b.ID)
				a := f.call(rt.method, path, rt.body, f.token(t, role))
				if roleRank[role] >= roleRank[rt.least] {
					if a.status != rt.want {
						t.Errorf("%s %s as %s: %v, want %d", rt.method, path, role, a, rt.want)
					}
					return
				}
				if code, err := a.jsonError(); a.status != http.StatusForbidden || err != nil || code != "Forbidden" {
					t.Errorf("%s %s as %s: %v, want 403 Forbidden", rt.method, path, role, a)
				}
				if after := f.snapshot(t, b.ID); after != before {
					t.Errorf("a refused %s changed the store:\nbefore\n%s\nafter\n%s", rt.name, before, after)
				}
			})
		}
	}
}

// TestATokenWithoutAKnownRoleIsForbiddenEverywhere: a valid token whose roles grant
// nothing (none, or a role this API does not define) is 403 on every route.
func TestATokenWithoutAKnownRoleIsForbiddenEverywhere(t *testing.T) {
	f := newAuthFixture(t)
	b := f.seed(t, f.token(t, auth.RoleOwner), "norole", false)
	for _, tok := range []string{f.token(t), f.token(t, "admin", "Owner")} {
		for _, rt := range roleRoutes {
			path := strings.NewReplacer("{id}", b.ID, "{tag}", "norole").Replace(rt.path)
			if a := f.call(rt.method, path, rt.body, tok); a.status != http.StatusForbidden {
				t.Errorf("%s %s without a known role: %v, want 403", rt.method, path, a)
			}
		}
	}
}

// TestEveryRouteHasAPermissionRule walks the router: each route and method has a
// rule, and each rule names a route, so no route is open (or closed) by accident.
func TestEveryRouteHasAPermissionRule(t *testing.T) {
	seen := map[string]bool{}
	err := (&api{}).router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			key := m + " " + tmpl
			seen[key] = true
			if _, ok := routeRules[key]; !ok {
				t.Errorf("route %s has no permission rule", key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range routeRules {
		if !seen[key] {
			t.Errorf("rule %s names no route", key)
		}
	}
}
