package handler

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// contextlessLog is a log call that cannot carry the request's IDs: requestAttrs
// finds them in the context, so a.log.Warn (not WarnContext) logs a line nobody
// can tie to a request.
var contextlessLog = regexp.MustCompile(`\.log\.(Debug|Info|Warn|Error|Log)\(`)

// TestEveryHandlerLogCallPassesTheRequestContext keeps "every log line carries the
// request and invocation IDs" true as code is added.
func TestEveryHandlerLogCallPassesTheRequestContext(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			checkLogCalls(t, name)
		}
	}
}

func checkLogCalls(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for n, line := range strings.Split(string(raw), "\n") {
		if contextlessLog.MatchString(line) {
			t.Errorf("%s:%d logs without the request's context: %s", file, n+1, strings.TrimSpace(line))
		}
	}
}
