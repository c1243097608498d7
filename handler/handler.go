// Package handler serves spool's control-plane HTTP API (the Tyger-compatible /buffers
// routes under the Functions route prefix /api) as an Azure Functions custom handler.
//
// It keeps buffer records in a Store and makes and signs blob containers through
// Containers; buffer bytes never pass through it.
package handler

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"spool/auth"
)

// Containers makes the blob container that holds a buffer's data and signs URLs for it.
type Containers interface {
	// Create makes the container; it fails if the container exists already.
	Create(ctx context.Context, name string) error
	// Delete removes the container and everything in it.
	Delete(ctx context.Context, name string) error
	// AccessURL returns a container SAS URL valid for ttl: read-only, or create+read
	// when writeable (never write, so no blob can be overwritten).
	AccessURL(ctx context.Context, name string, writeable bool, ttl time.Duration) (string, error)
}

// Options configures the API.
type Options struct {
	Store      Store
	Containers Containers
	// Location is reported on every buffer (an Azure region such as "eastus", or
	// "local"); a create naming another location is refused.
	Location string
	// Accounts, when set, replaces Containers and Location: the storage accounts new
	// buffers are placed in, round-robin within the location a create asks for.
	// Records remember their account by name.
	Accounts []StorageAccount
	// DefaultLocation is where a create without a location goes; empty means the
	// first account's location.
	DefaultLocation string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per request and the causes of server errors; nil
	// discards them.
	Logger *slog.Logger
	// RequirePrincipal refuses (401) every request but GET /api/metadata that
	// carries no Easy Auth principal header (X-MS-CLIENT-PRINCIPAL-ID or
	// X-MS-CLIENT-PRINCIPAL). Only the platform front end sets those headers, so this
	// is for deployments behind Entra ID authentication, on top of function keys.
	RequirePrincipal bool
	// RequestTimeout bounds each request, storage retries included, so a stalled
	// storage service gives 503 rather than a hung request; 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Lifecycle sets soft-delete lifetimes and the expiry sweep's batches.
	Lifecycle LifecycleOptions
	// Auth, when it names an issuer (auth.FromEnv), signs callers in: every route
	// but GET /api/metadata and the timer needs a valid bearer token (401) whose
	// roles grant the route's permission (403), and metadata tells clients where
	// to get one. Zero means function keys alone guard the API.
	Auth auth.Options
}

// DefaultRequestTimeout keeps requests far inside the Functions host's 230 s limit,
// after which the host itself would answer 502.
const DefaultRequestTimeout = 30 * time.Second

// MaxBodyBytes caps request bodies; 100 tags of maximal size fit well inside it.
const MaxBodyBytes = 64 << 10

// api holds the configured dependencies behind the routes.
type api struct {
	store    Store
	accounts *accountSet
	now      func() time.Time
	log      *slog.Logger

	requirePrincipal bool
	requestTimeout   time.Duration
	lifecycle        LifecycleOptions
	verifier         *auth.Verifier // nil: nobody is signed in
	signIn           auth.Metadata  // GET /api/metadata's body
}

// New returns the API as an http.Handler serving paths beginning with /api.
func New(opts Options) (http.Handler, error) {
	if opts.Store == nil || (opts.Containers == nil && len(opts.Accounts) == 0) {
		return nil, fmt.Errorf("handler: Store and Containers (or Accounts) are required")
	}
	accounts, err := newAccountSet(opts.accountList(), opts.DefaultLocation)
	if err != nil {
		return nil, err
	}
	a := &api{
		store:    opts.Store,
		accounts: accounts,
		now:      opts.Now,
		log:      opts.Logger,

		requirePrincipal: opts.RequirePrincipal,
		requestTimeout:   opts.RequestTimeout,
		lifecycle:        opts.Lifecycle.withDefaults(),
	}
	if a.requestTimeout <= 0 {
		a.requestTimeout = DefaultRequestTimeout
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if err := a.configureAuth(opts.Auth); err != nil {
		return nil, err
	}
	a.log = slog.New(requestAttrs{a.log.Handler()})
	return a.tagRequests(a.logRequests(a.recoverPanics(a.authenticate(a.checkPrincipal(a.boundTime(a.router())))))), nil
}

// accountList is Accounts, or the one account Containers and Location describe.
func (opts Options) accountList() []StorageAccount {
	if len(opts.Accounts) > 0 {
		return opts.Accounts
	}
	location := opts.Location
	if location == "" {
		location = "local"
	}
	return []StorageAccount{{Name: "local", Location: location, Containers: opts.Containers}}
}

// router registers full paths on the root router: gorilla/mux answers a wrong method
// with 405 there, where a PathPrefix subrouter could answer 404. The literal
// buffers/count comes before buffers/{id}, as the Functions host also prefers it.
//
// Paths are matched as sent: not cleaned (mux would answer `..` and `//` with a
// redirect elsewhere) and not unescaped (so an encoded slash cannot turn one path
// segment into two). Anything that is not exactly a route is 404.
func (a *api) router() *mux.Router {
	r := mux.NewRouter().SkipClean(true).UseEncodedPath()
	r.HandleFunc("/api/metadata", a.handle(a.metadata)).Methods(http.MethodGet)
	r.HandleFunc("/api/openapi.json", a.handle(a.withoutParams(a.openAPI))).Methods(http.MethodGet)
	r.HandleFunc("/api/buffers", a.handle(a.createBuffer)).Methods(http.MethodPost)
	r.HandleFunc("/api/buffers", a.handle(a.listBuffers)).Methods(http.MethodGet)
	r.HandleFunc("/api/buffers", a.handle(a.deleteBuffers)).Methods(http.MethodDelete)
	r.HandleFunc("/api/buffers/count", a.handle(a.countBuffers)).Methods(http.MethodGet)
	r.HandleFunc("/api/buffers/storage-accounts", a.handle(a.storageAccounts)).Methods(http.MethodGet)
	r.HandleFunc("/api/buffers/restore", a.handle(a.restoreBuffers)).Methods(http.MethodPost)
	r.HandleFunc("/api/buffers/{id}", a.handle(a.getBuffer)).Methods(http.MethodGet)
	r.HandleFunc("/api/buffers/{id}", a.handle(a.updateBuffer)).Methods(http.MethodPut)
	r.HandleFunc("/api/buffers/{id}", a.handle(a.deleteBuffer)).Methods(http.MethodDelete)
	r.HandleFunc("/api/buffers/{id}/access", a.handle(a.accessBuffer)).Methods(http.MethodPost)
	r.HandleFunc("/api/buffers/{id}/restore", a.handle(a.restoreBuffer)).Methods(http.MethodPost)
	r.HandleFunc("/api/buffers/{id}/audit", a.handle(a.auditBuffer)).Methods(http.MethodGet)
	r.HandleFunc("/api/healthz", a.handle(a.withoutParams(a.healthz))).Methods(http.MethodGet)
	r.HandleFunc(sweepPath, a.sweepTimer).Methods(http.MethodPost)
	r.Use(a.requireAPIVersion, a.authorize)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "The resource was not found")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			fmt.Sprintf("The method %s is not allowed on this resource", r.Method))
	})
	return r
}

// withoutParams makes a plain handler (healthz) refuse query parameters as every
// route does.
func (a *api) withoutParams(h http.HandlerFunc) routeFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := readQuery(r, noParams); err != nil {
			return err
		}
		h(w, r)
		return nil
	}
}

// statusRecorder remembers the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (boundTime sets its
// read deadline).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// logRequests logs method, path and status only: the query may carry the function
// key (`code`) and headers carry keys and tokens, so neither is logged.
func (a *api) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		a.log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", time.Since(start))
	})
}

// recoverPanics turns a bug into a 500 JSON answer instead of a dropped connection.
func (a *api) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "InternalServerError", "internal server error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// principalHeaders are set by App Service authentication (Easy Auth) on requests it
// has authenticated; the front end strips any a client sends itself.
var principalHeaders = []string{"X-MS-CLIENT-PRINCIPAL-ID", "X-MS-CLIENT-PRINCIPAL"}

// checkPrincipal enforces Options.RequirePrincipal. Metadata stays anonymous: Tyger's
// CLI reads it before it has any credentials.
func (a *api) checkPrincipal(next http.Handler) http.Handler {
	if !a.requirePrincipal {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The timer's invocation comes from the host itself, which sends no principal.
		if r.URL.Path == "/api/metadata" || r.URL.Path == sweepPath {
			next.ServeHTTP(w, r)
			return
		}
		for _, h := range principalHeaders {
			if strings.TrimSpace(r.Header.Get(h)) != "" {
				next.ServeHTTP(w, r)
				return
			}
		}
		writeError(w, http.StatusUnauthorized, "Unauthorized",
			"This server requires an authenticated principal (Entra ID sign-in through App Service authentication).")
	})
}

// boundTime gives each request a deadline; storage calls that run past it fail with
// context.DeadlineExceeded, which is answered 503 with Retry-After. The deadline
// bounds reading a body too: a client that stalls or trickles its body has the
// read fail at the deadline (answered 408) instead of holding the request open;
// readBody lifts it once the body is in. It is set only when there is a body: on
// an idle connection net/http's own background read would time out with it and
// cancel the request, turning a 503 into a race. Behind a writer without a
// connection (a test recorder) there is nothing to set.
func (a *api) boundTime(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.requestTimeout)
		defer cancel()
		if deadline, _ := ctx.Deadline(); r.ContentLength != 0 {
			_ = http.NewResponseController(w).SetReadDeadline(deadline)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
