package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"spool/internal/funchost"
)

const stagedKey = "staged-function-key"

// stagedApp is `make stage`'s output run as the Functions host runs it: the
// staged handler binary started with FUNCTIONS_CUSTOMHANDLER_PORT, behind the
// funchost model read from the staged host.json and function.json files.
type stagedApp struct {
	host *funchost.Host
	// stdout and stderr are files the handler writes its two streams to.
	stdout, stderr string
}

// read is what the handler has written to one of its streams so far.
func read(file string) string {
	b, _ := os.ReadFile(file)
	return string(b)
}

func startStagedApp(t *testing.T) *stagedApp {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	stage := filepath.Join(t.TempDir(), "stage")
	if out, err := exec.Command("make", "-s", "-C", root, "stage", "STAGE_DIR="+stage).CombinedOutput(); err != nil {
		t.Fatalf("make stage: %v\n%s", err, out)
	}
	app, err := funchost.Load(filepath.Join(stage, "host.json"), stage)
	if err != nil {
		t.Fatal(err)
	}
	s := &stagedApp{stdout: filepath.Join(stage, "stdout.log"), stderr: filepath.Join(stage, "stderr.log")}
	stdout, err := os.Create(s.stdout)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(s.stderr)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(filepath.Join(stage, app.ExecutablePath))
	cmd.Dir = stage
	cmd.Env = []string{
		fmt.Sprintf("FUNCTIONS_CUSTOMHANDLER_PORT=%d", port),
		"SPOOL_STORAGE_CONNECTION_STRING=" + storage.Get(t).ConnectionString(),
		"SPOOL_TABLE_PREFIX=staged",
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // by its PID only
		_ = cmd.Wait()
		stdout.Close()
		stderr.Close()
	})
	waitListening(t, port, app.InitializationTimeout())
	backend, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", port))
	proxy := httputil.NewSingleHostReverseProxy(backend)
	proxy.FlushInterval = -1 // the proxying host streams
	s.host = funchost.New(app, proxy, funchost.Options{Keys: []string{stagedKey}})
	s.waitHealthy(t)
	return s
}

// waitListening waits as the host does (DefaultHttpWorkerService.cs IsWorkerReady):
// the handler must accept connections within the host's initialization timeout.
func waitListening(t *testing.T, port int, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			conn.Close()
			return
		}
	}
	t.Fatalf("the staged handler did not listen within the host's %v", limit)
}

func (s *stagedApp) waitHealthy(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req := httptest.NewRequest(http.MethodGet, "/api/healthz", nil)
		req.Header.Set(funchost.FunctionKeyHeader, stagedKey)
		if rec, _ := s.host.Send(req); rec.Code == http.StatusOK {
			return
		}
	}
	t.Fatalf("the staged app never became healthy:\n%s%s", read(s.stdout), read(s.stderr))
}

// create makes a buffer through the host and returns its ID.
func (s *stagedApp) create(t *testing.T) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/buffers", strings.NewReader(`{"tags":{"staged":"yes"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(funchost.FunctionKeyHeader, stagedKey)
	rec, _ := s.host.Send(req)
	id, _, _ := strings.Cut(strings.TrimPrefix(rec.Header().Get("Location"), "/api/buffers/"), "?")
	if rec.Code != http.StatusCreated || id == "" {
		t.Fatalf("create: %d %s (Location %q)", rec.Code, rec.Body, rec.Header().Get("Location"))
	}
	return id
}

func TestTheStagedAppServesEveryDeclaredRouteAndTickAsTheHostCallsThem(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the staged Linux handler")
	}
	s := startStagedApp(t)
	for _, p := range s.host.Unreachable(func(r funchost.Route) string {
		return strings.ReplaceAll(r.Template, "{id}", s.create(t))
	}) {
		t.Error(p)
	}
	inv, err := s.host.InvokeTimer(context.Background(), "SweepExpired")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Err != nil || len(inv.Warnings) != 0 || len(inv.Logs) == 0 {
		t.Errorf("the host makes of the tick: error %v, warnings %q, logs %q", inv.Err, inv.Warnings, inv.Logs)
	}
	if !strings.Contains(read(s.stdout), `"invocationId":"`+inv.ID+`"`) {
		t.Errorf("no stdout line carries the tick's invocation ID %s:\n%s", inv.ID, read(s.stdout))
	}
	for l := range strings.Lines(read(s.stderr)) {
		if funchost.StderrLevel(l) == funchost.LevelError {
			t.Errorf("the host would log an error: %s", l)
		}
	}
}
