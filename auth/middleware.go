package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"

	"spool/internal/model"
	"spool/internal/redact"
)

// Realm names the protection space in WWW-Authenticate challenges.
const Realm = "spool"

// Middleware requires a valid bearer token on every request except those anonymous
// says yes to (nil: none), and stores the caller's Principal in the request context.
// A missing or bad token is answered 401 with an RFC 6750 challenge; an issuer that
// cannot be reached, 503 with Retry-After.
func (v *Verifier) Middleware(anonymous func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if anonymous != nil && anonymous(r) {
				next.ServeHTTP(w, r)
				return
			}
			p, ok := v.authenticate(w, r)
			if ok {
				next.ServeHTTP(w, r.WithContext(ContextWithPrincipal(r.Context(), p)))
			}
		})
	}
}

// authenticate verifies r's token, or answers r and returns false.
func (v *Verifier) authenticate(w http.ResponseWriter, r *http.Request) (*Principal, bool) {
	raw, challenge := bearerToken(r.Header)
	if challenge != nil {
		challenge.write(w)
		return nil, false
	}
	p, err := v.Verify(r.Context(), raw)
	if err == nil {
		return p, true
	}
	if errors.Is(err, ErrUnavailable) {
		v.opts.Logger.Warn("token not checked: issuer unavailable", "path", r.URL.Path, "err", redact.Error(err))
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"The sign-in service cannot be reached to check the token; retry later.")
		return nil, false
	}
	v.opts.Logger.Info("token refused", "path", r.URL.Path, "err", redact.Error(err))
	invalidToken(err).write(w)
	return nil, false
}

// bearerToken extracts the token of the only Authorization header, or says how to
// refuse the request.
func bearerToken(h http.Header) (string, *challenge) {
	values := h.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", &challenge{message: "This server requires a bearer token (sign in with `spool login`)."}
	case len(values) > 1:
		return "", &challenge{code: "invalid_request", message: "The request carries more than one Authorization header."}
	}
	scheme, token, found := strings.Cut(strings.TrimSpace(values[0]), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t,") {
		return "", &challenge{code: "invalid_request", message: "The Authorization header must be `Bearer <token>`."}
	}
	return token, nil
}

// invalidToken says, without echoing the token, why it was refused.
func invalidToken(err error) *challenge {
	msg := "The access token is not valid."
	var expired *oidc.TokenExpiredError
	switch {
	case errors.Is(err, errExpired), errors.As(err, &expired):
		msg = "The access token has expired."
	case errors.Is(err, errNotYetValid):
		msg = "The access token is not valid yet."
	case errors.Is(err, errWrongAudience):
		msg = "The access token was not issued for this server."
	case errors.Is(err, errOtherIssuer), strings.Contains(err.Error(), "issued by a different provider"):
		msg = "The access token was issued by another issuer."
	}
	return &challenge{code: "invalid_token", message: msg}
}

// challenge is a 401 answer: RFC 6750 error code (empty when no credentials were
// sent, as §3.1 asks) and a message for both the header and the JSON body.
type challenge struct {
	code    string
	message string
}

func (c *challenge) write(w http.ResponseWriter) {
	v := fmt.Sprintf("Bearer realm=%q", Realm)
	if c.code != "" {
		v += fmt.Sprintf(", error=%q, error_description=%q", c.code, c.message)
	}
	w.Header().Set("WWW-Authenticate", v)
	writeError(w, http.StatusUnauthorized, "Unauthorized", c.message)
}

// Require answers 403 Forbidden unless the principal in the request context holds
// perm; with no principal at all (the middleware did not run) it answers 401, so a
// route wired without the middleware fails closed.
func Require(perm Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if Check(w, r, perm) {
				next.ServeHTTP(w, r)
			}
		})
	}
}

// Check is Require inside a handler, for permissions that depend on the request
// (a writeable access URL, a purge): it says whether r's principal holds perm, and
// when not it has answered 401 or 403.
func Check(w http.ResponseWriter, r *http.Request, perm Permission) bool {
	p, ok := PrincipalFrom(r.Context())
	switch {
	case !ok:
		(&challenge{message: "This server requires a bearer token."}).write(w)
		return false
	case !Allowed(p, perm):
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q, error=\"insufficient_scope\"", Realm))
		writeError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf(
			"The caller's roles (%s) do not allow %s.", rolesText(p.Roles), perm))
		return false
	}
	return true
}

// writeError answers in spool's error shape, {"error":{"code":"…","message":"…"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(model.ErrorBody{Error: model.ErrorInfo{Code: code, Message: message}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(body.Bytes(), []byte("\n")))
}

func rolesText(roles []string) string {
	if len(roles) == 0 {
		return "none"
	}
	return strings.Join(roles, ", ")
}
