package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"spool/internal/azurite"
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

func TestHandlerServesOnTheHostPortFromAConnectionStringAndStopsOnCancel(t *testing.T) {
	port := freePort(t)
	t.Setenv("FUNCTIONS_CUSTOMHANDLER_PORT", fmt.Sprint(port))
	t.Setenv("SPOOL_STORAGE_CONNECTION_STRING", storage.Get(t).ConnectionString())
	t.Setenv("SPOOL_STORAGE_ACCOUNT", "")
	t.Setenv("SPOOL_TABLE_PREFIX", "cmdhandler")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, slog.New(slog.DiscardHandler)) }()

	base := fmt.Sprintf("http://127.0.0.1:%d/api", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/metadata")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("handler exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("handler did not listen within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	resp, err := http.Post(base+"/buffers?api-version=1.0", "application/json", strings.NewReader(`{"tags":{"from":"cmd"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("handler did not stop after cancel")
	}
}

func TestHandlerRefusesToStartWithoutStorage(t *testing.T) {
	t.Setenv("SPOOL_STORAGE_CONNECTION_STRING", "")
	t.Setenv("SPOOL_STORAGE_ACCOUNT", "")
	err := run(context.Background(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "SPOOL_STORAGE_CONNECTION_STRING") {
		t.Errorf("got %v", err)
	}
}
