package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"spool/internal/reliability"
)

// dirNames lists dir, so a test can see that no temporary file was left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// existingFile is a file with old content and an unusual mode, for read -o to
// replace or keep.
func existingFile(t *testing.T, dir string) (path string, old []byte) {
	t.Helper()
	path, old = filepath.Join(dir, "out.bin"), []byte("old content that must survive a failed read\n")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	return path, old
}

// checkUntouched pins that path still holds old, with its mode, and that nothing
// else is in its directory.
func checkUntouched(t *testing.T, path string, old []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, old) {
		t.Errorf("the existing output now holds %q (err %v), want its old content", got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("the existing output's mode: %v, %v", fi, err)
	}
	if names := dirNames(t, filepath.Dir(path)); len(names) != 1 {
		t.Errorf("the output directory holds %q, want only %s", names, filepath.Base(path))
	}
}

func TestReadOutputReplacesAFileAtomicallyAndOnlyOnceTheBufferIsWhole(t *testing.T) {
	liveServer(t)
	data := generated(t, 300<<10+5)
	id := createBuffer(t)
	if r := runWithInput(context.Background(), bytes.NewReader(data), "buffer", "write", id, "-b", "64K"); r.code != 0 {
		t.Fatalf("write: %+v", r)
	}
	dir := t.TempDir()
	path, old := existingFile(t, dir)
	before, err := os.Open(path) // a reader of the old file while it is replaced
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if r := runCLI(t, "", "buffer", "read", id, "-o", path); r.code != 0 || !summaryLine.MatchString(r.stderr) {
		t.Fatalf("read -o: %+v", r)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the output holds %d bytes (err %v), want the %d written", len(got), err, len(data))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("the replaced output has mode %v, want the old file's 0640", fi.Mode().Perm())
	}
	// Renamed into place, not rewritten: the old file is whole for whoever had it open.
	if got, _ := io.ReadAll(before); !bytes.Equal(got, old) {
		t.Errorf("the old file was rewritten in place: an open reader sees %q", got)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("the output directory holds %q", names)
	}

	fresh := filepath.Join(dir, "fresh.bin")
	if r := runCLI(t, "", "buffer", "read", id, "-o", fresh); r.code != 0 {
		t.Fatalf("read -o a new file: %+v", r)
	}
	plain, err := os.Create(filepath.Join(dir, "plain")) // 0666 less the umask
	if err != nil {
		t.Fatal(err)
	}
	plain.Close()
	want, _ := os.Stat(plain.Name())
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != want.Mode().Perm() {
		t.Errorf("a new output has mode %v, want %v as a plain create gives", fi.Mode().Perm(), want.Mode().Perm())
	}
}

func TestReadOutputOfAFailedBufferLeavesTheExistingFileAlone(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	r := runWithInput(context.Background(), &failingReader{left: 200 << 10}, "buffer", "write", id, "-b", "64K")
	if r.code != exitFailure {
		t.Fatalf("write: %+v", r)
	}
	dir := t.TempDir()
	path, old := existingFile(t, dir)
	r = runCLI(t, "", "buffer", "read", id, "-o", path)
	if r.code != exitFailure || !strings.Contains(r.stderr, "permanently failed") {
		t.Fatalf("read of a failed buffer: %+v", r)
	}
	checkUntouched(t, path, old)
	r = runCLI(t, "", "buffer", "read", id, "-o", filepath.Join(dir, "new.bin"))
	if r.code != exitFailure {
		t.Fatalf("read of a failed buffer into a new file: %+v", r)
	}
	checkUntouched(t, path, old) // and no new.bin, partial or not
	reliability.Record(t, reliability.Row{
		Area:    "read",
		Fault:   "read -o of a failed buffer into an existing file and into a new one",
		Tries:   2,
		Outcome: "exit 1 both times; the existing file keeps its content and mode, no new or temporary file is left",
	})
}

// TestReadOutputInterruptedBySIGINTLeavesNoPartialFile runs the real binary: a read
// of a buffer still being written waits for more data, and a Ctrl-C then must leave
// neither a partial target nor the temporary file, and an existing target as it was.
func TestReadOutputInterruptedBySIGINTLeavesNoPartialFile(t *testing.T) {
	liveServer(t)
	bin := buildSpool(t)
	id := createBuffer(t)
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { runWithInput(context.Background(), pr, "buffer", "write", id, "-b", "64K", "-f", "50ms") })
	defer pw.Close()
	if _, err := pw.Write(generated(t, 200<<10)); err != nil {
		t.Fatal(err)
	}
	for _, existing := range []bool{false, true} {
		dir := t.TempDir()
		path, old := filepath.Join(dir, "out.bin"), []byte(nil)
		if existing {
			path, old = existingFile(t, dir)
		}
		interruptRead(t, bin, id, path)
		if existing {
			checkUntouched(t, path, old)
		} else if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("an interrupted read left %q", names)
		}
	}
	reliability.Record(t, reliability.Row{
		Area:    "read",
		Fault:   "SIGINT to the spool binary mid read -o, into a new and into an existing file",
		Tries:   2,
		Outcome: "exit 130 both times; no partial target and no temporary file; the existing file keeps its content and mode",
	})
}

// interruptRead starts `spool buffer read id -o path`, waits until it has written
// data to its temporary file, and sends it SIGINT.
func interruptRead(t *testing.T, bin, id, path string) {
	t.Helper()
	cmd := exec.Command(bin, "buffer", "read", id, "-o", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !partialWritten(filepath.Dir(path)) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the read wrote nothing in 30 s; stderr %q", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitCanceled || stderr.String() != "spool: canceled\n" {
		t.Fatalf("exit %v, stderr %q", err, stderr.String())
	}
}

// partialWritten says whether dir holds a temporary output file with data in it.
func partialWritten(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".partial") && fi.Size() > 0 {
			return true
		}
	}
	return false
}
