package localstack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"spool/internal/reliability"
)

// stopMethod is one way a developer stops the local stack.
type stopMethod struct {
	name   string
	launch launch
	sig    syscall.Signal
	group  bool // to the whole foreground process group, as a terminal's Ctrl-C
}

var stopMethods = []stopMethod{
	{"Ctrl-C on make run (SIGINT to the process group)", viaMake, syscall.SIGINT, true},
	{"SIGTERM to make", viaMake, syscall.SIGTERM, false},
	{"SIGINT to make", viaMake, syscall.SIGINT, false},
	{"Ctrl-C on the script (SIGINT to the process group)", viaScript, syscall.SIGINT, true},
	{"SIGTERM to the script", viaScript, syscall.SIGTERM, false},
	{"SIGINT to the script", viaScript, syscall.SIGINT, false},
}

// A Node stack trace ("    at Server.close (node:net:...)"), an unhandled error
// from Azurite, or a Go panic.
var crashOutput = regexp.MustCompile(`(?m)^\s+at .+:\d+:\d+\)?$|Cannot close server|Exit(ing)? due to|Unhandled|^panic: |^goroutine \d+ `)

// written is what a test wrote through the CLI and expects back after a restart.
type written struct {
	id   string
	tags map[string]string
	data []byte
}

// TestStoppingTheLocalStackAtOnceAfterAWriteKeepsEverythingAndLeavesNoProcess
// starts the stack as a developer does, writes a buffer through the real CLI, stops
// the stack at once (well inside Azurite's 5 s autosave) in each way a developer
// stops it, starts it again on the same data and reads everything back.
func TestStoppingTheLocalStackAtOnceAfterAWriteKeepsEverythingAndLeavesNoProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack twelve times")
	}
	t.Parallel() // beside the sweep test, which mostly waits for the clock
	for _, m := range stopMethods {
		t.Run(m.name, func(t *testing.T) {
			cfg := newStackConfig(t)
			s := startStack(t, cfg, m.launch)
			want := writeBuffer(t, cfg)
			stopAndCheck(t, s, m)

			again := startStack(t, cfg, viaScript)
			checkBuffer(t, cfg, want)
			stopAndCheck(t, again, stopMethod{name: "restart", sig: syscall.SIGINT, group: true})
			reliability.Record(t, reliability.Row{
				Area:    "local stack",
				Fault:   m.name + " right after a write (make run / scripts/run-local.sh)",
				Tries:   1,
				Bytes:   int64(len(want.data)),
				Outcome: "stopped cleanly (no stack trace, no process left); after a restart the record, its tags and data are all there",
			})
		})
	}
}

// writeBuffer creates a tagged buffer and writes 1 MiB to it with the CLI.
func writeBuffer(t *testing.T, cfg stackConfig) written {
	t.Helper()
	w := written{tags: map[string]string{"project": "localstack", "stage": "raw"}}
	w.id = mustCLI(t, cfg, "buffer", "create", "--tag", "project=localstack", "--tag", "stage=raw")
	file := filepath.Join(t.TempDir(), "data")
	mustCLI(t, cfg, "buffer", "gen", "1M", "-o", file)
	mustCLI(t, cfg, "buffer", "write", w.id, "-i", file)
	var err error
	if w.data, err = os.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	return w
}

// checkBuffer reads the record and the data back; `spool buffer read` checks
// every blob's MD5 and the hash chain on the way.
func checkBuffer(t *testing.T, cfg stackConfig, w written) {
	t.Helper()
	var rec struct {
		ID   string            `json:"id"`
		Tags map[string]string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, cfg, "buffer", "show", w.id)), &rec); err != nil {
		t.Fatalf("show: %v", err)
	}
	if rec.ID != w.id || !maps.Equal(rec.Tags, w.tags) {
		t.Errorf("after the restart the record is %+v; want id %s, tags %v", rec, w.id, w.tags)
	}
	out := filepath.Join(t.TempDir(), "read")
	mustCLI(t, cfg, "buffer", "read", w.id, "-o", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, w.data) {
		t.Errorf("after the restart the buffer holds %d bytes, not the %d written", len(got), len(w.data))
	}
}

// stopAndCheck stops the stack by m and checks it stopped cleanly: it exits, both
// emulators report a clean close (the table one saves its database then), nothing
// crashed, and no process it started is left.
func stopAndCheck(t *testing.T, s *stack, m stopMethod) {
	t.Helper()
	procs := processTree(s.cmd.Process.Pid)
	s.signal(t, m.sig, m.group)
	s.waitExited(t)
	out := s.output()
	var problems []string
	for _, want := range []string{"Azurite Table service successfully closed", "Azurite Blob service successfully closed", "run: stopped"} {
		if !strings.Contains(out, want) {
			problems = append(problems, fmt.Sprintf("the output lacks %q", want))
		}
	}
	if crash := crashOutput.FindString(out); crash != "" {
		problems = append(problems, fmt.Sprintf("the output shows a crash (%q)", crash))
	}
	if strings.Contains(out, "did not stop within") {
		problems = append(problems, "a process had to be killed")
	}
	if len(procs) < 4 {
		problems = append(problems, fmt.Sprintf("only %d processes seen before the stop (want make or the script, two emulators, the handler)", len(procs)))
	}
	// The script reaps its children; give the kernel a moment for the rest.
	deadline := time.Now().Add(10 * time.Second)
	for len(stillRunning(procs)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range stillRunning(procs) {
		problems = append(problems, fmt.Sprintf("process %d (%s) is still running", p.pid, p.cmdline))
	}
	for _, p := range problems {
		t.Errorf("%s: %s", m.name, p)
	}
	if len(problems) > 0 || testing.Verbose() {
		t.Logf("%s: the stack's output:\n%s", m.name, out)
	}
}
