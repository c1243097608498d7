package funchost

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"
)

// Invocation is what the host makes of a non-HTTP function's answer
// (DefaultHttpWorkerService.cs ProcessDefaultInvocationRequest).
type Invocation struct {
	ID     string
	Status int
	// Err is set when the host records the invocation as failed: a status that is
	// not 2xx (EnsureSuccessStatusCode, before the body is read) or a body that is
	// not the result JSON.
	Err error
	// Logs are the answer's Logs, which the host logs at information level; never
	// read on a failed status.
	Logs []string
	// Warnings are the host's own warnings about the answer: an empty Outputs or a
	// null ReturnValue (older hosts log them at warning level, newer at debug).
	Warnings    []string
	Outputs     map[string]any
	ReturnValue any
}

// invocationPayload is HttpScriptInvocationContext.cs: the trigger's data by
// binding name, and the trigger metadata.
type invocationPayload struct {
	Data     map[string]any `json:"Data"`
	Metadata map[string]any `json:"Metadata"`
}

// InvokeTimer posts a timer tick to the named timer function as the host does:
// POST /{FunctionName} (no route prefix) with the invocation payload, the
// invocation ID and host version headers; then reads the answer as the host does.
func (h *Host) InvokeTimer(ctx context.Context, name string) (Invocation, error) {
	if !slices.Contains(h.app.Timers(), name) {
		return Invocation{}, fmt.Errorf("no timer function %q in the app", name)
	}
	now := time.Now().UTC()
	body, err := json.Marshal(invocationPayload{
		Data: map[string]any{"timer": map[string]any{
			"Schedule":       map[string]any{"AdjustForDST": true},
			"ScheduleStatus": map[string]any{"Last": now.Add(-time.Minute), "Next": now.Add(time.Minute), "LastUpdated": now},
			"IsPastDue":      false,
		}},
		Metadata: map[string]any{"sys": map[string]any{"MethodName": name, "UtcNow": now, "RandGuid": NewInvocationID()}},
	})
	if err != nil {
		return Invocation{}, err
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/"+name, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	inv := Invocation{ID: NewInvocationID()}
	req.Header.Set(InvocationIDHeader, inv.ID)
	req.Header.Set(HostVersionHeader, HostVersion)
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	inv.Status = rec.Code
	readInvocationAnswer(&inv, rec.Body.Bytes())
	return inv, nil
}

// readInvocationAnswer applies the host's reading of an answer to inv.
func readInvocationAnswer(inv *Invocation, body []byte) {
	if inv.Status < 200 || inv.Status > 299 {
		inv.Err = fmt.Errorf("response status code does not indicate success: %d (%s)", inv.Status, http.StatusText(inv.Status))
		return
	}
	var res struct {
		Outputs     map[string]any `json:"Outputs"`
		Logs        []string       `json:"Logs"`
		ReturnValue any            `json:"ReturnValue"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		inv.Err = fmt.Errorf("invalid HttpResponseMessage: %w", err)
		return
	}
	inv.Outputs, inv.Logs, inv.ReturnValue = res.Outputs, res.Logs, res.ReturnValue
	if len(res.Outputs) == 0 {
		inv.Warnings = append(inv.Warnings, "Outputs not set on http response for invocationId:"+inv.ID)
	}
	if res.ReturnValue == nil {
		inv.Warnings = append(inv.Warnings, "ReturnValue not set on http response for invocationId:"+inv.ID)
	}
}
