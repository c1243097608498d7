package reliability

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRecordIsANoOpWithoutTheEnvironmentVariable(t *testing.T) {
	t.Setenv(EnvOut, "")
	Record(t, Row{Area: "a", Fault: "f", Tries: 1})
	// Nothing to check but that no cleanup fails; a file would need a name.
}

func TestRecordAppendsOneLinePerRowWhenTheTestEnds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rows.jsonl")
	t.Setenv(EnvOut, out)
	t.Setenv("SPOOL_SOAK", "") // the default command names the short variant
	t.Run("inner", func(t *testing.T) {
		Record(t, Row{Area: "control plane", Fault: "x", Tries: 3, Bytes: 10, Outcome: "ok"})
		if _, err := os.Stat(out); err == nil {
			t.Error("row written before the test ended, so Passed could not be known")
		}
	})
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := ReadRows(f)
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %+v, err %v", rows, err)
	}
	r := rows[0]
	want := "go test ./internal/reliability/ -count=1 -run '^TestRecordAppendsOneLinePerRowWhenTheTestEnds$'"
	if !r.Passed || r.Tries != 3 || r.Bytes != 10 || r.Command != want {
		t.Errorf("row %+v, want command %q", r, want)
	}
}

func TestConcurrentAppendsKeepEveryLineWhole(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rows.jsonl")
	const writers, each = 8, 50
	long := strings.Repeat("o", 2000) // longer lines are likelier to tear if writes split
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := appendRow(out, Row{Fault: fmt.Sprintf("w%d-%d", w, i), Outcome: long, Tries: 1}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadRows(bytes.NewReader(raw))
	if err != nil || len(rows) != writers*each {
		t.Fatalf("%d rows, err %v", len(rows), err)
	}
}

func TestMergeAddsTriesAndBytesAndKeepsFailures(t *testing.T) {
	rows := Merge([]Row{
		{Area: "b", Fault: "f", Command: "c", Tries: 1, Bytes: 5, Outcome: "412", Passed: true},
		{Area: "a", Fault: "g", Command: "c", Tries: 2, Outcome: "ok", Passed: true},
		{Area: "b", Fault: "f", Command: "c", Tries: 4, Bytes: 5, Outcome: "503", Passed: false},
		{Area: "b", Fault: "f", Command: "c", Tries: 1, Outcome: "412", Passed: true},
	})
	if len(rows) != 2 || rows[0].Area != "a" {
		t.Fatalf("%+v", rows)
	}
	f := rows[1]
	if f.Tries != 6 || f.Bytes != 10 || f.Passed || f.Outcome != "412; also: 503" {
		t.Errorf("%+v", f)
	}
}

func TestMarkdownHasOneTablePerAreaAndFlagsFailedTests(t *testing.T) {
	var b bytes.Buffer
	err := WriteMarkdown(&b, []Row{
		{Area: "access", Fault: "read URL | write", Tries: 2, Bytes: 3 << 20, Outcome: "403", Command: "go test ./handler/", Passed: true},
		{Area: "bad input", Fault: "bad JSON", Tries: 9, Outcome: "400", Command: "go test ./x/", Passed: false},
	}, "make reliability")
	if err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## access\n", "## bad input\n",
		"| read URL \\| write | 2 | 3145728 (3.0 MiB) | 403 | `go test ./handler/` |",
		"**TEST FAILED** — 400",
		"**1 classes come from FAILED tests**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestReadRowsNamesTheMalformedLine(t *testing.T) {
	_, err := ReadRows(strings.NewReader("{\"tries\":1}\n\nnot json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("got %v", err)
	}
}

func TestDefaultCommandOfASoakRunNamesSoak(t *testing.T) {
	t.Setenv("SPOOL_SOAK", "1")
	got := defaultCommand("/nowhere/x_test.go", "TestX/sub")
	if !strings.HasPrefix(got, "SPOOL_SOAK=1 go test ") || !strings.HasSuffix(got, "-run '^TestX$'") {
		t.Fatalf("command %q", got)
	}
}
