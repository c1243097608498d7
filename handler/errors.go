package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"spool/internal/model"
)

// Error codes the API answers with (Tyger's spelling).
const (
	codeInvalidInput       = "InvalidInput"
	codeNotFound           = "NotFound"
	codePreconditionFailed = "PreconditionFailed"
	codeUnsupportedVersion = "UnsupportedApiVersion"
)

// inputError is a client mistake: it becomes 400 InvalidInput with its message.
type inputError struct{ msg string }

func (e inputError) Error() string { return e.msg }

func invalidInput(msg string) error { return inputError{msg: msg} }

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
	var in inputError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &in):
		writeError(w, http.StatusBadRequest, codeInvalidInput, in.msg)
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"The request body is larger than the limit of 64 KiB.")
	case errors.Is(err, model.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "The resource was not found")
	case errors.Is(err, model.ErrPreconditionFailed):
		writeError(w, http.StatusPreconditionFailed, codePreconditionFailed, "ETag does not match")
	case errors.Is(err, model.ErrInvalidContinuation):
		writeError(w, http.StatusBadRequest, codeInvalidInput, "Invalid continuation token.")
	case errors.Is(err, model.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		a.log.Warn("storage unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"Storage is unavailable; retry later.")
	default:
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "InternalServerError", "internal server error")
	}
}
