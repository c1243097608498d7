// Package client is the REST client of spool's control plane, the Tyger-compatible
// /buffers API: records, tags, lifecycle and access URLs. It moves no data (that is
// client/transfer) and knows nothing of the command line (client/cli).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spool/internal/backoff"
	"spool/internal/model"
)

// DefaultServerURL is where `make run` serves the API.
const DefaultServerURL = "http://127.0.0.1:7071/api"

// apiVersion is sent on every request: the API requires it, as Tyger's does.
const apiVersion = "1.0"

// Options configures a Client. Zero values take the defaults.
type Options struct {
	// ServerURL is the API root, including the Functions route prefix; default
	// DefaultServerURL.
	ServerURL string
	// FunctionKey, when set, is sent as x-functions-key on every request.
	FunctionKey string
	// HTTPClient sends the requests; default a client with a 60 s timeout.
	HTTPClient *http.Client
	// Retries is how many times a transient failure (connection error, 429, 503) is
	// retried; default 3. A negative value turns retries off.
	Retries int
	// RetryWait is the first backoff; it doubles on every retry. Default 250 ms.
	RetryWait time.Duration
	// Authorize, when set, adds credentials to each attempt of every request just
	// before it is sent (spool login's bearer token), so a retry, or an access URL
	// renewed late in a long transfer, carries a token that is fresh then. Its
	// error ends the request.
	Authorize func(ctx context.Context, req *http.Request) error
	// UserAgent is sent as User-Agent; default DefaultUserAgent.
	UserAgent string
}

// DefaultUserAgent is sent when Options.UserAgent is empty; the CLI sends
// "spool/" and its version (client/cli.Version).
const DefaultUserAgent = "spool/dev"

// Client is a REST client for the /buffers API. It is safe for concurrent use.
type Client struct {
	base        *url.URL
	functionKey string
	http        *http.Client
	retries     int
	retryWait   time.Duration
	authorize   func(context.Context, *http.Request) error
	userAgent   string
}

// New checks the options and returns a client; it does not contact the server.
func New(opts Options) (*Client, error) {
	raw := opts.ServerURL
	if raw == "" {
		raw = DefaultServerURL
	}
	base, err := parseServerURL(raw)
	if err != nil {
		return nil, err
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	functionKey := opts.FunctionKey
	// Functions also takes the key as ?code=; a server URL copied from the portal
	// carries it that way. Send it as the header, so it stays out of URLs.
	if code := base.Query().Get("code"); code != "" && functionKey == "" {
		functionKey = code
	}
	base.RawQuery = ""
	base.Fragment = ""
	c := &Client{
		base:        base,
		functionKey: functionKey,
		http:        opts.HTTPClient,
		retries:     opts.Retries,
		retryWait:   opts.RetryWait,
		authorize:   opts.Authorize,
		userAgent:   opts.UserAgent,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 60 * time.Second}
	}
	if c.retries == 0 {
		c.retries = 3
	}
	if c.retries < 0 {
		c.retries = 0
	}
	if c.retryWait <= 0 {
		c.retryWait = 250 * time.Millisecond
	}
	return c, nil
}

// parseServerURL checks the API root. Its errors never show the query, where a
// function key copied from the portal sits as ?code=.
func parseServerURL(raw string) (*url.URL, error) {
	base, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("invalid server URL: it cannot be parsed (a space or a bad %-escape?): want http(s)://host[:port]/api")
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("invalid server URL %q: want http(s)://host[:port]/api", redactServerURL(raw))
	}
	if _, err := url.ParseQuery(base.RawQuery); err != nil {
		return nil, fmt.Errorf("invalid server URL %q: its query has a bad %%-escape", redactServerURL(raw))
	}
	return base, nil
}

// ServerURL is the API root this client talks to, safe to show to a person.
func (c *Client) ServerURL() string { return redactServerURL(c.base.String()) }

// CreateRequest is the body of a create; the server assigns the ID.
type CreateRequest struct {
	Tags      map[string]string `json:"tags,omitempty"`
	ExpiresAt *time.Time        `json:"expiresAt,omitempty"`
	// Location asks for a storage location (an Azure region); empty means the
	// server's default.
	Location string `json:"location,omitempty"`
}

// CreateBuffer creates a buffer (and its container) and returns its record.
func (c *Client) CreateBuffer(ctx context.Context, req CreateRequest) (model.Buffer, error) {
	if err := ValidateTags(req.Tags); err != nil {
		return model.Buffer{}, err
	}
	var b model.Buffer
	err := c.do(ctx, call{method: http.MethodPost, path: "/buffers", body: req, want: []int{http.StatusCreated, http.StatusOK}}, &b)
	if err != nil {
		return model.Buffer{}, fmt.Errorf("creating buffer: %w", err)
	}
	return b, nil
}

// GetOptions selects which record GetBuffer reads.
type GetOptions struct {
	// SoftDeleted reads a soft-deleted (still restorable) buffer instead of a live
	// one.
	SoftDeleted bool
}

// GetBuffer returns one buffer's record.
func (c *Client) GetBuffer(ctx context.Context, id string, opts GetOptions) (model.Buffer, error) {
	if err := ValidateID(id); err != nil {
		return model.Buffer{}, err
	}
	cl := call{method: http.MethodGet, path: "/buffers/" + id, bufferID: id}
	if opts.SoftDeleted {
		cl.query = url.Values{"softDeleted": {"true"}}
	}
	var b model.Buffer
	err := c.do(ctx, cl, &b)
	return b, err
}

// ListOptions selects buffers for ListBuffers.
type ListOptions struct {
	Tags        map[string]string // every pair must match
	ExcludeTags map[string]string // a buffer with any of these pairs is left out
	// Limit is the page size to ask for; 0 leaves it to the server.
	Limit int
	// SoftDeleted selects deleted (still restorable) buffers instead of live ones.
	SoftDeleted bool
}

// ListBuffers fetches the first page of buffers.
func (c *Client) ListBuffers(ctx context.Context, opts ListOptions) (model.BufferList, error) {
	if err := ValidateTags(opts.Tags); err != nil {
		return model.BufferList{}, err
	}
	if err := ValidateTags(opts.ExcludeTags); err != nil {
		return model.BufferList{}, fmt.Errorf("exclude tags: %w", err)
	}
	q := filterQuery(opts)
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var page model.BufferList
	err := c.do(ctx, call{method: http.MethodGet, path: "/buffers", query: q}, &page)
	return page, err
}

// NextBuffers fetches the page a nextLink points at. limit, when > 0, replaces the
// page size the link carries.
func (c *Client) NextBuffers(ctx context.Context, nextLink string, limit int) (model.BufferList, error) {
	path, q, err := c.resolveNextLink(nextLink)
	if err != nil {
		return model.BufferList{}, err
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page model.BufferList
	err = c.do(ctx, call{method: http.MethodGet, path: path, query: q}, &page)
	return page, err
}

// ListAllBuffers follows nextLink until it has max buffers (max must be ≥ 0).
// truncated reports that the server holds more buffers than were returned.
func (c *Client) ListAllBuffers(ctx context.Context, opts ListOptions, max int) (items []model.Buffer, truncated bool, err error) {
	if max < 0 {
		return nil, false, fmt.Errorf("the limit must not be negative, got %d", max)
	}
	items = []model.Buffer{}
	if max == 0 {
		return items, false, nil
	}
	// Asking for one more than still needed tells "exactly max" from "more exist"
	// without an extra round trip.
	opts.Limit = max + 1
	page, err := c.ListBuffers(ctx, opts)
	for {
		if err != nil {
			return nil, false, fmt.Errorf("listing buffers: %w", err)
		}
		items = append(items, page.Items...)
		if len(items) > max {
			return items[:max], true, nil
		}
		if page.NextLink == "" {
			return items, false, nil
		}
		page, err = c.NextBuffers(ctx, page.NextLink, max+1-len(items))
	}
}

// resolveNextLink turns a nextLink into a path under the API root and its query.
// Tyger's links are relative to the API root ("/buffers?..."); links that carry the
// route prefix or are absolute are accepted too, but only on this server, so the
// function key never travels elsewhere.
func (c *Client) resolveNextLink(link string) (string, url.Values, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", nil, fmt.Errorf("the server sent an invalid nextLink: %w", err)
	}
	if u.IsAbs() {
		if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
			return "", nil, fmt.Errorf("the server sent a nextLink to another host (%s)", u.Host)
		}
	}
	path := u.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if prefix := c.base.Path; prefix != "" && strings.HasPrefix(path, prefix+"/") {
		path = strings.TrimPrefix(path, prefix)
	}
	q := u.Query()
	q.Del("api-version")
	return path, q, nil
}

// Access asks for a SAS URL for the buffer's container; writeable asks for
// create permission as well as read. ttl, when set, is Tyger's D.HH:MM:SS form and
// is passed through for the server to check.
func (c *Client) Access(ctx context.Context, id string, writeable bool, ttl string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	q := url.Values{"writeable": {strconv.FormatBool(writeable)}}
	if ttl != "" {
		q.Set("ttl", ttl)
	}
	var a model.AccessURL
	err := c.do(ctx, call{method: http.MethodPost, path: "/buffers/" + id + "/access", query: q, bufferID: id,
		want: []int{http.StatusCreated, http.StatusOK}}, &a)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(a.URI)
	if err != nil || !u.IsAbs() {
		return "", fmt.Errorf("the server answered buffer %q's access request without a usable URL", id)
	}
	return a.URI, nil
}

// call describes one API request.
type call struct {
	method   string
	path     string // under the API root, starting with "/"
	query    url.Values
	body     any    // JSON-encoded when non-nil
	ifMatch  string // sent as If-Match when set
	bufferID string // names the buffer in error messages
	want     []int  // success statuses; default 200
}

// idempotent says whether sending the call twice does no harm: everything but a
// create, which would make a second buffer.
func (cl call) idempotent() bool {
	return !(cl.method == http.MethodPost && cl.path == "/buffers")
}

// do sends the call, retrying transient failures, and decodes a success body into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
	}
	u := *c.base
	u.Path = c.base.Path + cl.path
	q := url.Values{}
	for k, vs := range cl.query {
		q[k] = vs
	}
	q.Set("api-version", apiVersion)
	u.RawQuery = q.Encode()

	want := cl.want
	if len(want) == 0 {
		want = []int{http.StatusOK}
	}
	// The wait doubles on every retry; a server's Retry-After wins, within reason.
	policy := backoff.Policy{Min: c.retryWait}
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, cl, u.String(), body)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if attempt < c.retries && retryableTransportError(err, cl.idempotent()) {
				if err := backoff.Sleep(ctx, policy.Delay(attempt)); err != nil {
					return err
				}
				continue
			}
			return c.transportError(err)
		}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < c.retries {
			delay, ok := backoff.RetryAfter(resp.Header.Get("Retry-After"), 10*time.Second)
			if !ok {
				delay = policy.Delay(attempt)
			}
			drain(resp)
			if err := backoff.Sleep(ctx, delay); err != nil {
				return err
			}
			continue
		}
		return c.finish(resp, cl, want, out)
	}
}

func (c *Client) send(ctx context.Context, cl call, u string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.ifMatch != "" {
		req.Header.Set("If-Match", cl.ifMatch)
	}
	if c.functionKey != "" {
		req.Header.Set("x-functions-key", c.functionKey)
	}
	if c.authorize != nil {
		if err := c.authorize(ctx, req); err != nil {
			return nil, fmt.Errorf("signing in: %w", err)
		}
	}
	return c.http.Do(req)
}

// finish turns a final response into a decoded value or an *APIError.
func (c *Client) finish(resp *http.Response, cl call, want []int, out any) error {
	defer drain(resp)
	// Error bodies are small; a cap keeps a misbehaving server from filling memory.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the server's answer to %s %s: %w", cl.method, cl.path, err)
	}
	for _, s := range want {
		if resp.StatusCode == s {
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("decoding the server's answer to %s %s: %w", cl.method, cl.path, err)
			}
			return nil
		}
	}
	apiErr := newAPIError(resp.StatusCode, data, cl.bufferID)
	apiErr.ETagSent = cl.ifMatch != ""
	apiErr.RequestID = requestID(resp.Header)
	return apiErr
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

// redactServerURL drops credentials and the query (which may hold a `code` function
// key) so the URL can appear in messages.
func redactServerURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
