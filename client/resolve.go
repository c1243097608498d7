package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"spool/client/transfer"
	"spool/internal/backoff"
)

// maxURLFileSize bounds a file that holds an access URL (Tyger's rule): anything
// larger is not such a file.
const maxURLFileSize = 2 << 10

// ResolveOptions says what access a buffer argument needs.
type ResolveOptions struct {
	// Writeable asks for write (create) access; otherwise read access.
	Writeable bool
	// AccessTTL is passed to the server when the argument is a buffer ID; it is an
	// error with a URL or a file, whose lifetime the caller does not control.
	AccessTTL string
	// FileRefreshWait is how long a file source waits for the file to change when
	// storage refused its URL; default 30 s. FileRefreshTries bounds the waits;
	// default 10.
	FileRefreshWait  time.Duration
	FileRefreshTries int
}

// ResolveBuffer turns a command-line BUFFER argument into an access source:
//
//   - an absolute http(s) URL is used as is and never refreshed;
//   - otherwise, an existing regular file under 2 KiB must hold such a URL; it is
//     read again whenever storage refuses the URL, so whoever maintains the file can
//     renew it;
//   - otherwise the argument must be a buffer ID, and the server is asked for a URL
//     now (so an unknown ID fails before any data moves) and again on refresh.
//
// c may be nil when the argument is not an ID.
func ResolveBuffer(ctx context.Context, c *Client, arg string, opts ResolveOptions) (transfer.AccessSource, error) {
	if opts.FileRefreshWait <= 0 {
		opts.FileRefreshWait = 30 * time.Second
	}
	if opts.FileRefreshTries <= 0 {
		opts.FileRefreshTries = 10
	}
	if looksLikeURL(arg) {
		u, err := parseAccessURL(arg)
		if err != nil {
			return nil, err
		}
		if opts.AccessTTL != "" {
			return nil, errors.New("an access TTL can only be given with a buffer ID, not with an access URL")
		}
		return &literalSource{u: u}, nil
	}
	if fi, err := os.Stat(arg); err == nil {
		switch {
		case !fi.Mode().IsRegular():
			return nil, fmt.Errorf("%s is not a regular file, so it cannot hold an access URL", arg)
		case fi.Size() >= maxURLFileSize:
			return nil, fmt.Errorf("%s is %d bytes: a file holding an access URL must be smaller than 2 KiB", arg, fi.Size())
		}
		if opts.AccessTTL != "" {
			return nil, errors.New("an access TTL can only be given with a buffer ID, not with an access-URL file")
		}
		src := &fileSource{path: arg, wait: opts.FileRefreshWait, tries: opts.FileRefreshTries}
		u, err := src.read()
		if err != nil {
			return nil, err
		}
		src.current = u
		return src, nil
	}
	if err := ValidateID(arg); err != nil {
		return nil, fmt.Errorf("%q is not a buffer ID, an access URL, or the path of a file holding one", arg)
	}
	if c == nil {
		return nil, errors.New("a buffer ID needs the spool server, but no client was given")
	}
	src := &idSource{c: c, id: arg, writeable: opts.Writeable, ttl: opts.AccessTTL}
	if _, err := src.URL(ctx); err != nil {
		return nil, err
	}
	return src, nil
}

// looksLikeURL is true for anything with a scheme: such an argument is meant as a
// URL, even a malformed one, and should be reported as such rather than looked up as
// a file.
func looksLikeURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.ContainsAny(s[:i], "/\\ ")
}

func parseAccessURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		// url.Error repeats the whole URL, signature included: say less.
		return nil, errors.New("the access URL cannot be parsed")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the access URL must be an http or https URL, got scheme %q", u.Scheme)
	}
	return u, nil
}

// RedactURL shows a URL without its SAS: query values other than the harmless
// api-version, sp (permissions) and se (expiry) are replaced by "REDACTED".
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := *u
	r.User = nil
	q := r.Query()
	for k := range q {
		switch k {
		case "api-version", "sp", "se":
		default:
			q[k] = []string{"REDACTED"}
		}
	}
	r.RawQuery = q.Encode()
	return r.String()
}

// literalSource is a URL from the command line: nothing can renew it.
type literalSource struct{ u *url.URL }

func (s *literalSource) URL(context.Context) (*url.URL, error) { return s.u, nil }

func (s *literalSource) Refresh(context.Context, *url.URL) (*url.URL, error) {
	return nil, fmt.Errorf("%w: ask for a new one with `spool buffer access ID`", transfer.ErrAccessURLExpired)
}

// fileSource is a URL kept in a file that someone else renews.
type fileSource struct {
	path  string
	wait  time.Duration
	tries int

	mu      sync.Mutex
	current *url.URL
}

func (s *fileSource) URL(context.Context) (*url.URL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, nil
}

// Refresh re-reads the file; when it still holds the refused URL it waits for the
// file to change, a bounded number of times.
func (s *fileSource) Refresh(ctx context.Context, stale *url.URL) (*url.URL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if stale == nil || s.current.String() != stale.String() {
		return s.current, nil // another transfer goroutine already renewed it
	}
	for try := 1; ; try++ {
		// A file caught mid-rewrite reads as empty or partial: treat that like
		// "not renewed yet" and look again.
		u, err := s.read()
		if err == nil && u.String() != stale.String() {
			s.current = u
			return u, nil
		}
		if try >= s.tries {
			if err != nil {
				return nil, fmt.Errorf("%w: %w", transfer.ErrAccessURLExpired, err)
			}
			return nil, fmt.Errorf("%w: the URL in %s did not change after %d checks %s apart",
				transfer.ErrAccessURLExpired, s.path, s.tries, s.wait)
		}
		if err := backoff.Sleep(ctx, s.wait); err != nil {
			return nil, err
		}
	}
}

func (s *fileSource) read() (*url.URL, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("reading the access URL file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, maxURLFileSize)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		return nil, fmt.Errorf("reading the access URL file %s: it is empty or unreadable", s.path)
	}
	if n >= maxURLFileSize {
		return nil, fmt.Errorf("%s has grown to 2 KiB or more: it no longer holds just an access URL", s.path)
	}
	text := strings.TrimRight(string(buf[:n]), " \t\r\n")
	if !looksLikeURL(text) {
		return nil, fmt.Errorf("%s does not hold an access URL", s.path)
	}
	u, err := parseAccessURL(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	return u, nil
}

// idSource asks the server for the buffer's URL, and again when it expires.
type idSource struct {
	c         *Client
	id        string
	writeable bool
	ttl       string

	mu      sync.Mutex
	current *url.URL
}

// URL and Refresh hold the lock while they ask the server, so goroutines that all
// saw the same URL refused make one request, not one each.
func (s *idSource) URL(ctx context.Context) (*url.URL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		return s.current, nil
	}
	return s.fetchLocked(ctx)
}

func (s *idSource) Refresh(ctx context.Context, stale *url.URL) (*url.URL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil && stale != nil && s.current.String() != stale.String() {
		return s.current, nil // another transfer goroutine already renewed it
	}
	return s.fetchLocked(ctx)
}

func (s *idSource) fetchLocked(ctx context.Context) (*url.URL, error) {
	raw, err := s.c.Access(ctx, s.id, s.writeable, s.ttl)
	if apiErr := (*APIError)(nil); errors.As(err, &apiErr) {
		return nil, err // it already names the buffer
	}
	if err != nil {
		return nil, fmt.Errorf("asking for buffer %s's access URL: %w", s.id, err)
	}
	u, err := parseAccessURL(raw)
	if err != nil {
		return nil, fmt.Errorf("the server's access URL for buffer %s: %w", s.id, err)
	}
	s.current = u
	return u, nil
}
