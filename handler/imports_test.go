package handler

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHandlerImportsNothingThatTalksToStorage keeps the package to its one job,
// serving the API: storage is reached through Store and Containers, implemented in
// spool/tablestore and spool/blobstore and wired in cmd/handler, so no storage SDK
// and no adapter may be among its dependencies (test files aside).
func TestHandlerImportsNothingThatTalksToStorage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	forbidden := []string{"github.com/Azure/", "github.com/AzureAD/", "spool/tablestore", "spool/blobstore", "spool/client"}
	for _, pkg := range deps {
		for _, prefix := range forbidden {
			if strings.HasPrefix(pkg, prefix) {
				t.Errorf("handler depends on %s", pkg)
			}
		}
	}
	for _, want := range []string{"spool/internal/model", "github.com/gorilla/mux"} {
		if !strings.Contains(" "+strings.Join(deps, " ")+" ", " "+want+" ") {
			t.Errorf("go list -deps does not list %s: the check would prove nothing (%v)", want, deps)
		}
	}
}
