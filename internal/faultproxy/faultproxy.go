// Package faultproxy is a test helper: an HTTP proxy on 127.0.0.1 that sits between
// a client and a storage endpoint (Azurite) and injects the faults a network and a
// busy storage service produce — dropped connections, 5xx and 429 answers, stalls,
// short bodies, flipped bytes, lost Content-MD5 headers — on the requests its rules
// select, counting each fault it injects.
//
// SAS and shared-key signatures cover the account and path but not the host, so a
// URL signed for the real endpoint works through the proxy once its host is
// swapped, and a service given the proxy as its endpoint signs URLs that name it.
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Kind is a class of fault.
type Kind int

const (
	// Reset closes the client's connection with a TCP RST and no answer. With
	// Rule.AfterUpstream the request is first forwarded, so it takes effect in
	// storage while its answer is lost.
	Reset Kind = iota + 1
	// Status answers Rule.Status (500, 503, 429, ...) without forwarding, with a
	// storage-style x-ms-error-code and Rule.RetryAfter as Retry-After when set.
	Status
	// Stall holds the request for Rule.Stall, or until the client gives up, then
	// forwards it if the client is still there.
	Stall
	// Truncate forwards the request, then sends only half of a non-empty response
	// body before closing the connection.
	Truncate
	// FlipRequestBody inverts one byte in the middle of a non-empty request body.
	FlipRequestBody
	// FlipResponseBody inverts one byte in the middle of a non-empty response body.
	FlipResponseBody
	// DropRequestMD5 removes Content-MD5 from a request that carries one.
	DropRequestMD5
	// DropResponseMD5 removes Content-MD5 from a response that carries one.
	DropResponseMD5
	// StallBody forwards the request, sends the headers and half of a non-empty
	// response body, then holds the connection for Rule.Stall, or until the client
	// gives up, and closes it without the rest.
	StallBody
)

var kindNames = map[Kind]string{
	Reset: "reset", Status: "status", Stall: "stall", Truncate: "truncate",
	FlipRequestBody: "flip-request-body", FlipResponseBody: "flip-response-body",
	DropRequestMD5: "drop-request-md5", DropResponseMD5: "drop-response-md5", StallBody: "stall-body",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// DataBlob matches the path of a Tyger-layout data blob (…/RR[/SS]*/FFF), and not
// the container or the .bufferstart and .bufferend metadata blobs.
var DataBlob = regexp.MustCompile(`/[0-9A-F]{2}(/[0-9A-F]{2})*/[0-9A-F]{3}$`)

// Rule selects requests and the fault to inject into them.
type Rule struct {
	Kind Kind
	// Method limits the rule to one HTTP method; empty matches any.
	Method string
	// Path limits the rule to request paths it matches; nil matches any.
	Path *regexp.Regexp
	// Every injects into every Nth matching request (the Nth, 2Nth, ...); 0 or 1
	// means every matching request.
	Every int
	// Count stops the rule after it has selected this many requests; 0 means no
	// limit.
	Count int
	// PerPath selects at most this many requests for any one path; 0 means no
	// limit. A transient fault should not hit the same blob on every retry: with
	// a steady number of requests in flight, "every Nth" can otherwise lock onto one
	// blob and turn a transient fault into a permanent one.
	PerPath int

	// Status and RetryAfter are for Kind Status. Status defaults to 503.
	Status     int
	RetryAfter time.Duration
	// Stall is for Kinds Stall and StallBody: how long to hold the request.
	Stall time.Duration
	// AfterUpstream is for Kind Reset: forward the request first.
	AfterUpstream bool
}

func (r *Rule) matches(req *http.Request) bool {
	return (r.Method == "" || r.Method == req.Method) && (r.Path == nil || r.Path.MatchString(req.URL.Path))
}

// armedRule is a Rule with its running counters.
type armedRule struct {
	Rule
	seen     int            // matching requests so far
	selected int            // requests chosen for the fault
	byPath   map[string]int // requests chosen, per path (with PerPath)
}

// Proxy forwards requests to one upstream endpoint, injecting faults.
type Proxy struct {
	// URL is the proxy's root, e.g. http://127.0.0.1:41234.
	URL string

	upstream  *url.URL
	transport *http.Transport
	server    *http.Server

	mu       sync.Mutex
	rules    []*armedRule
	injected map[Kind]int
	requests int
}

// Start listens on a free loopback port and forwards to upstream (scheme and host;
// any path in it is ignored, request paths pass through unchanged). The proxy
// itself serves plain HTTP; an HTTPS upstream must have a certificate the system
// trusts.
func Start(upstream string, rules ...Rule) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: upstream %q is not an absolute URL", upstream)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listening: %w", err)
	}
	p := &Proxy{
		URL:      "http://" + l.Addr().String(),
		upstream: &url.URL{Scheme: u.Scheme, Host: u.Host},
		// No compression: bodies must pass byte for byte, with their lengths.
		transport: &http.Transport{
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
		injected: map[Kind]int{},
	}
	p.SetRules(rules...)
	p.server = &http.Server{
		Handler:           http.HandlerFunc(p.serve),
		ReadHeaderTimeout: 10 * time.Second,
		// Aborted and hijacked responses are the point, not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go p.server.Serve(l)
	return p, nil
}

// Close stops the proxy and drops every connection, stalled ones included.
func (p *Proxy) Close() error {
	err := p.server.Close()
	p.transport.CloseIdleConnections()
	return err
}

// SetRules replaces the rules; counts of injected faults are kept.
func (p *Proxy) SetRules(rules ...Rule) {
	armed := make([]*armedRule, len(rules))
	for i, r := range rules {
		armed[i] = &armedRule{Rule: r}
	}
	p.mu.Lock()
	p.rules = armed
	p.mu.Unlock()
}

// Rules returns the rules in force, as given.
func (p *Proxy) Rules() []Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	rules := make([]Rule, len(p.rules))
	for i, r := range p.rules {
		rules[i] = r.Rule
	}
	return rules
}

// Injected is how many faults of kind k the proxy has injected.
func (p *Proxy) Injected(k Kind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected[k]
}

// TotalInjected is how many faults of any kind the proxy has injected.
func (p *Proxy) TotalInjected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.injected {
		n += c
	}
	return n
}

// Requests is how many requests reached the proxy.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// ResetCounts zeroes the request and injection counts.
func (p *Proxy) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = 0
	p.injected = map[Kind]int{}
}

// pick returns every rule whose turn it is for req, counting the request against
// every rule it matches, so Every stays predictable. Several rules may fire on one
// request (say, a flipped body and a dropped Content-MD5).
func (p *Proxy) pick(req *http.Request) []Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	var chosen []Rule
	for _, r := range p.rules {
		if !r.matches(req) || (r.Count > 0 && r.selected >= r.Count) {
			continue
		}
		if r.PerPath > 0 && r.byPath[req.URL.Path] >= r.PerPath {
			continue
		}
		r.seen++
		if r.seen%max(r.Every, 1) == 0 {
			r.selected++
			if r.PerPath > 0 {
				if r.byPath == nil {
					r.byPath = map[string]int{}
				}
				r.byPath[req.URL.Path]++
			}
			chosen = append(chosen, r.Rule)
		}
	}
	return chosen
}

// count records an injected fault. Faults that turn out not to apply (no body to
// cut, no header to drop) are not counted.
func (p *Proxy) count(k Kind) {
	p.mu.Lock()
	p.injected[k]++
	p.mu.Unlock()
}

func (p *Proxy) serve(w http.ResponseWriter, req *http.Request) {
	rules := p.pick(req)
	// Reset, Status and Stall decide the whole exchange, so the first of them
	// wins; the other kinds combine in forward.
	var rule *Rule
	for i := range rules {
		if k := rules[i].Kind; k == Reset || k == Status || k == Stall {
			rule = &rules[i]
			break
		}
	}
	if rule == nil {
		p.forward(w, req, rules)
		return
	}
	switch rule.Kind {
	case Reset:
		if rule.AfterUpstream {
			resp, err := p.roundTrip(req, nil)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		p.count(Reset)
		resetConnection(w)
	case Status:
		status := rule.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		p.count(Status)
		io.Copy(io.Discard, req.Body)
		if rule.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((rule.RetryAfter+time.Second-1)/time.Second)))
		}
		w.Header().Set("x-ms-error-code", errorCode(status))
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>injected by faultproxy</Message></Error>", errorCode(status))
	case Stall:
		p.count(Stall)
		t := time.NewTimer(rule.Stall)
		defer t.Stop()
		select {
		case <-t.C:
			p.forward(w, req, nil)
		case <-req.Context().Done(): // the client gave up
		}
	}
}

func errorCode(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "ServerBusy"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusInternalServerError:
		return "InternalError"
	default:
		return "InjectedFault"
	}
}

// resetConnection takes the connection from the server and closes it with an RST,
// which the client sees as "connection reset by peer".
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// roundTrip sends req upstream, with body (when non-nil) replacing req's body.
func (p *Proxy) roundTrip(req *http.Request, body []byte) (*http.Response, error) {
	// The client's own cancellation ends the upstream request too.
	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.upstream.Scheme, p.upstream.Host
	out.Host = p.upstream.Host
	if len(body) > 0 {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
	} else if body != nil || req.ContentLength == 0 {
		// A zero-length PUT must stay a Content-Length: 0 request, not chunked.
		out.Body = http.NoBody
	}
	for _, h := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Upgrade"} {
		out.Header.Del(h)
	}
	return p.transport.RoundTrip(out)
}

// ruleSet is the rules that matched one request.
type ruleSet []Rule

// find returns the first rule of one of kinds, or nil.
func (rs ruleSet) find(kinds ...Kind) *Rule {
	for i := range rs {
		for _, k := range kinds {
			if rs[i].Kind == k {
				return &rs[i]
			}
		}
	}
	return nil
}

// forward proxies req, applying the request and response faults of rules.
func (p *Proxy) forward(w http.ResponseWriter, req *http.Request, rules []Rule) {
	rs := ruleSet(rules)
	body := p.tamperRequest(req, rs)
	resp, err := p.roundTrip(req, body)
	if err != nil {
		// The upstream is down (killed, restarting): to the client that looks like
		// a dropped connection, which is what it is.
		resetConnection(w)
		return
	}
	defer resp.Body.Close()

	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	if rs.find(DropResponseMD5) != nil && h.Get("Content-MD5") != "" {
		h.Del("Content-MD5")
		p.count(DropResponseMD5)
	}
	bodyRule := rs.find(Truncate, FlipResponseBody, StallBody)
	if bodyRule == nil || req.Method == http.MethodHead || resp.ContentLength <= 0 {
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return
	}
	p.tamperResponseBody(w, req, resp, bodyRule)
}

// tamperRequest applies the request faults: it returns the body to send instead of
// req's (nil to send req's own) and drops the request's Content-MD5 when asked.
func (p *Proxy) tamperRequest(req *http.Request, rs ruleSet) []byte {
	var body []byte
	if rs.find(FlipRequestBody) != nil {
		data, err := io.ReadAll(req.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if len(data) > 0 {
			data[len(data)/2] ^= 0xFF
			p.count(FlipRequestBody)
		}
		body = data
	}
	if rs.find(DropRequestMD5) != nil && req.Header.Get("Content-MD5") != "" {
		req.Header.Del("Content-MD5")
		p.count(DropRequestMD5)
	}
	return body
}

// tamperResponseBody sends resp's body flipped, truncated, or half of it and then a
// stall, as rule says.
func (p *Proxy) tamperResponseBody(w http.ResponseWriter, req *http.Request, resp *http.Response, rule *Rule) {
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(resp.StatusCode)
	p.count(rule.Kind)
	if rule.Kind == FlipResponseBody {
		data[len(data)/2] ^= 0xFF
		w.Write(data)
		return
	}
	w.Write(data[:len(data)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if rule.Kind == StallBody {
		t := time.NewTimer(rule.Stall)
		defer t.Stop()
		select {
		case <-t.C:
		case <-req.Context().Done(): // the client gave up
		}
	}
	// Ends the response short of its Content-Length: the server closes the
	// connection without completing it.
	panic(http.ErrAbortHandler)
}
