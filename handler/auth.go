package handler

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"spool/auth"
)

// routeRule is who may call one route when the server signs callers in
// (Options.Auth): nobody needs a token for an anonymous route; otherwise the
// caller's roles must grant every permission in perms, and extra when the
// request's query asks for more (a writeable URL, a purge).
type routeRule struct {
	anonymous bool
	perms     []auth.Permission
	extra     auth.Permission
	asksExtra func(a *api, r *http.Request) bool
}

// routeRules maps "METHOD path-template" of every route to its rule. A route
// missing here is refused to every caller (403), so a new route stays closed
// until it is given a rule.
var routeRules = map[string]routeRule{
	// Tyger's CLI reads metadata before it has a token; the timer's invocation comes
	// from the Functions host itself, which sends none (and no client can reach it).
	"GET /api/metadata":              {anonymous: true},
	"GET /api/openapi.json":          {anonymous: true},
	"POST " + sweepPath:              {anonymous: true},
	"POST /api/buffers":              {perms: []auth.Permission{auth.CreateBuffers}},
	"GET /api/buffers":               {perms: []auth.Permission{auth.ReadBuffers}},
	"GET /api/buffers/count":         {perms: []auth.Permission{auth.ReadBuffers}},
	"GET /api/buffers/{id}":          {perms: []auth.Permission{auth.ReadBuffers}},
	"PUT /api/buffers/{id}":          {perms: []auth.Permission{auth.UpdateBuffers}},
	"POST /api/buffers/{id}/access":  {perms: []auth.Permission{auth.ReadAccess}, extra: auth.WriteAccess, asksExtra: asksWriteable},
	"DELETE /api/buffers/{id}":       {perms: []auth.Permission{auth.DeleteBuffers}, extra: auth.PurgeBuffers, asksExtra: asksPurge},
	"POST /api/buffers/{id}/restore": {perms: []auth.Permission{auth.RestoreBuffers}},
	"DELETE /api/buffers":            {perms: []auth.Permission{auth.BulkOperations}, extra: auth.PurgeBuffers, asksExtra: asksBulkPurge},
	"POST /api/buffers/restore":      {perms: []auth.Permission{auth.BulkOperations}},
	"GET /api/buffers/{id}/audit":    {perms: []auth.Permission{auth.ReadAudit}},
	"GET /api/healthz":               {perms: []auth.Permission{auth.ReadBuffers}},

	// Tyger lets the roles that list buffers list storage accounts too.
	"GET /api/buffers/storage-accounts": {perms: []auth.Permission{auth.ReadBuffers}},
}

// A query the route would refuse asks for nothing extra: the route answers 400
// and does nothing, so no permission is widened by a malformed switch.
func asksWriteable(_ *api, r *http.Request) bool {
	p, err := readQuery(r, readAccessParams)
	return err == nil && p.writeable
}

func asksPurge(a *api, r *http.Request) bool {
	p, err := readQuery(r, a.readDeleteParams)
	return err == nil && p.purge
}

func asksBulkPurge(a *api, r *http.Request) bool {
	p, err := readQuery(r, a.readBulkDeleteParams)
	return err == nil && p.purge
}

// authenticate requires a valid bearer token on every route but the anonymous ones
// when a verifier is configured (401 otherwise); without one it changes nothing.
func (a *api) authenticate(next http.Handler) http.Handler {
	if a.verifier == nil {
		return next
	}
	return a.verifier.Middleware(anonymousPath)(next)
}

// anonymousPath lets the paths of anonymous rules (metadata, the timer) through
// without a token, whatever the method (so a wrong one still gets its 405).
func anonymousPath(r *http.Request) bool {
	for key, rule := range routeRules {
		if _, path, _ := strings.Cut(key, " "); rule.anonymous && path == r.URL.Path {
			return true
		}
	}
	return false
}

// authorize checks the matched route's rule against the caller's roles (403 when
// they fall short); it runs inside the router, once the route is known.
func (a *api) authorize(next http.Handler) http.Handler {
	if a.verifier == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, ok := routeRules[routeKey(r)]
		switch {
		case !ok:
			a.log.ErrorContext(r.Context(), "route has no permission rule; refused", "method", r.Method, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, "Forbidden", "This route is not open to any role.")
			return
		case rule.anonymous:
			next.ServeHTTP(w, r)
			return
		}
		for _, perm := range rule.perms {
			if !auth.Check(w, r, perm) {
				return
			}
		}
		if rule.asksExtra != nil && rule.asksExtra(a, r) && !auth.Check(w, r, rule.extra) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// routeKey is "METHOD path-template" of the route mux matched.
func routeKey(r *http.Request) string {
	route := mux.CurrentRoute(r)
	if route == nil {
		return ""
	}
	tmpl, err := route.GetPathTemplate()
	if err != nil {
		return ""
	}
	return r.Method + " " + tmpl
}

// configureAuth makes the verifier when opts names an issuer, and the metadata
// body either way.
func (a *api) configureAuth(opts auth.Options) error {
	a.signIn = auth.MetadataFor(opts, []string{currentVersion})
	if !opts.Enabled() {
		return nil
	}
	if opts.Logger == nil {
		opts.Logger = a.log
	}
	v, err := auth.New(opts)
	if err != nil {
		return fmt.Errorf("handler: sign-in: %w", err)
	}
	a.verifier = v
	return nil
}
