package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spool/internal/azurite"
	"spool/internal/reliability"
)

func TestMain(m *testing.M) { azurite.TestMain(m, storage) }

// storage is the Azurite the handler runs over, started by the first test that needs it.
var storage = azurite.NewShared(azurite.Options{})

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// running is a handler started through run, as main starts it.
type running struct {
	base    string        // http://127.0.0.1:PORT/api
	logFile string        // run's stderr
	waited  time.Duration // from starting run to the first accepted connection
	done    chan error
}

// startHandler runs the handler with e (FUNCTIONS_CUSTOMHANDLER_PORT set to a free
// port) and returns once it accepts connections; the cleanup stops it and checks
// that run returned nil and logged no account key.
func startHandler(t *testing.T, e env) *running {
	t.Helper()
	port := freePort(t)
	e["FUNCTIONS_CUSTOMHANDLER_PORT"] = fmt.Sprint(port)
	ctx, cancel := context.WithCancel(context.Background())
	h := &running{base: fmt.Sprintf("http://127.0.0.1:%d/api", port), logFile: filepath.Join(t.TempDir(), "handler.log"), done: make(chan error, 1)}
	stderr, err := os.Create(h.logFile)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() { h.done <- run(ctx, e.get, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("run returned %v after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("handler did not stop after cancel")
		}
		stderr.Close()
		if strings.Contains(h.logs(), azurite.AccountKey) {
			t.Error("the log holds the account key")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			conn.Close()
			h.waited = time.Since(start)
			return h
		}
		select {
		case err := <-h.done:
			t.Fatalf("handler exited: %v\n%s", err, h.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("handler did not listen within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logs is what the handler has logged so far.
func (h *running) logs() string {
	b, _ := os.ReadFile(h.logFile)
	return string(b)
}

// reply is one answer from the handler.
type reply struct {
	status int
	header http.Header
	body   string
}

var client = &http.Client{Timeout: 60 * time.Second}

func (h *running) do(t *testing.T, method, path, body string) reply {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequest(method, h.base+path+sep+"api-version=1.0", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// health reads healthz: its status and the outcome of each check.
func (h *running) health(t *testing.T) (int, map[string]string) {
	t.Helper()
	r := h.do(t, http.MethodGet, "/healthz", "")
	var rep struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.body), &rep); err != nil {
		t.Fatalf("healthz body %q: %v", r.body, err)
	}
	if strings.Contains(r.body, azurite.AccountKey) || strings.Contains(r.body, "127.0.0.1") {
		t.Errorf("healthz shows a key or an endpoint: %s", r.body)
	}
	return r.status, rep.Checks
}

// waitHealthy polls healthz until it answers 200.
func (h *running) waitHealthy(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); ; {
		status, checks := h.health(t)
		if status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz still %d %v after 90 s\n%s", status, checks, h.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createAndShow creates a buffer and reads it back.
func (h *running) createAndShow(t *testing.T) string {
	t.Helper()
	r := h.do(t, http.MethodPost, "/buffers", `{"tags":{"from":"cmd"}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var b struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.body), &b); err != nil || b.ID == "" {
		t.Fatalf("create answered %s (%v)", r.body, err)
	}
	if r := h.do(t, http.MethodGet, "/buffers/"+b.ID, ""); r.status != http.StatusOK || !strings.Contains(r.body, b.ID) {
		t.Fatalf("show %s: %d %s", b.ID, r.status, r.body)
	}
	return b.ID
}

func TestHandlerServesOnTheHostPortFromAConnectionStringAndStopsOnCancel(t *testing.T) {
	h := startHandler(t, env{
		"SPOOL_STORAGE_CONNECTION_STRING": storage.Get(t).ConnectionString(),
		"SPOOL_TABLE_PREFIX":              "cmdhandler",
	})
	if r := h.do(t, http.MethodGet, "/metadata", ""); r.status != http.StatusOK {
		t.Fatalf("metadata: %d %s", r.status, r.body)
	}
	h.waitHealthy(t)
	h.createAndShow(t)
}

func TestHandlerRefusesToStartWithoutStorage(t *testing.T) {
	err := run(context.Background(), env{}.get, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SPOOL_STORAGE_CONNECTION_STRING") {
		t.Errorf("got %v", err)
	}
}

func TestServerBoundsHeadersAndIdleConnectionsButNotRequests(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("unbounded: ReadHeaderTimeout %v, IdleTimeout %v", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
	if srv.ReadTimeout != 0 || srv.WriteTimeout != 0 {
		t.Errorf("ReadTimeout %v, WriteTimeout %v would cut the handler's own bounds short", srv.ReadTimeout, srv.WriteTimeout)
	}
}

func TestAConnectionThatNeverSendsItsHeadersIsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the header timeout")
	}
	h := startHandler(t, env{"SPOOL_STORAGE_CONNECTION_STRING": storage.Get(t).ConnectionString(), "SPOOL_TABLE_PREFIX": "slowloris"})
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(h.base, "http://"), "/api"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /api/metadata HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(readHeaderTimeout + 30*time.Second))
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept a connection open %v without headers", readHeaderTimeout+30*time.Second)
	}
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "client opens a connection and never finishes its headers (slowloris)",
		Tries:   1,
		Outcome: fmt.Sprintf("the server closes it after ReadHeaderTimeout (%v)", readHeaderTimeout),
	})
}
