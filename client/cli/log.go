package cli

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"spool/internal/redact"
)

// logLevel is what goes to stderr besides errors: --log-level, or --quiet.
type logLevel int

const (
	levelDebug logLevel = iota // every request: method, redacted URL, status
	levelInfo                  // progress, summaries and notes (the default)
	levelWarn                  // warnings, such as retries
	levelError                 // errors only
)

var levelNames = map[string]logLevel{"debug": levelDebug, "info": levelInfo, "warn": levelWarn, "error": levelError}

// setLogLevel applies --quiet and --log-level; quiet is error, and the two together
// can only disagree.
func (a *app) setLogLevel(quiet bool, name string) error {
	if name == "" {
		if quiet {
			a.level = levelError
		}
		return nil
	}
	level, ok := levelNames[strings.ToLower(name)]
	if !ok {
		return usagef("", "--log-level must be debug, info, warn or error, got %q", name)
	}
	if quiet && level != levelError {
		return usagef("", "--quiet means --log-level error; give one or the other")
	}
	a.level = level
	return nil
}

// notef prints a note (a sign-in, a logout, "Nothing was changed.") unless quiet.
func (a *app) notef(format string, args ...any) {
	if a.level <= levelInfo {
		a.printLine(fmt.Sprintf(format, args...))
	}
}

// warnf prints a warning unless --log-level is error.
func (a *app) warnf(format string, args ...any) {
	if a.level <= levelWarn {
		a.printLine("spool: warning: " + fmt.Sprintf(format, args...))
	}
}

// debugf prints a debug line, with any credential scrubbed.
func (a *app) debugf(format string, args ...any) {
	if a.level <= levelDebug {
		a.printLine("spool: debug: " + redact.String(fmt.Sprintf(format, args...)))
	}
}

// printLine writes a line to stderr, between the redraws of a running transfer's
// progress when there is one.
func (a *app) printLine(line string) {
	if a.transferring != nil {
		a.transferring.printLine(line)
		return
	}
	fmt.Fprintln(a.stderr, line)
}

// newTransferProgress starts the progress of a write or read at the log level.
func (a *app) newTransferProgress(verb string, total int64) *progress {
	var p *progress
	if a.level > levelInfo {
		p = newProgressAt(a.stderr, false, verb, total, time.Now())
		p.silent, p.warnings = true, a.level <= levelWarn
	} else {
		p = newProgress(a.stderr, a.stderrIsTerminal(), verb, total)
	}
	a.transferring = p
	return p
}

// loggedTransport logs each request at debug level: method, URL without its
// credentials, and the status or the error.
type loggedTransport struct {
	base http.RoundTripper
	logf func(format string, args ...any)
}

func (t loggedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		t.logf("%s %s: %v (%s)", req.Method, redact.URL(req.URL), redact.Error(err), took)
		return nil, err
	}
	t.logf("%s %s %d (%s)", req.Method, redact.URL(req.URL), resp.StatusCode, took)
	return resp, nil
}

// apiHTTPClient is the API client's HTTP client: nil (the client's default) unless
// requests are logged. The 60 s timeout is the client's own default.
func (a *app) apiHTTPClient() *http.Client {
	if a.level > levelDebug {
		return nil
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: loggedTransport{base: http.DefaultTransport, logf: a.debugf}}
}

// blobHTTPClient is the transfer engine's HTTP client: nil (the engine's default)
// unless requests are logged; then a transport tuned as the engine tunes its own
// (many idle connections, a response header limit, bodies as stored for their MD5).
// close releases its idle connections.
func (a *app) blobHTTPClient() (c *http.Client, close func()) {
	if a.level > levelDebug {
		return nil, func() {}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.ResponseHeaderTimeout, t.DisableCompression = 1000, 1000, 60*time.Second, true
	return &http.Client{Transport: loggedTransport{base: t, logf: a.debugf}}, t.CloseIdleConnections
}
