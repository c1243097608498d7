package handler

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryHandlerLogCallPassesTheRequestContext keeps "every log line carries the
// request and invocation IDs" true as code is added: requestAttrs finds them in
// the context, so a call without one (a.log.Warn rather than a.log.WarnContext)
// would log a line nobody can tie to a request.
func TestEveryHandlerLogCallPassesTheRequestContext(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	contextless := regexp.MustCompile(`\.log\.(Debug|Info|Warn|Error|Log)\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(raw), "\n") {
			if contextless.MatchString(line) {
				t.Errorf("%s:%d logs without the request's context: %s", f, n+1, strings.TrimSpace(line))
			}
		}
	}
}
