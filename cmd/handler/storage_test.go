package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/azurite"
	"spool/internal/reliability"
)

// connectionString names an Azurite on the given ports, running or not.
func connectionString(blobPort, tablePort int) string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%d/%s;TableEndpoint=http://127.0.0.1:%d/%s;",
		azurite.AccountName, azurite.AccountKey, blobPort, azurite.AccountName, tablePort, azurite.AccountName)
}

// wantUnavailable checks that a route answered 503 with Retry-After.
func wantUnavailable(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("%s: %d (Retry-After %q) %s; want 503 with Retry-After", what, r.status, r.header.Get("Retry-After"), r.body)
	}
}

func TestHandlerListensBeforeStorageAnswersAndServesOnceItDoes(t *testing.T) {
	blobPort, tablePort := freePort(t), freePort(t)
	h := startHandler(t, env{"SPOOL_STORAGE_CONNECTION_STRING": connectionString(blobPort, tablePort), "SPOOL_TABLE_PREFIX": "cold"})
	t.Logf("accepting connections %v after run started, with no storage listening", h.waited)

	status, checks := h.health(t)
	if status != http.StatusServiceUnavailable || !strings.Contains(checks["table"], "tables not created yet") ||
		checks["blob"] != "unavailable: no answer from the blob service" {
		t.Errorf("healthz without storage: %d %v", status, checks)
	}
	wantUnavailable(t, "create without storage", h.do(t, http.MethodPost, "/buffers", `{}`))
	wantUnavailable(t, "list without storage", h.do(t, http.MethodGet, "/buffers", ""))
	wantUnavailable(t, "count without storage", h.do(t, http.MethodGet, "/buffers/count", ""))
	if r := h.do(t, http.MethodGet, "/metadata", ""); r.status != http.StatusOK {
		t.Errorf("metadata without storage: %d %s", r.status, r.body)
	}

	in, err := azurite.Start(azurite.Options{BlobPort: blobPort, TablePort: tablePort})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	h.waitHealthy(t)
	h.createAndShow(t)
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "handler started while storage does not answer (first deploy), storage comes up later",
		Tries:   1,
		Outcome: "listens at once; healthz 503 \"tables not created yet\", routes 503 with Retry-After; healthy and serving once storage answers, no restart",
	})
}

// tableNames lists the handler's tables with the given prefix.
func tableNames(prefix string) []string {
	return []string{prefix + "buffers", prefix + "bufferorder", prefix + "buffertags", prefix + "bufferexpiry"}
}

func deleteTables(t *testing.T, in *azurite.Instance, prefix string) {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(in.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tableNames(prefix) {
		if _, err := svc.DeleteTable(context.Background(), name, nil); err != nil {
			t.Fatalf("deleting table %s: %v", name, err)
		}
	}
}

// wantNo500 tries every kind of route on a buffer that may be gone and fails on a
// 500; it returns how many answers it saw.
func wantNo500(t *testing.T, h *running, id string) int {
	t.Helper()
	routes := []struct{ method, path, body string }{
		{http.MethodGet, "/buffers", ""},
		{http.MethodGet, "/buffers?tag.from=cmd", ""},
		{http.MethodGet, "/buffers/count", ""},
		{http.MethodGet, "/buffers/" + id, ""},
		{http.MethodPut, "/buffers/" + id, `{"tags":{"from":"cmd","again":"1"}}`},
		{http.MethodPost, "/buffers/" + id + "/access", ""},
		{http.MethodDelete, "/buffers/" + id, ""},
		{http.MethodPost, "/buffers/" + id + "/restore", ""},
	}
	for _, rt := range routes {
		if r := h.do(t, rt.method, rt.path, rt.body); r.status >= 500 && r.status != http.StatusServiceUnavailable {
			t.Errorf("%s %s after storage came back empty: %d %s", rt.method, rt.path, r.status, r.body)
		}
	}
	return len(routes)
}

func TestHandlerRecreatesTablesThatVanishAndHealthzSaysSo(t *testing.T) {
	in, err := azurite.Start(azurite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	const prefix = "wiped"
	h := startHandler(t, env{"SPOOL_STORAGE_CONNECTION_STRING": in.ConnectionString(), "SPOOL_TABLE_PREFIX": prefix})
	h.waitHealthy(t)
	id := h.createAndShow(t)

	// A route meeting the missing tables creates them and succeeds.
	deleteTables(t, in, prefix)
	h.createAndShow(t)

	// healthz meeting them says so, and the routes never answer 500.
	deleteTables(t, in, prefix)
	status, checks := h.health(t)
	if status != http.StatusServiceUnavailable || checks["table"] != "unavailable: tables missing" {
		t.Errorf("healthz with the tables deleted: %d %v", status, checks)
	}
	tries := wantNo500(t, h, id)
	h.waitHealthy(t)
	h.createAndShow(t)

	// An emulator that restarts with nothing in it.
	in.Kill()
	if status, checks := h.health(t); status != http.StatusServiceUnavailable {
		t.Errorf("healthz with storage down: %d %v", status, checks)
	}
	if err := in.Restart(); err != nil {
		t.Fatal(err)
	}
	tries += wantNo500(t, h, id)
	h.waitHealthy(t)
	h.createAndShow(t)
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "table service comes back without spool's tables (tables deleted twice; in-memory Azurite killed and restarted empty)",
		Tries:   tries + 3,
		Outcome: "no 500: a call meeting a missing table recreates the tables and retries once; healthz 503 \"tables missing\" until they exist; creates work again without a restart",
	})
}

func TestHealthzSaysAccessDeniedWhileStorageRefusesTheApp(t *testing.T) {
	// A wrong key stands for role assignments that have not applied yet: storage
	// answers, but 403. (Azurite cannot refuse a role; a wrong key is a refusal a
	// retry cannot cure, which a route that reaches blob storage answers 500, so
	// only the table side is checked here.)
	const wrongKey = "d3Jvbmcga2V5IGZvciBhIHRlc3Q="
	cs := strings.Replace(storage.Get(t).ConnectionString(), azurite.AccountKey, wrongKey, 1)
	h := startHandler(t, env{"SPOOL_STORAGE_CONNECTION_STRING": cs, "SPOOL_TABLE_PREFIX": "denied"})
	var checks map[string]string
	for deadline := time.Now().Add(60 * time.Second); ; {
		var status int
		status, checks = h.health(t)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("healthz with a refused key: %d %v", status, checks)
		}
		if strings.Contains(checks["table"], "access denied") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if checks["table"] != "unavailable: tables not created yet: access denied (role assignments can take minutes to apply)" {
		t.Errorf("healthz table check: %q", checks["table"])
	}
	wantUnavailable(t, "list while refused", h.do(t, http.MethodGet, "/buffers", ""))
	if strings.Contains(h.logs(), wrongKey) {
		t.Error("the log holds the key")
	}
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "storage refuses the app (403, as before role assignments apply)",
		Tries:   1,
		Outcome: "handler keeps running; healthz 503 \"tables not created yet: access denied\"; routes 503 with Retry-After",
	})
}
