package handler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// RequestIDHeader carries the request ID: the API answers it on every response and
// logs it on every line of the request, so a user quoting it (the CLI prints it in
// its errors) leads to the log lines. A sane ID the client sent is kept, so a
// client can tie its own logs to ours; otherwise one is made.
const RequestIDHeader = "X-Request-Id"

// InvocationIDHeader is set by the Functions host on every call to the handler
// (HttpWorkerConstants.cs); logging it ties a handler line to the host's own log
// of the invocation in Application Insights.
const InvocationIDHeader = "X-Azure-Functions-InvocationId"

// maxIDLen bounds an ID taken from a header: a GUID is 36 characters.
const maxIDLen = 64

type requestIDsKey struct{}

// requestIDs are the IDs of the request being served.
type requestIDs struct {
	request, invocation string
}

// tagRequests gives each request its request ID (answered in RequestIDHeader) and
// notes the host's invocation ID, for every log line of the request.
func (a *api) tagRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids := requestIDs{request: saneID(r.Header.Get(RequestIDHeader))}
		if ids.request == "" {
			ids.request = newRequestID()
		}
		// In proxy mode the host overrides any client value; in the legacy
		// forwarding mode it adds its own after the client's, so the last one
		// is the host's (DefaultHttpWorkerService.cs AddHeaders/AddProxyingHeaders).
		if v := r.Header.Values(InvocationIDHeader); len(v) > 0 {
			ids.invocation = saneID(v[len(v)-1])
		}
		w.Header().Set(RequestIDHeader, ids.request)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDsKey{}, ids)))
	})
}

// saneID keeps an ID of 1 to maxIDLen letters, digits, '-', '_', '.' or ':', and
// drops anything else, so a header cannot inject text into log lines.
func saneID(id string) string {
	if id == "" || len(id) > maxIDLen {
		return ""
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return ""
		}
	}
	return id
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestAttrs adds the request's IDs to every record logged with its context.
type requestAttrs struct{ slog.Handler }

func (h requestAttrs) Handle(ctx context.Context, rec slog.Record) error {
	if ids, ok := ctx.Value(requestIDsKey{}).(requestIDs); ok {
		rec.AddAttrs(slog.String("requestId", ids.request))
		if ids.invocation != "" {
			rec.AddAttrs(slog.String("invocationId", ids.invocation))
		}
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestAttrs{h.Handler.WithAttrs(attrs)}
}

func (h requestAttrs) WithGroup(name string) slog.Handler {
	return requestAttrs{h.Handler.WithGroup(name)}
}
