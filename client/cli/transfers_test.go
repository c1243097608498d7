package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spool/internal/reliability"
)

// writerRun is one finished `spool buffer write` process.
type writerRun struct {
	code   int
	stderr string
}

// raceWriters starts one write process per input, back to back (each then
// takes far longer to start up than the gap between them), all writing to target
// (a buffer ID or a write URL), and waits for them.
func raceWriters(t *testing.T, bin, target string, inputs []string) []writerRun {
	t.Helper()
	cmds := make([]*exec.Cmd, len(inputs))
	stderrs := make([]bytes.Buffer, len(inputs))
	for i, input := range inputs {
		cmds[i] = exec.Command(bin, "buffer", "write", target, "-i", input, "-b", "64K", "--dop", "4")
		cmds[i].Stderr = &stderrs[i]
	}
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	runs := make([]writerRun, len(inputs))
	for i, cmd := range cmds {
		err := cmd.Wait()
		runs[i] = writerRun{stderr: stderrs[i].String()}
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			runs[i].code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	return runs
}

// TestRaceTwoWriterProcessesLeaveExactlyOneOwnerOfTheBuffer starts two real
// `spool buffer write` processes at once on one buffer, by ID (each asks for its
// own write URL) and through one shared write URL. Every round exactly one
// exits 0, the other fails with "another writer owns this buffer", and the
// buffer reads back the winner's bytes exactly: the loser wrote nothing into it.
func TestRaceTwoWriterProcessesLeaveExactlyOneOwnerOfTheBuffer(t *testing.T) {
	liveServer(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "spool")
	if out, err := exec.Command("go", "build", "-o", bin, "spool/cmd/spool").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Different bytes per writer, several blobs each, so an interleaving of the
	// two would show in the read-back.
	contents := [][]byte{generated(t, 700<<10), bytes.Repeat([]byte("the other writer\n"), 700<<10/17)}
	inputs := make([]string, len(contents))
	for i, data := range contents {
		inputs[i] = filepath.Join(dir, fmt.Sprintf("input%d", i))
		if err := os.WriteFile(inputs[i], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rounds := 20
	if soak() {
		rounds = 200
	}
	for _, mode := range []string{"by ID", "by shared write URL"} {
		t.Run(mode, func(t *testing.T) {
			wins := [2]int{}
			for round := range rounds {
				id := createBuffer(t)
				target := id
				if mode == "by shared write URL" {
					r := runCLI(t, "", "buffer", "access", id, "-w")
					if target = strings.TrimSpace(r.stdout); r.code != 0 {
						t.Fatalf("access -w: %+v", r)
					}
				}
				winner := checkOneWinner(t, round, raceWriters(t, bin, target, inputs))
				wins[winner]++
				r := runCLI(t, "", "buffer", "read", id)
				if r.code != 0 || r.stdout != string(contents[winner]) {
					t.Fatalf("round %d: read back exit %d, %d bytes (want writer %d's %d), stderr %q",
						round, r.code, len(r.stdout), winner, len(contents[winner]), r.stderr)
				}
			}
			reliability.Record(t, reliability.Row{
				Area:  "concurrency (data plane)",
				Fault: "two `spool buffer write` processes started at once on one buffer, " + mode,
				Tries: rounds,
				Bytes: int64(rounds) * int64(len(contents[0])+len(contents[1])),
				Outcome: fmt.Sprintf("every round exactly one exit 0 (writer 0 won %d, writer 1 won %d), the other exit 1 "+
					"\"another writer owns this buffer\"; the buffer reads back the winner's bytes exactly", wins[0], wins[1]),
			})
		})
	}
}

// checkOneWinner fails the test unless exactly one run succeeded and the other
// failed with the clear ownership error; it returns the winner's index.
func checkOneWinner(t *testing.T, round int, runs []writerRun) int {
	t.Helper()
	winner := -1
	for i, r := range runs {
		switch {
		case r.code == 0 && winner < 0:
			winner = i
		case r.code == 0:
			t.Fatalf("round %d: both writers exited 0 (%+v)", round, runs)
		case r.code != exitFailure || !strings.Contains(r.stderr, "another writer owns this buffer") || strings.Count(r.stderr, "\n") != 1:
			t.Fatalf("round %d: writer %d exit %d, stderr %q; want exit 1 and one line saying another writer owns this buffer",
				round, i, r.code, r.stderr)
		}
	}
	if winner < 0 {
		t.Fatalf("round %d: no writer succeeded (%+v)", round, runs)
	}
	return winner
}

func TestTransferOptionsOutsideTheLimitsAreUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"buffer", "write", fakeID, "-b", "1"}, "invalid block size 1B: it must be from 1KiB to"},
		{[]string{"buffer", "write", fakeID, "-b", "4000M"}, "over the 2GiB memory limit; use a block size of at most 682MiB"},
		{[]string{"buffer", "write", fakeID, "--dop", "5000"}, "invalid dop 5000: it must be from 1 to 1000"},
		{[]string{"buffer", "read", fakeID, "--dop", "5000"}, "invalid dop 5000: it must be from 1 to 1000"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCLI(t, "", tc.args...)
			if r.code != exitUsage || !strings.HasPrefix(r.stderr, "spool: ") || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("exit %d, stderr %q; want exit 2 saying %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// expiredURLFile writes a file holding a write URL for id whose expiry (se) was
// an hour ago, and returns its path. The handler signs no URL already dead, so
// the expiry of a real one is moved back; storage refuses it as it refuses an
// expired one (403), and the engine sees the same se in the past.
func expiredURLFile(t *testing.T, id string) string {
	t.Helper()
	r := runCLI(t, "", "buffer", "access", id, "-w")
	u, err := url.Parse(strings.TrimSpace(r.stdout))
	if r.code != 0 || err != nil {
		t.Fatalf("access -w: %+v, %v", r, err)
	}
	q := u.Query()
	q.Set("se", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	u.RawQuery = q.Encode()
	path := filepath.Join(t.TempDir(), "url.txt")
	if err := os.WriteFile(path, []byte(u.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFaultsWaitsThatCannotEndFailInSecondsAndSayWhatTheyWaitFor pins the two
// silent waits that used to be: a URL file holding an expired URL (4.5 minutes),
// and a blob endpoint nothing listens on (about 96 s and 18 retry lines).
func TestFaultsWaitsThatCannotEndFailInSecondsAndSayWhatTheyWaitFor(t *testing.T) {
	liveServer(t)
	gone := httptest.NewServer(nil)
	gone.Close()
	closed := gone.Listener.Addr().String()
	cases := []struct {
		name, before string
		args         []string
		warning      string
		err          string
	}{
		{"a URL file holding an expired write URL", "4.5 min of silence",
			[]string{"buffer", "write", expiredURLFile(t, createBuffer(t))},
			"waiting for a renewed one", "the access URL expired at "},
		{"a read URL for a blob endpoint on a closed port", "about 96 s and 18 retry lines",
			[]string{"buffer", "read", "http://" + closed + "/devstoreaccount1/" + fakeID + "?se=2099-01-01T00%3A00%3A00Z&sp=r&sig=SECRET"},
			"waiting for the blob service at " + closed + " (connection refused), retrying…", "did not answer for 10s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := runWithInput(context.Background(), strings.NewReader("some data"), tc.args...)
			elapsed := time.Since(start)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != exitFailure || len(lines) != 2 || !strings.Contains(lines[0], "spool: warning: ") ||
				!strings.Contains(lines[0], tc.warning) || !strings.Contains(lines[1], tc.err) || strings.Contains(r.stderr, "SECRET") {
				t.Fatalf("exit %d, stderr %q; want exit 1, one warning saying %q, then an error saying %q", r.code, r.stderr, tc.warning, tc.err)
			}
			if elapsed > 20*time.Second {
				t.Fatalf("failed after %v", elapsed)
			}
			reliability.Record(t, reliability.Row{
				Area:    faultArea,
				Fault:   "`spool buffer " + tc.args[1] + "` with " + tc.name,
				Tries:   1,
				Outcome: fmt.Sprintf("one warning line (%q), then exit 1 %q… within 20 s (was %s)", tc.warning, tc.err, tc.before),
			})
		})
	}
}
