// Package access turns a command-line BUFFER argument (a buffer ID, an access URL,
// or the path of a file holding one) into a renewing access source for the
// transfer engine in client/transfer.
package access

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"spool/client"
	"spool/client/transfer"
)

// maxURLFileSize bounds a file that holds an access URL (Tyger's rule): anything
// larger is not such a file.
const maxURLFileSize = 2 << 10

// Options says what access a buffer argument needs.
type Options struct {
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

// Resolve turns a command-line BUFFER argument into an access source:
//
//   - an argument meant as an http(s) URL is used as is and never refreshed;
//   - otherwise, an existing regular file under 2 KiB must hold such a URL; it is
//     read again whenever storage refuses the URL, so whoever maintains the file can
//     renew it;
//   - otherwise the argument must be a buffer ID, and the server is asked for a URL
//     now (so an unknown ID fails before any data moves) and again on refresh.
//
// c may be nil when the argument is not an ID. No error repeats a URL's query, so
// a mistyped access URL never puts its signature on the screen.
func Resolve(ctx context.Context, c *client.Client, arg string, opts Options) (transfer.AccessSource, error) {
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
		return resolveFile(arg, fi, opts)
	}
	if err := client.ValidateID(arg); err != nil {
		return nil, fmt.Errorf("%s is not a buffer ID, an access URL, or the path of a file holding one", client.QuoteArg(arg))
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

// resolveFile checks that path can be a file holding an access URL and reads it.
func resolveFile(path string, fi os.FileInfo, opts Options) (transfer.AccessSource, error) {
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file, so it cannot hold an access URL", path)
	case fi.Size() >= maxURLFileSize:
		return nil, fmt.Errorf("%s is %d bytes: a file holding an access URL must be smaller than 2 KiB", path, fi.Size())
	}
	if opts.AccessTTL != "" {
		return nil, errors.New("an access TTL can only be given with a buffer ID, not with an access-URL file")
	}
	src := &fileSource{path: path, wait: opts.FileRefreshWait, tries: opts.FileRefreshTries}
	u, err := src.read()
	if err != nil {
		return nil, err
	}
	src.current = u
	return src, nil
}

// looksLikeURL is true for anything meant as a URL, even a mistyped one (a leading
// space, "http:/", "http//", a query): it should be reported as a bad URL, without
// its query, rather than looked up as a file or quoted back as a bad ID.
func looksLikeURL(s string) bool {
	t := strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(t, "://"); i > 0 && !strings.ContainsAny(t[:i], "/\\ ") {
		return true
	}
	for _, scheme := range []string{"http:", "https:", "http/", "https/"} {
		if strings.HasPrefix(t, scheme) {
			return true
		}
	}
	return false
}

// hostPattern is a host name or IPv4 address, or a bracketed IPv6 address, with an
// optional port: what a storage endpoint can be.
var hostPattern = regexp.MustCompile(`^(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

// parseAccessURL checks an access URL. Its errors say what is wrong without
// repeating the URL: url.Error, for one, quotes it whole, signature included.
func parseAccessURL(s string) (*url.URL, error) {
	t := strings.TrimSpace(s)
	if strings.ContainsAny(t, " \t\r\n") {
		return nil, errors.New("the access URL contains white space: pass it whole, in quotes, as printed by `spool buffer access`")
	}
	u, err := url.Parse(t)
	if err != nil {
		return nil, errors.New("the access URL cannot be parsed: check it was copied whole (a bad %-escape, say)")
	}
	switch {
	case u.Scheme == "":
		return nil, errors.New("the access URL must start with https:// (or http:// for a local emulator)")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("the access URL must be an http or https URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("the access URL has no host: it must start with https:// (two slashes)")
	}
	if !hostPattern.MatchString(u.Host) {
		return nil, errors.New("the access URL's host is not a host name, an IP address or host:port")
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return nil, errors.New("the access URL's query has a bad %-escape: check it was copied whole")
	}
	return u, nil
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
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(s.wait):
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
	c         *client.Client
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
	if apiErr := (*client.APIError)(nil); errors.As(err, &apiErr) {
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
