// Package reliability records, from inside tests, each fault or attack a test tried
// and what came of it, so that RELIABILITY.md is produced by the tests themselves.
//
// Recording is off unless SPOOL_RELIABILITY_OUT names a file; then every row is
// appended to it as one JSON line. Test binaries of several packages run at once
// under `go test ./...`, so each row is a single O_APPEND write.
package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// EnvOut names the environment variable that turns recording on.
const EnvOut = "SPOOL_RELIABILITY_OUT"

// Row is one fault or attack class as one test tried it.
type Row struct {
	// Area groups rows in the report: "control plane", "bad input", "access", ...
	Area string `json:"area"`
	// Fault names what was done, e.g. "50 concurrent PUTs with the same If-Match".
	Fault string `json:"fault"`
	// Tries is how many times it was done.
	Tries int `json:"tries"`
	// Bytes is how much buffer data (or request body) moved while it was done.
	Bytes int64 `json:"bytes"`
	// Outcome says what happened, e.g. "1×200, 49×412; tags are the winner's".
	Outcome string `json:"outcome"`
	// Command reproduces it; empty means `go test ./PKG -run '^TEST$'` for the
	// calling test.
	Command string `json:"command"`
	// Passed is filled in when the test ends: false if the test failed, so a row
	// never claims an outcome its test did not confirm.
	Passed bool `json:"passed"`
}

// Record logs r for the test t. The row is written when t ends, with Passed set
// from t's result; nothing is written unless SPOOL_RELIABILITY_OUT is set.
func Record(t testing.TB, r Row) {
	t.Helper()
	out := os.Getenv(EnvOut)
	if out == "" {
		return
	}
	if r.Command == "" {
		_, file, _, _ := runtime.Caller(1)
		r.Command = defaultCommand(file, t.Name())
	}
	t.Cleanup(func() {
		r.Passed = !t.Failed()
		if err := appendRow(out, r); err != nil {
			t.Errorf("recording reliability row %q: %v", r.Fault, err)
		}
	})
}

// appendRow writes r as one line with a single write, which O_APPEND keeps whole
// when other test processes append to the same file.
func appendRow(path string, r Row) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// defaultCommand is the `go test` line that runs the top-level test named by
// testName in the package whose source file is file.
func defaultCommand(file, testName string) string {
	top, _, _ := strings.Cut(testName, "/")
	pkg := "."
	if root := moduleRoot(filepath.Dir(file)); root != "" {
		if rel, err := filepath.Rel(root, filepath.Dir(file)); err == nil {
			pkg = "./" + filepath.ToSlash(rel) + "/"
		}
	}
	cmd := fmt.Sprintf("go test %s -count=1 -run '^%s$'", pkg, top)
	// A soak run's rows come from the long variants; say so, or the command would
	// reproduce the short ones.
	if os.Getenv("SPOOL_SOAK") == "1" {
		cmd = "SPOOL_SOAK=1 " + cmd
	}
	return cmd
}

// moduleRoot walks up from dir to the directory holding go.mod.
func moduleRoot(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
