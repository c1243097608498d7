package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"spool/internal/oidctest"
	"spool/internal/reliability"
)

// stagedFunction is one function of a staged app as the Functions host reads it.
type stagedFunction struct {
	name      string
	trigger   string
	authLevel string
	route     string
	methods   []string
}

// stageApp runs `make stage` with AUTH_MODE=mode into a temporary folder and reads
// back its function.json files.
func stageApp(t *testing.T, mode string) (string, []stagedFunction) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "stage")
	cmd := exec.Command("make", "-s", "-C", root, "stage", "AUTH_MODE="+mode, "STAGE_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make stage AUTH_MODE=%s: %v\n%s", mode, err, out)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no staged functions: %v", err)
	}
	var fns []stagedFunction
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Bindings []struct {
				Type, AuthLevel, Route, Direction string
				Methods                           []string
			}
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, b := range doc.Bindings {
			if b.Direction == "in" {
				fns = append(fns, stagedFunction{filepath.Base(filepath.Dir(f)), b.Type, b.AuthLevel, b.Route, b.Methods})
			}
		}
	}
	return dir, fns
}

// TestTheStagedAppTakesNoRequestWithoutAKeyOrAToken stages the app in each mode and
// plays the Functions host: a route whose authLevel is not anonymous is answered by
// the host itself without a function key; an anonymous one reaches the handler,
// which must then answer 401 without a bearer token (metadata aside). In entra
// mode every route is anonymous (Tyger's CLI sends no key), and the handler
// refuses to start without an issuer; in function mode only metadata is. The
// timer is staged, and answered without a token, in both.
func TestTheStagedAppTakesNoRequestWithoutAKeyOrAToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Linux handler")
	}
	iss := oidctest.Start(t)
	for _, mode := range []string{"function", "entra"} {
		t.Run(mode, func(t *testing.T) {
			dir, fns := stageApp(t, mode)
			e := env{"SPOOL_STORAGE_CONNECTION_STRING": storage.Get(t).ConnectionString(), "SPOOL_TABLE_PREFIX": "authmode" + mode}
			if mode == "entra" {
				if err := checkAuthLevels(dir, false); err == nil {
					t.Error("the entra-staged app would start without SPOOL_AUTH_ISSUER")
				}
				e["SPOOL_AUTH_ISSUER"], e["SPOOL_AUTH_AUDIENCE"] = iss.URL, "api://spool-authmode"
			}
			if err := checkAuthLevels(dir, mode == "entra"); err != nil {
				t.Errorf("checkAuthLevels: %v", err)
			}
			h := startHandler(t, e)
			tries := checkStagedRoutes(t, h, mode, fns)
			reliability.Record(t, reliability.Row{
				Area:    "access",
				Fault:   "every staged HTTP route called without a function key or token (AUTH_MODE=" + mode + ")",
				Tries:   tries,
				Outcome: "host demands a key (authLevel function) or the handler answers 401; only metadata and the OpenAPI document are open",
			})
		})
	}
}

// checkStagedRoutes checks each staged function the way the host would route an
// unauthenticated request to it, and returns how many requests it sent.
func checkStagedRoutes(t *testing.T, h *running, mode string, fns []stagedFunction) int {
	t.Helper()
	tries, timers := 0, 0
	for _, fn := range fns {
		switch {
		case fn.trigger == "timerTrigger":
			timers++
			checkTimerRuns(t, strings.TrimSuffix(h.base, "/api")+"/"+fn.name)
		case fn.trigger != "httpTrigger":
			t.Errorf("%s: unexpected trigger %q", fn.name, fn.trigger)
		case slices.Contains(openRoutes, fn.route):
			if r := h.do(t, http.MethodGet, "/"+fn.route, ""); r.status != http.StatusOK {
				t.Errorf("%s without credentials: %d", fn.route, r.status)
			}
		case fn.authLevel != "anonymous":
			if mode == "entra" {
				t.Errorf("%s is authLevel %q in entra mode: Tyger's CLI cannot send a key", fn.name, fn.authLevel)
			}
		case mode != "entra":
			t.Errorf("%s is anonymous in function mode: reachable with no key and no token", fn.name)
		default:
			tries += checkNeedsToken(t, h, fn)
		}
	}
	if timers != 1 {
		t.Errorf("%d timer functions staged, want 1", timers)
	}
	return tries
}

// checkNeedsToken sends each method of an anonymous route without credentials.
func checkNeedsToken(t *testing.T, h *running, fn stagedFunction) int {
	t.Helper()
	path := "/" + strings.ReplaceAll(fn.route, "{id}", "aaaaaaaaaaaaaaaaaaaaaaaaaa")
	for _, m := range fn.methods {
		r := h.do(t, strings.ToUpper(m), path, "")
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s without a token reached the API: %d %s", m, path, r.status, r.body)
		}
	}
	if len(fn.methods) == 0 {
		t.Errorf("%s names no method", fn.name)
	}
	return len(fn.methods)
}

// checkTimerRuns invokes the timer as the host does, without credentials, until the
// sweep succeeds (it answers 500 while the tables are still being created).
func checkTimerRuns(t *testing.T, url string) {
	t.Helper()
	status := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := client.Post(url, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if status = resp.StatusCode; status == http.StatusOK || status == http.StatusUnauthorized {
			break
		}
	}
	if status != http.StatusOK {
		t.Errorf("the host's timer invocation got %d, want 200", status)
	}
}

// TestConfigReadsSignInSettings: the issuer and audience turn sign-in on; an
// audience without an issuer is a mistake, not an open server.
func TestConfigReadsSignInSettings(t *testing.T) {
	base := env{"SPOOL_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k"}
	c, err := configFromEnv(base.get)
	if err != nil || c.auth.Enabled() {
		t.Errorf("without SPOOL_AUTH_*: %v, sign-in %v", err, c.auth.Enabled())
	}
	base["SPOOL_AUTH_ISSUER"] = "https://login.microsoftonline.com/tenant/v2.0"
	base["SPOOL_AUTH_AUDIENCE"] = "api://spool, 0000-app"
	if c, err = configFromEnv(base.get); err != nil || !c.auth.Enabled() || len(c.auth.Audiences) != 2 {
		t.Errorf("with issuer and audiences: %v, %+v", err, c.auth)
	}
	delete(base, "SPOOL_AUTH_ISSUER")
	if _, err := configFromEnv(base.get); err == nil {
		t.Error("an audience without an issuer was accepted")
	}
}
