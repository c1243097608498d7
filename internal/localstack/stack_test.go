package localstack

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// toolsDir holds bin/spool and bin/handler, built once for every test here.
var toolsDir string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// A shell without job control starts background jobs with SIGINT ignored, and
	// an ignored signal stays ignored across exec: bash could not even trap it. A
	// handled signal is reset to the default in a child, so handle it here.
	signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	dir, err := os.MkdirTemp("", "spool-localstack-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for _, tool := range []string{"spool", "handler"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, tool), "spool/cmd/"+tool).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", tool, err, out)
			return 1
		}
	}
	toolsDir = dir
	return m.Run()
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// stackConfig is one local stack's ports and data, kept across its restarts.
type stackConfig struct {
	blobPort, tablePort, apiPort int
	dataDir, aliveFile, binDir   string
	env                          []string
}

func newStackConfig(t *testing.T, env ...string) stackConfig {
	t.Helper()
	dir := t.TempDir()
	ports := freePorts(t, 3)
	return stackConfig{
		blobPort: ports[0], tablePort: ports[1], apiPort: ports[2],
		dataDir:   filepath.Join(dir, "azurite"),
		aliveFile: filepath.Join(dir, "make-run.alive"),
		binDir:    filepath.Join(dir, "bin"),
		env:       env,
	}
}

func (c stackConfig) api() string { return fmt.Sprintf("http://127.0.0.1:%d/api", c.apiPort) }

func (c stackConfig) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		// A make running these tests must not hand its own state to the make under test.
		if !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") && !strings.HasPrefix(kv, "MAKELEVEL=") {
			env = append(env, kv)
		}
	}
	return append(env, append([]string{
		"SPOOL_BLOB_PORT=" + strconv.Itoa(c.blobPort),
		"SPOOL_TABLE_PORT=" + strconv.Itoa(c.tablePort),
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(c.apiPort),
		"SPOOL_DATA_DIR=" + c.dataDir,
	}, c.env...)...)
}

// freePorts asks the kernel for n free loopback ports, holding each until all are
// chosen so that they differ.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// launch says how the stack is started: as `make run`, or the script itself.
type launch int

const (
	viaScript launch = iota
	viaMake
)

// stack is one running local stack, started in its own process group as a
// terminal would start it, so a Ctrl-C can be sent to the whole group.
type stack struct {
	cfg     stackConfig
	cmd     *exec.Cmd
	outFile string // the stack's stdout and stderr
	exited  chan struct{}
}

// output is what the stack has printed so far.
func (s *stack) output() string {
	out, err := os.ReadFile(s.outFile)
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	return string(out)
}

func startStack(t *testing.T, cfg stackConfig, how launch) *stack {
	t.Helper()
	root := repoRoot(t)
	var cmd *exec.Cmd
	switch how {
	case viaMake:
		cmd = exec.Command("make", "-s", "-C", root, "run", "BIN_DIR="+cfg.binDir, "RUN_ALIVE="+cfg.aliveFile)
	default:
		cmd = exec.Command(filepath.Join(root, "scripts", "run-local.sh"))
		cmd.Env = append(cmd.Env, "SPOOL_BIN_DIR="+toolsDir)
	}
	cmd.Env = append(cfg.environ(), cmd.Env...)
	// A file, not a pipe: the processes write to it directly, and it can be read
	// at any time, even while they run.
	out, err := os.CreateTemp(t.TempDir(), "stack-output-")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	s := &stack{cfg: cfg, cmd: cmd, outFile: out.Name(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.kill() })
	s.waitHealthy(t)
	return s
}

// waitHealthy waits until the API answers healthz with 200: handler, blob and
// table all up.
func (s *stack) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			t.Fatalf("the stack exited while starting:\n%s", s.output())
		default:
		}
		resp, err := http.Get(s.cfg.api() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the stack did not become healthy in time:\n%s", s.output())
}

// signal sends sig to the launched process, or to its whole process group (what
// Ctrl-C in a terminal does).
func (s *stack) signal(t *testing.T, sig syscall.Signal, group bool) {
	t.Helper()
	pid := s.cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill(%d, %v): %v", pid, sig, err)
	}
}

func (s *stack) waitExited(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(90 * time.Second):
		t.Fatalf("the stack did not stop within 90 s:\n%s", s.output())
	}
}

// kill is the safety net when a test fails half-way: SIGKILL to the launched
// process group and to every process group it made (each child has its own).
func (s *stack) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	for _, p := range processTree(s.cmd.Process.Pid) {
		_ = syscall.Kill(-p.pgrp, syscall.SIGKILL)
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// proc is one process of a stack, with its start time so a reused PID is not
// mistaken for it.
type proc struct {
	pid, pgrp int
	start     string
	cmdline   string
}

// processTree lists root and all its descendants, read from /proc.
func processTree(root int) []proc {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]proc{}
	var self *proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ppid, ok := readProc(pid)
		if !ok {
			continue
		}
		if pid == root {
			self = &p
		}
		children[ppid] = append(children[ppid], p)
	}
	if self == nil {
		return nil
	}
	tree := []proc{*self}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i].pid]...)
	}
	return tree
}

// readProc reads a live (not zombie) process's parent, group and start time.
func readProc(pid int) (p proc, ppid int, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, 0, false
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces, so split after ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return proc{}, 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 || f[0] == "Z" {
		return proc{}, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return proc{pid: pid, pgrp: pgrp, start: f[19], cmdline: strings.ReplaceAll(string(cmdline), "\x00", " ")}, ppid, true
}

// stillRunning is the processes of procs that are alive (same PID, same start time).
func stillRunning(procs []proc) []proc {
	var alive []proc
	for _, p := range procs {
		if now, _, ok := readProc(p.pid); ok && now.start == p.start {
			alive = append(alive, p)
		}
	}
	return alive
}

// runCLI runs the real spool binary against the stack.
func runCLI(t *testing.T, cfg stackConfig, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(toolsDir, "spool"), append([]string{"--server-url", cfg.api()}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("spool %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func mustCLI(t *testing.T, cfg stackConfig, args ...string) string {
	t.Helper()
	out, err := runCLI(t, cfg, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}
