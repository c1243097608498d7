package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"spool/internal/model"
)

// APIError is an error answer from the server.
type APIError struct {
	Status  int    // HTTP status
	Code    string // the error code from the body, e.g. "NotFound"; may be empty
	Message string // the server's message; may be empty
	// BufferID names the buffer the request was about, when there was one.
	BufferID string
	// ETagSent says the request carried If-Match, so a 412 is about that etag; a
	// 412 without one is about the buffer's state ("Buffer is already
	// soft-deleted") and must not talk about etags.
	ETagSent bool
	// RequestID is the server's X-Request-Id for the request, which its log lines
	// carry; shown in Error so a report can quote it.
	RequestID string
}

// Error is one line a person understands, ending with the request ID if any.
func (e *APIError) Error() string {
	if e.RequestID == "" {
		return e.text()
	}
	return e.text() + " (request ID " + e.RequestID + ")"
}

func (e *APIError) text() string {
	switch {
	case e.Status == http.StatusNotFound && e.Code == "":
		// spool's API names every error; a bare 404 is the host's "no such route".
		return "the server has no such API route (404): the server URL must include the route prefix, as in " + DefaultServerURL
	case e.Status == http.StatusNotFound && e.BufferID != "":
		return fmt.Sprintf("buffer %q not found", e.BufferID)
	case e.Status == http.StatusPreconditionFailed && (e.ETagSent || e.Message == ""):
		return fmt.Sprintf("the buffer changed since that etag (%s)", codeOr(e.Code, "PreconditionFailed"))
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return fmt.Sprintf("the server refused the request (%d %s): check SPOOL_FUNCTION_KEY%s",
			e.Status, codeOr(e.Code, http.StatusText(e.Status)), messageSuffix(e.Message))
	case e.Message != "":
		return fmt.Sprintf("%s (%s)", e.Message, codeOr(e.Code, fmt.Sprintf("HTTP %d", e.Status)))
	default:
		return fmt.Sprintf("the server answered %d %s", e.Status, codeOr(e.Code, http.StatusText(e.Status)))
	}
}

// Is lets callers test with errors.Is(err, model.ErrNotFound) and
// errors.Is(err, model.ErrPreconditionFailed).
func (e *APIError) Is(target error) bool {
	switch target {
	case model.ErrNotFound:
		return e.Status == http.StatusNotFound
	case model.ErrPreconditionFailed:
		return e.Status == http.StatusPreconditionFailed
	case model.ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests
	}
	return false
}

func codeOr(code, fallback string) string {
	if code != "" {
		return code
	}
	return fallback
}

func messageSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// requestID is the server's request ID header, if it is a plain token: an error
// line should not carry whatever a proxy put there.
func requestID(h http.Header) string {
	id := h.Get("X-Request-Id")
	if len(id) > 64 || strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return ""
	}
	return id
}

// newAPIError reads the server's {"error":{...}} body, or keeps a short excerpt of
// whatever else it sent (a proxy's HTML page, say) on one line.
func newAPIError(status int, body []byte, bufferID string) *APIError {
	e := &APIError{Status: status, BufferID: bufferID}
	var eb model.ErrorBody
	if err := json.Unmarshal(body, &eb); err == nil && (eb.Error.Code != "" || eb.Error.Message != "") {
		e.Code, e.Message = eb.Error.Code, oneLine(eb.Error.Message, 300)
		return e
	}
	e.Message = oneLine(string(body), 200)
	return e
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// ErrServerUnreachable is wrapped by errors that mean no connection could be made.
var ErrServerUnreachable = errors.New("cannot reach the spool server")

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryableTransportError says whether a request that failed without an answer may
// be sent again. A refused connection never reached the server, so it is always
// safe; other failures may have happened after the server acted, so only requests
// that can be repeated without harm are retried.
func retryableTransportError(err error, idempotent bool) bool {
	if isDialError(err) {
		return true
	}
	return idempotent
}

// transportError explains a failure to get any answer. It names the server without
// credentials and never includes request headers, so a function key cannot leak.
func (c *Client) transportError(err error) error {
	if isDialError(err) {
		cause := "connection failed"
		if errors.Is(err, syscall.ECONNREFUSED) {
			cause = "connection refused"
		} else if op := (*net.OpError)(nil); errors.As(err, &op) && op.Err != nil {
			cause = op.Err.Error()
		}
		return fmt.Errorf("%w at %s (%s): is `make run` running, and are --server-url / SPOOL_SERVER_URL right?",
			ErrServerUnreachable, c.ServerURL(), cause)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("talking to the spool server at %s: %w", c.ServerURL(), err)
}
