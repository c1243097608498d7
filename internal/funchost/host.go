package funchost

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
)

// Mode is how the host passes an HTTP request on to the handler.
type Mode int

const (
	// Proxy is customHandler.enableProxyingHttpRequest: the host proxies the
	// request as it came (YARP, DefaultHttpProxyService.cs), path, query, headers
	// and a streamed body, and streams the answer back.
	Proxy Mode = iota
	// Forward is the legacy enableForwardingHttpRequest: the host rebuilds the
	// request (DefaultHttpWorkerService.cs ProcessHttpInAndOutInvocationRequest),
	// joining repeated query keys with commas and dropping a body sent without a
	// Content-Length, and buffers the answer.
	Forward
)

// Header names the host sets on every call to the handler (HttpWorkerConstants.cs).
const (
	InvocationIDHeader = "X-Azure-Functions-InvocationId"
	HostVersionHeader  = "X-Azure-Functions-HostVersion"
	// FunctionKeyHeader and FunctionKeyQuery carry a function key.
	FunctionKeyHeader = "x-functions-key"
	FunctionKeyQuery  = "code"
)

// HostVersion is the version this model claims to be.
const HostVersion = "4.0.0-funchost"

// Options configures a Host.
type Options struct {
	// Mode overrides the app's host.json; zero means what host.json says.
	Mode *Mode
	// Keys are the function keys; with none, keys are not checked, as under Core
	// Tools locally. With some, a route of authLevel function or admin needs one.
	Keys []string
}

// Host is the model of the Functions host in front of a handler.
type Host struct {
	app     *App
	handler http.Handler
	mode    Mode
	keys    []string
	reached atomic.Int64 // calls passed on to the handler
}

// New puts the host described by app in front of handler.
func New(app *App, handler http.Handler, opts Options) *Host {
	h := &Host{app: app, handler: handler, keys: opts.Keys, mode: Forward}
	if app.Proxying {
		h.mode = Proxy // ProxyInvocationRequest is tried first (DefaultHttpWorkerService.cs)
	}
	if opts.Mode != nil {
		h.mode = *opts.Mode
	}
	return h
}

// ServeHTTP answers as the host's front door: 404 with an empty body for anything
// no function declares (wrong methods included), 401 with an empty body for a
// keyed route without a valid key, else the handler's answer.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, ok := h.app.find(r.Method, r.URL.EscapedPath())
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if route.AuthLevel != "anonymous" && len(h.keys) > 0 && !h.validKey(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.reached.Add(1)
	Pass(h.mode, h.handler).ServeHTTP(w, r)
}

// Send serves req as the host and reports whether it reached the handler.
func (h *Host) Send(req *http.Request) (rec *httptest.ResponseRecorder, reached bool) {
	before := h.reached.Load()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, h.reached.Load() > before
}

// Unreachable lists each declared route and method that does not reach one of the
// handler's routes: the host passes it on, and the handler answers 404 (no route)
// or 405 (no such method). target gives the path to call for a route; with real
// IDs in it, a 404 can only mean that no route matched. The request carries the
// first function key.
func (h *Host) Unreachable(target func(Route) string) []string {
	var problems []string
	for _, r := range h.app.Routes() {
		req := httptest.NewRequest(r.Method, target(r), nil)
		if len(h.keys) > 0 {
			req.Header.Set(FunctionKeyHeader, h.keys[0])
		}
		rec, reached := h.Send(req)
		if !reached || rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
			problems = append(problems, fmt.Sprintf("%s: %s %s: status %d, reached the handler: %v",
				r.Function, r.Method, r.Template, rec.Code, reached))
		}
	}
	return problems
}

func (h *Host) validKey(r *http.Request) bool {
	given := r.Header.Get(FunctionKeyHeader)
	if given == "" {
		given = r.URL.Query().Get(FunctionKeyQuery)
	}
	for _, k := range h.keys {
		if given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(k)) == 1 {
			return true
		}
	}
	return false
}

// Pass passes requests on to handler the way the host does in mode, without the
// host's routing or keys: the shim for tests that call the handler's own routes.
func Pass(mode Mode, handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fwd := r.Clone(r.Context())
		fwd.RequestURI = ""
		if mode == Proxy {
			// AddProxyingHeaders overrides whatever a client sent.
			fwd.Header.Set(InvocationIDHeader, NewInvocationID())
			fwd.Header.Set(HostVersionHeader, HostVersion)
			handler.ServeHTTP(w, fwd)
			return
		}
		forward(w, fwd, handler)
	})
}

// forward rebuilds the request as HttpRequestExtensions' ToHttpRequestMessage does
// and buffers the answer. AddHeaders uses Headers.Add, so an invocation ID a
// client sent comes first and the host's second.
func forward(w http.ResponseWriter, fwd *http.Request, handler http.Handler) {
	fwd.URL.RawQuery = JoinRepeatedKeys(fwd.URL.RawQuery)
	fwd.TransferEncoding = nil
	if fwd.ContentLength <= 0 {
		fwd.Body, fwd.ContentLength = http.NoBody, 0
	} else if body, err := io.ReadAll(fwd.Body); err == nil {
		fwd.Body = io.NopCloser(bytes.NewReader(body))
	}
	fwd.Header.Add(InvocationIDHeader, NewInvocationID())
	fwd.Header.Add(HostVersionHeader, HostVersion)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, fwd)
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// JoinRepeatedKeys rebuilds a query string as the forwarding host does: one
// value per key, repeated keys' values joined with commas, in first-seen order.
func JoinRepeatedKeys(rawQuery string) string {
	var order []string
	values := map[string][]string{}
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			key, val = k, v
		}
		if _, seen := values[key]; !seen {
			order = append(order, key)
		}
		values[key] = append(values[key], val)
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(strings.Join(values[k], ",")))
	}
	return strings.Join(parts, "&")
}

// NewInvocationID returns a random GUID, the form of the host's invocation IDs.
func NewInvocationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
