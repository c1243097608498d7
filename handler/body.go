package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// readBody decodes a JSON body of at most MaxBodyBytes into v; strict refuses
// unknown fields. The Functions host forwards a body only when Content-Length > 0,
// so an empty body is normal and leaves v untouched. A body must come as
// application/json: a browser can send text/plain, form or multipart bodies (or
// none of a type) cross-site without asking, so accepting them would let any web
// page drive a spool whose API it can reach.
func readBody(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	if r.ContentLength != 0 {
		if err := requireJSON(r.Header.Get("Content-Type")); err != nil {
			return err
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return bodyReadError(r.Context(), err)
	}
	// The body is in: the connection's read deadline (boundTime) has done its job,
	// and the request's context bounds the rest.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return invalidInput(fmt.Sprintf("The request body is not valid: %s", strings.TrimPrefix(err.Error(), "json: ")))
	}
	if dec.More() {
		return invalidInput("The request body holds more than one JSON value.")
	}
	return nil
}

// requireJSON accepts application/json with any parameters but a charset other
// than UTF-8 (JSON is UTF-8); anything else is 415.
func requireJSON(contentType string) error {
	media, params, err := mime.ParseMediaType(contentType)
	if err == nil && media == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return apiError{status: http.StatusUnsupportedMediaType, code: "UnsupportedMediaType",
		msg: fmt.Sprintf("The request body must be JSON sent with Content-Type: application/json, not %.100q.", contentType)}
}

// bodyReadError classifies a failed body read: too big (413), cut off at the
// request's deadline (408), or otherwise unreadable (400).
func bodyReadError(ctx context.Context, err error) error {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout(), ctx.Err() != nil:
		return apiError{status: http.StatusRequestTimeout, code: "RequestTimeout",
			msg: "The request body did not arrive within the request time limit."}
	}
	return invalidInput("The request body could not be read.")
}
