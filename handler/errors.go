package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"spool/internal/model"
)

// Error codes the API answers with (Tyger's spelling).
const (
	codeInvalidInput       = "InvalidInput"
	codeNotFound           = "NotFound"
	codePreconditionFailed = "PreconditionFailed"
	codeUnsupportedVersion = "UnsupportedApiVersion"
	codeUnavailable        = "ServiceUnavailable"
)

// apiError is an answer decided by the route: its status, code and message go to
// the client as they are (so they must never hold a secret).
type apiError struct {
	status     int
	code, msg  string
	retryAfter string // seconds, when set
}

func (e apiError) Error() string { return e.msg }

// invalidInput is a client mistake: 400 InvalidInput with msg.
func invalidInput(msg string) error {
	return apiError{status: http.StatusBadRequest, code: codeInvalidInput, msg: msg}
}

// routeFunc is a route that returns its failure instead of answering it; handle
// answers it, once, in the JSON error shape.
type routeFunc func(w http.ResponseWriter, r *http.Request) error

func (a *api) handle(route routeFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := route(w, r); err != nil {
			a.fail(w, r, err)
		}
	}
}

// writeJSON answers v as JSON, without HTML escaping so that a nextLink reads
// "&limit=" rather than "\u0026limit=".
func writeJSON(w http.ResponseWriter, status int, v any) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own types are encoded here; this would be a programming error.
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(body.Bytes(), []byte("\n")))
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, model.ErrorBody{Error: model.ErrorInfo{Code: code, Message: message}})
}

// fail answers err: client mistakes and store outcomes with their own status, and
// anything else as a logged 500 or 503 whose details stay in the log.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var known apiError
	var state stateError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &known):
		if known.retryAfter != "" {
			w.Header().Set("Retry-After", known.retryAfter)
		}
		writeError(w, known.status, known.code, known.msg)
	case errors.As(err, &state):
		writeError(w, http.StatusPreconditionFailed, codePreconditionFailed, state.msg)
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("The request body is larger than the limit of %s.", byteSize(tooBig.Limit)))
	case errors.Is(err, model.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "The resource was not found")
	case errors.Is(err, model.ErrPreconditionFailed):
		writeError(w, http.StatusPreconditionFailed, codePreconditionFailed, "ETag does not match")
	case errors.Is(err, model.ErrInvalidContinuation):
		writeError(w, http.StatusBadRequest, codeInvalidInput, "Invalid continuation token.")
	case errors.Is(err, model.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		a.log.WarnContext(r.Context(), "storage unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "Storage is unavailable; retry later.")
	default:
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "InternalServerError", "internal server error")
	}
}

// byteSize writes a limit the way people read it: 64 KiB, 1 MiB, 1000 bytes.
func byteSize(n int64) string {
	switch {
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n > 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
