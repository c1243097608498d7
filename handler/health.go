package handler

import (
	"context"
	"errors"
	"net/http"
	"time"

	"spool/internal/model"
)

// pinger is a dependency that can show it is reachable; tablestore.Store and
// blobstore.Containers are.
type pinger interface {
	Ping(ctx context.Context) error
}

// NotReadyError is a dependency saying, in words safe to show anyone who can reach
// healthz (no endpoint, key or error text), why it cannot serve yet: "tables not
// created yet", "tables missing". healthz shows Reason for the check; routes answer
// it 503 with Retry-After, as it also counts as model.ErrUnavailable.
type NotReadyError struct {
	Reason string
	Err    error
}

func (e *NotReadyError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *NotReadyError) Unwrap() []error { return []error{model.ErrUnavailable, e.Err} }

// healthTimeout keeps a probe's answer quick when storage hangs.
const healthTimeout = 5 * time.Second

type healthReport struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// healthz answers 200 when table and blob storage both answer, else 503. It names
// each check's outcome only ("ok", "unavailable", "not checked", or "unavailable: "
// and a NotReadyError's reason): endpoints, keys and error texts stay in the log.
// It is a function-key route like the others; a probe sends the key in
// x-functions-key.
func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	rep := healthReport{Status: "healthy", Checks: map[string]string{}}
	for name, dep := range map[string]any{"table": a.store, "blob": a.accounts.healthTarget()} {
		p, ok := dep.(pinger)
		if !ok {
			rep.Checks[name] = "not checked"
			continue
		}
		if err := p.Ping(ctx); err != nil {
			a.log.WarnContext(ctx, "health check failed", "check", name, "err", err)
			rep.Checks[name] = "unavailable"
			var notReady *NotReadyError
			if errors.As(err, &notReady) {
				rep.Checks[name] += ": " + notReady.Reason
			}
			rep.Status = "unhealthy"
			continue
		}
		rep.Checks[name] = "ok"
	}
	status := http.StatusOK
	if rep.Status != "healthy" {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, rep)
}
