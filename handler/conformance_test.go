package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spool/internal/funchost"
	"spool/internal/reliability"
)

const testFunctionKey = "test-function-key"

// hostedApp is the handler over fakes behind the funchost model of the Functions
// host, built from an app's host.json and function.json files.
type hostedApp struct {
	host  *funchost.Host
	store *fakeStore
	logs  *bytes.Buffer
}

func newHostedApp(t *testing.T, app *funchost.App) *hostedApp {
	t.Helper()
	h := &hostedApp{store: newFakeStore(), logs: &bytes.Buffer{}}
	api, err := New(Options{Store: h.store, Containers: newFakeContainers(), Logger: slog.New(slog.NewJSONHandler(h.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.host = funchost.New(app, api, funchost.Options{Keys: []string{testFunctionKey}})
	return h
}

func repoApp(t *testing.T) *funchost.App {
	t.Helper()
	app, err := funchost.Load("../host.json", "../functions")
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// send makes a request through the host and reports the status and whether it
// reached the handler.
func (h *hostedApp) send(method, target string, header ...string) (status int, reached bool) {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec, reached := h.host.Send(req)
	return rec.Code, reached
}

// create makes a buffer through the host and returns its ID.
func (h *hostedApp) create(t *testing.T) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/buffers", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-functions-key", testFunctionKey)
	rec := httptest.NewRecorder()
	h.host.ServeHTTP(rec, req)
	var b struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &b); rec.Code != http.StatusCreated || err != nil {
		t.Fatalf("create through the host: %d %s", rec.Code, rec.Body)
	}
	return b.ID
}

// routeProblems lists the declared routes that do not reach a handler route, each
// called with the ID of a buffer made for it.
func routeProblems(t *testing.T, app *funchost.App) []string {
	t.Helper()
	h := newHostedApp(t, app)
	return h.host.Unreachable(func(r funchost.Route) string {
		return strings.ReplaceAll(r.Template, "{id}", h.create(t))
	})
}

func TestEveryDeclaredRouteAndMethodReachesAHandlerRouteThroughTheHost(t *testing.T) {
	for _, p := range routeProblems(t, repoApp(t)) {
		t.Error(p)
	}
}

func TestAFunctionRouteChangedWithoutTheHandlerFailsConformance(t *testing.T) {
	dir := t.TempDir()
	copyApp(t, "..", dir)
	file := filepath.Join(dir, "BufferAccess", "function.json")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	mutated := strings.Replace(string(raw), `"buffers/{id}/access"`, `"buffers/{id}/grant"`, 1)
	if mutated == string(raw) {
		t.Fatal("BufferAccess's route is not buffers/{id}/access any more; update this test's mutation")
	}
	if err := os.WriteFile(file, []byte(mutated), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := funchost.Load(filepath.Join(dir, "host.json"), dir)
	if err != nil {
		t.Fatal(err)
	}
	problems := routeProblems(t, app)
	if len(problems) != 1 || !strings.Contains(problems[0], "POST /api/buffers/{id}/grant") {
		t.Errorf("the mutated route is not the one problem found: %q", problems)
	}
}

// copyApp lays out the app as `make stage` does: host.json and each function
// folder side by side in dst.
func copyApp(t *testing.T, root, dst string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	files = append(files, filepath.Join(root, "host.json"))
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Join(root, "functions"), f)
		if filepath.Base(f) == "host.json" {
			rel = "host.json"
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUndeclaredRoutesAndMethodsAre404FromTheHostAndNeverReachTheHandler(t *testing.T) {
	h := newHostedApp(t, repoApp(t))
	key := []string{"x-functions-key", testFunctionKey}
	for _, c := range []struct{ method, target string }{
		{http.MethodPatch, "/api/buffers"},
		{http.MethodGet, "/api/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa/access"},
		{http.MethodPost, "/api/metadata"},
		{http.MethodGet, "/api/nothing"},
		{http.MethodGet, "/api/"},
		{http.MethodGet, "/buffers"},               // outside the route prefix
		{http.MethodPost, "/" + SweepFunction},     // the timer is the host's own call
		{http.MethodPost, "/api/" + SweepFunction}, // and has no HTTP route
		{http.MethodGet, "/api/buffers/a/b/c/d"},
	} {
		if status, reached := h.send(c.method, c.target, key...); status != http.StatusNotFound || reached {
			t.Errorf("%s %s: status %d, reached the handler: %v", c.method, c.target, status, reached)
		}
	}
}

func TestFunctionKeyRoutesRefuseARequestWithoutAValidKeyAndAcceptHeaderOrCode(t *testing.T) {
	app := repoApp(t)
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "requests through the host model without a function key, with a wrong one, with x-functions-key or ?code=",
		Tries:   4 * len(app.Routes()),
		Outcome: "401 from the host (handler never reached) without a valid key on authLevel function; reached with either form",
	})
	for _, r := range app.Routes() {
		h := newHostedApp(t, app)
		target := strings.ReplaceAll(r.Template, "{id}", h.create(t))
		keyed := r.AuthLevel != "anonymous"
		for _, c := range []struct {
			name   string
			target string
			header []string
			want   bool
		}{
			{"no key", target, nil, !keyed},
			{"wrong key", target, []string{"x-functions-key", "wrong"}, !keyed},
			{"x-functions-key", target, []string{"x-functions-key", testFunctionKey}, true},
			{"code", target + "?code=" + testFunctionKey, nil, true},
		} {
			status, reached := h.send(r.Method, c.target, c.header...)
			if reached != c.want || (!c.want && status != http.StatusUnauthorized) {
				t.Errorf("%s %s, %s: status %d, reached the handler: %v", r.Method, r.Template, c.name, status, reached)
			}
		}
	}
}

func TestAHealthyTimerTickGivesTheHostNoWarningAndLogsItsReport(t *testing.T) {
	app := repoApp(t)
	if len(app.Timers()) == 0 {
		t.Fatal("the app declares no timer")
	}
	for _, name := range app.Timers() {
		h := newHostedApp(t, app)
		inv, err := h.host.InvokeTimer(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Err != nil || len(inv.Warnings) != 0 {
			t.Errorf("%s: host records error %v, warnings %q", name, inv.Err, inv.Warnings)
		}
		if len(inv.Logs) != 1 || inv.Logs[0] != "sweep: 0 soft-deleted, 0 purged, 0 failed" {
			t.Errorf("%s: host logs %q", name, inv.Logs)
		}
		if !strings.Contains(h.logs.String(), `"invocationId":"`+inv.ID+`"`) {
			t.Errorf("%s: the handler's log does not carry the invocation ID %s:\n%s", name, inv.ID, h.logs)
		}
	}
}

func TestAFailedTimerTickFailsTheInvocationAndLogsWhyWithItsInvocationID(t *testing.T) {
	h := newHostedApp(t, repoApp(t))
	h.store.err = errors.New("table service down")
	reliability.Record(t, reliability.Row{
		Area:    "lifecycle",
		Fault:   "timer invocation while the store fails",
		Tries:   1,
		Outcome: "500 (the host records the invocation failed); the reason in the handler's ERROR line with the invocation ID",
	})
	inv, err := h.host.InvokeTimer(context.Background(), SweepFunction)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Err == nil || inv.Status != http.StatusInternalServerError {
		t.Fatalf("the host records the failed tick as %d, err %v", inv.Status, inv.Err)
	}
	var line struct {
		Level, Msg, Err, InvocationID string
	}
	for l := range strings.Lines(h.logs.String()) {
		_ = json.Unmarshal([]byte(l), &line)
		if line.Level == "ERROR" {
			break
		}
	}
	if line.Level != "ERROR" || !strings.Contains(line.Err, "table service down") || line.InvocationID != inv.ID {
		t.Errorf("no ERROR line with the reason and invocation ID %s:\n%s", inv.ID, h.logs)
	}
}
