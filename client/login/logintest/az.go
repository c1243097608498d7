// Package logintest puts a stub `az` on PATH for tests of `spool login --azure-cli`:
// it prints tokens (minted by the test, e.g. with internal/oidctest) the way
// `az account get-access-token -o json` does, and counts its invocations, so the
// real azidentity AzureCLICredential runs against it.
package logintest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Az is a stub az. Until Answer is called it fails like an az that is not logged in.
type Az struct {
	dir    string
	queued atomic.Int64
}

// StubAz puts a stub az first on PATH for the rest of t; it accepts only a token
// request for resource (the server's audience) and fails on anything else.
func StubAz(t testing.TB, resource string) *Az {
	t.Helper()
	a := &Az{dir: t.TempDir()}
	if err := os.Mkdir(a.path("queue"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Queued answers go first, one per call, in order; then the standing answer.
	script := fmt.Sprintf(`#!/bin/sh
echo "$*" >> %[1]q
case "$*" in
  "account get-access-token -o json --resource %[2]s"*) ;;
  *) echo "ERROR: unexpected arguments: $*" >&2; exit 2 ;;
esac
next=$(ls %[3]q | sort -n | head -n 1)
if [ -n "$next" ]; then cat %[3]q/"$next"; rm -f %[3]q/"$next"; exit 0; fi
if [ -f %[4]q ]; then cat %[4]q; exit 0; fi
echo "ERROR: Please run 'az login' to setup account." >&2
exit 1
`, a.path("calls"), resource, a.path("queue"), a.path("answer.json"))
	if err := os.WriteFile(a.path("az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", a.dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return a
}

func (a *Az) path(name string) string { return filepath.Join(a.dir, name) }

// Answer makes every later call (after any queued ones) print token, expiring at
// expires.
func (a *Az) Answer(t testing.TB, token string, expires time.Time) {
	t.Helper()
	a.writeAtomically(t, a.path("answer.json"), answerJSON(t, token, expires))
}

// Queue makes the next call not yet answered by an earlier Queue print token once.
func (a *Az) Queue(t testing.TB, token string, expires time.Time) {
	t.Helper()
	n := a.queued.Add(1)
	a.writeAtomically(t, filepath.Join(a.path("queue"), fmt.Sprintf("%06d", n)), answerJSON(t, token, expires))
}

// Calls counts the invocations so far.
func (a *Az) Calls(t testing.TB) int {
	t.Helper()
	data, err := os.ReadFile(a.path("calls"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// answerJSON is az's answer: expiresOn in local time (older az) and expires_on in
// Unix seconds (newer az, which azidentity prefers).
func answerJSON(t testing.TB, token string, expires time.Time) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"accessToken":  token,
		"expiresOn":    expires.Local().Format("2006-01-02 15:04:05.000000"),
		"expires_on":   expires.Unix(),
		"subscription": "00000000-0000-0000-0000-000000000000",
		"tenant":       "00000000-0000-0000-0000-0000000000t1",
		"tokenType":    "Bearer",
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// writeAtomically renames a full file into place, so the stub never reads half of one.
func (a *Az) writeAtomically(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := a.path(".tmp-" + filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
