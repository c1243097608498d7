package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"spool/internal/model"
	"spool/internal/reliability"
)

// showStatus runs `buffer show` and decodes the data status it prints.
func showStatus(t *testing.T, id string) model.Buffer {
	t.Helper()
	r := runCLI(t, "", "buffer", "show", id)
	var b model.Buffer
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &b) != nil {
		t.Fatalf("show: %+v", r)
	}
	return b
}

func TestEndToEndShowAndListReportTheDataStatus(t *testing.T) {
	liveServer(t)
	rare := "run" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	empty, written := createBuffer(t, "--tag", "k="+rare), createBuffer(t, "--tag", "k="+rare)
	if r := runCLI(t, "hello", "buffer", "write", written); r.code != 0 {
		t.Fatalf("write: %+v", r)
	}
	if b := showStatus(t, empty); b.Status != model.StatusEmpty {
		t.Fatalf("empty buffer shows %+v", b.DataStatus)
	}
	b := showStatus(t, written)
	if b.Status != model.StatusComplete || b.Size == nil || *b.Size != 5 || *b.Blobs != 1 || b.HashChain == "" || b.CompletedAt == nil {
		t.Fatalf("written buffer shows %+v", b.DataStatus)
	}
	r := runCLI(t, "", "buffer", "list", "--tag", "k="+rare, "--status", "complete")
	var items []model.Buffer
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &items) != nil || len(items) != 1 || items[0].ID != written {
		t.Fatalf("list --status complete: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "list", "--status", "done"); r.code != exitUsage || !strings.Contains(r.stderr, "--status") {
		t.Fatalf("list --status done: %+v", r)
	}
}

// TestEndToEndReadersGiveUpOnASIGKILLedWriter kills the real binary mid-stream:
// it leaves no end marker, so only its stopped heartbeats tell readers, one
// reading along and one starting after the kill, that nothing more will come.
func TestEndToEndReadersGiveUpOnASIGKILLedWriter(t *testing.T) {
	liveServer(t)
	bin := buildSpool(t)
	id := createBuffer(t)
	writer := exec.Command(bin, "buffer", "write", id, "-f", "100ms")
	stdin, err := writer.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdin.Write([]byte("data before the kill\n"))
	const idle = 10 * time.Second // at least two of the writer's 5 s heartbeats
	var wg sync.WaitGroup
	var concurrent, later result
	var killedAt time.Time
	var concurrentEnd, laterEnd time.Time
	wg.Go(func() {
		concurrent = runWithInput(context.Background(), nil, "buffer", "read", id, "--idle-timeout", idle.String())
		concurrentEnd = time.Now()
	})
	time.Sleep(1500 * time.Millisecond) // past a flush and the concurrent reader's start
	writer.Process.Kill()
	writer.Wait()
	killedAt = time.Now()
	wg.Go(func() {
		time.Sleep(time.Second)
		later = runWithInput(context.Background(), nil, "buffer", "read", id, "--idle-timeout", idle.String())
		laterEnd = time.Now()
	})
	wg.Wait()
	for name, r := range map[string]result{"concurrent": concurrent, "later": later} {
		if r.code != exitFailure || !strings.Contains(r.stderr, "the writer stopped") || r.stdout != "data before the kill\n" {
			t.Errorf("%s reader: %+v", name, r)
		}
	}
	for name, end := range map[string]time.Time{"concurrent": concurrentEnd, "later": laterEnd} {
		if took := end.Sub(killedAt); took > idle+8*time.Second {
			t.Errorf("%s reader gave up %v after the kill", name, took)
		}
	}
	if b := showStatus(t, id); b.Status != model.StatusWriting {
		t.Errorf("a killed writer's buffer shows %+v", b.DataStatus)
	}
	reliability.Record(t, reliability.Row{
		Area:    "faults (data plane)",
		Fault:   "writer process SIGKILLed mid-stream (no end marker), a reader reading along and one started after",
		Tries:   1,
		Outcome: "both print the verified data, then exit 1 'the writer stopped' within the idle timeout plus a few seconds",
	})
}

// TestEndToEndTricklingWriterIsReadToTheEndThroughAnIdleTimeout: a byte every
// 10 s, a reader giving up after 6 s of silence, and the heartbeats in between.
func TestEndToEndTricklingWriterIsReadToTheEndThroughAnIdleTimeout(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	done := make(chan result, 1)
	go func() {
		done <- runWithInput(context.Background(), &pacedReader{data: []byte("ab"), piece: 1, pause: 10 * time.Second}, "buffer", "write", id, "-f", "100ms")
	}()
	r := runCLI(t, "", "buffer", "read", id, "--idle-timeout", "6s")
	if w := <-done; w.code != 0 {
		t.Fatalf("write: %+v", w)
	}
	if r.code != 0 || r.stdout != "ab" {
		t.Fatalf("read of a byte every 10 s with --idle-timeout 6s: %+v", r)
	}
}

// killedWrite starts the real binary writing file into a new buffer and
// SIGKILLs it after delay; it returns the buffer.
func killedWrite(t *testing.T, bin, file string, delay time.Duration) string {
	t.Helper()
	id := createBuffer(t)
	writer := exec.Command(bin, "buffer", "write", id, "-i", file, "-b", "1K", "--dop", "1", "--heartbeat-interval", "100ms")
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	writer.Process.Kill()
	writer.Wait()
	return id
}

func TestEndToEndResumeAfterSIGKILLAtSeveralPointsIsByteIdentical(t *testing.T) {
	liveServer(t)
	bin := buildSpool(t)
	data := generated(t, 1<<20)
	file := filepath.Join(t.TempDir(), "data.bin")
	changed := filepath.Join(t.TempDir(), "changed.bin")
	os.WriteFile(file, data, 0o644)
	other := bytes.Clone(data)
	other[100] ^= 1
	os.WriteFile(changed, other, 0o644)

	var ids []string
	for _, delay := range []time.Duration{300 * time.Millisecond, 800 * time.Millisecond, 1500 * time.Millisecond} {
		ids = append(ids, killedWrite(t, bin, file, delay))
	}
	time.Sleep(2300 * time.Millisecond) // the writers count as gone after two heartbeats, in whole seconds
	cutMidway := 0
	for i, id := range ids {
		if showStatus(t, id).Status == "writing" {
			cutMidway++
		}
		if i == 0 {
			r := runCLI(t, "", "buffer", "write", id, "-i", changed, "--resume", "-b", "1K")
			if r.code != exitFailure || !strings.Contains(r.stderr, "does not match") {
				t.Fatalf("resume with a changed file: %+v", r)
			}
		}
		if r := runCLI(t, "", "buffer", "write", id, "-i", file, "--resume"); r.code != 0 {
			t.Fatalf("resume of %s: %+v", id, r)
		}
		r := runCLI(t, "", "buffer", "read", id)
		if r.code != 0 || r.stdout != string(data) {
			t.Fatalf("read after resume: code %d, %d bytes, %s", r.code, len(r.stdout), r.stderr)
		}
		if b := showStatus(t, id); b.Status != "complete" || *b.Size != int64(len(data)) {
			t.Fatalf("after resume: %+v", b.DataStatus)
		}
	}
	if cutMidway == 0 {
		t.Fatal("no kill landed mid-write: the test proved nothing")
	}
	if r := runCLI(t, "data", "buffer", "write", ids[0], "--resume"); r.code != exitUsage || !strings.Contains(r.stderr, "needs the input as a file") {
		t.Fatalf("resume from stdin: %+v", r)
	}
	reliability.Record(t, reliability.Row{
		Area:    "resume",
		Fault:   fmt.Sprintf("writer process SIGKILLed at %d points of a 1 MiB write (%d mid-write), then resumed; once with a changed file first", len(ids), cutMidway),
		Tries:   len(ids),
		Bytes:   int64(len(ids) * len(data)),
		Outcome: "the changed file is refused and changes nothing; every resume completes and reads back byte-identical, status complete",
	})
}

func TestEndToEndReadResumeAfterSIGKILLCompletesTheFileAndRefusesAForeignOne(t *testing.T) {
	liveServer(t)
	bin := buildSpool(t)
	data := generated(t, 8<<20)
	id := createBuffer(t)
	if r := runWithInput(context.Background(), bytes.NewReader(data), "buffer", "write", id, "-b", "16K"); r.code != 0 {
		t.Fatalf("write: %+v", r)
	}
	out := filepath.Join(t.TempDir(), "out.bin")
	reader := exec.Command(bin, "buffer", "read", id, "-o", out, "--resume", "--dop", "1")
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	reader.Process.Kill()
	reader.Wait()
	partial, _ := os.ReadFile(out)
	if len(partial) >= len(data) {
		t.Logf("the reader finished before the kill (%d bytes)", len(partial))
	}
	foreign := filepath.Join(t.TempDir(), "foreign.bin")
	os.WriteFile(foreign, bytes.Repeat([]byte("x"), 20<<10), 0o644)
	if r := runCLI(t, "", "buffer", "read", id, "-o", foreign, "--resume"); r.code != exitFailure || !strings.Contains(r.stderr, "does not match") {
		t.Fatalf("resume into a foreign file: %+v", r)
	}
	if got, _ := os.ReadFile(foreign); !bytes.Equal(got, bytes.Repeat([]byte("x"), 20<<10)) {
		t.Fatal("the foreign file was changed")
	}
	if r := runCLI(t, "", "buffer", "read", id, "-o", out, "--resume"); r.code != 0 {
		t.Fatalf("resume: %+v", r)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatalf("resumed file has %d bytes, identical %v", len(got), bytes.Equal(got, data))
	}
	if r := runCLI(t, "", "buffer", "read", id, "--resume"); r.code != exitUsage || !strings.Contains(r.stderr, "needs the output as a file") {
		t.Fatalf("resume to stdout: %+v", r)
	}
	reliability.Record(t, reliability.Row{
		Area:    "resume",
		Fault:   fmt.Sprintf("reader process SIGKILLed after %d of %d bytes, then read --resume; and --resume into a foreign file", len(partial), len(data)),
		Tries:   1,
		Bytes:   int64(len(data)),
		Outcome: "the file completes byte-identical; the foreign file is refused and left as it was",
	})
}
