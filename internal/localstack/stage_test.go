package localstack

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStageHoldsLocalSettingsForFuncStartThatNeverShip pins the documented
// `make stage && cd stage && func start`: the staged app has a local.settings.json
// (the checkout's own, else the sample, which points the handler and the host at the
// local Azurite), and the staged .funcignore keeps it out of a publish. That
// `make package` leaves it out of the zip is pinned by cmd/handler's package test.
func TestStageHoldsLocalSettingsForFuncStartThatNeverShip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Linux handler")
	}
	root := repoRoot(t)
	stage := filepath.Join(t.TempDir(), "stage")
	cmd := exec.Command("make", "-s", "-C", root, "stage", "STAGE_DIR="+stage)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make stage: %v\n%s", err, out)
	}
	source := filepath.Join(root, "local.settings.json")
	if _, err := os.Stat(source); err != nil {
		source = filepath.Join(root, "local.settings.json.sample")
	}
	want, err := os.ReadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(stage, "local.settings.json"))
	if err != nil {
		t.Fatalf("func start needs stage/local.settings.json: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("stage/local.settings.json is not a copy of %s", source)
	}
	ignore, err := os.ReadFile(filepath.Join(stage, ".funcignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !hasLine(ignore, "local.settings.json") {
		t.Errorf("stage/.funcignore does not keep local.settings.json out of a publish:\n%s", ignore)
	}
}

func hasLine(text []byte, line string) bool {
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == line {
			return true
		}
	}
	return false
}
