package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"spool/internal/model"
)

const fakeID = "abcdefghijklmnopqrstuvwxyz"

// result is one in-process run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestHelpExplainsEveryCommandAndExitsZero(t *testing.T) {
	for _, cmd := range commands() {
		for _, spelling := range []string{"buffer", "buffers"} {
			r := runCLI(t, "", spelling, cmd.name, "--help")
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("%s %s --help: exit %d, stderr %q", spelling, cmd.name, r.code, r.stderr)
			}
			for _, want := range []string{"Usage: spool buffer " + cmd.name, "Flags:", "--server-url", "Example:\n  spool buffer "} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%s --help lacks %q:\n%s", cmd.name, want, r.stdout)
				}
			}
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"buffer", "--help"}, {"buffer", "help"}} {
		r := runCLI(t, "", args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "Commands") || !strings.Contains(r.stdout, "gen ") {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
}

func TestUsageErrorsExitTwoWithOneLineAndAHint(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "a command is required"},
		{[]string{"buffer"}, "a buffer command is required"},
		{[]string{"bufer", "list"}, `unknown command "bufer"`},
		{[]string{"buffer", "lst"}, `unknown command "lst"`},
		{[]string{"buffer", "show"}, "missing the buffer ID"},
		{[]string{"buffer", "show", fakeID, "extra"}, `unexpected argument "extra"`},
		{[]string{"buffer", "create", "--nope"}, "unknown flag: --nope"},
		{[]string{"buffer", "create", "--tag", "novalue"}, "novalue must be formatted as key=value"},
		{[]string{"buffer", "create", "--tag", "bad key=v"}, `invalid tag key "bad key"`},
		{[]string{"buffer", "create", "--tag", "k=v w"}, `invalid value "v w" for tag "k"`},
		{[]string{"buffer", "set", fakeID}, "give the new tags with --tag"},
		{[]string{"buffer", "list", "--limit", "-1"}, "--limit must be a non-negative integer"},
		{[]string{"buffer", "list", "--limit", "x"}, "invalid argument"},
		{[]string{"buffer", "list", "--exclude-tag", "a=b c"}, "--exclude-tag: invalid value"},
		{[]string{"buffer", "write", fakeID, "--block-size", "0"}, "it must be at least 1 byte"},
		{[]string{"buffer", "write", fakeID, "-b", "5000M"}, "it must be at most 4000M"},
		{[]string{"buffer", "write", fakeID, "-b", "1.5"}, "not a whole number of bytes"},
		{[]string{"buffer", "gen", "0.1K"}, "not a whole number of bytes"},
		{[]string{"buffer", "access", fakeID, "--access-ttl", "0.00:00:10"}, "at least 30 seconds"},
		{[]string{"--server-url", "http:/127.0.0.1:7071/api?code=K", "buffer", "show", fakeID}, "--server-url: invalid server URL"},
		{[]string{"buffer", "list", "--server-url", "ftp://127.0.0.1/api"}, "--server-url: invalid server URL"},
		{[]string{"buffer", "access", fakeID, "--access-ttl", "0.02:00:00"}, "must be less than or equal to 01:00:00"},
		{[]string{"buffer", "access", fakeID, "--access-ttl", "10m"}, "--access-ttl: The ttl \"10m\" is not a valid TimeSpan"},
		{[]string{"buffer", "read", fakeID, "--access-ttl", "0.00:00:05"}, "at least 30 seconds"},
		{[]string{"buffer", "write", fakeID, "--access-ttl", "2"}, "must be less than or equal to 01:00:00"},
		{[]string{"buffer", "write", fakeID, "--block-size", "-4M"}, "must not be negative"},
		{[]string{"buffer", "write", fakeID, "-b", "16m"}, `invalid size "16m"`},
		{[]string{"buffer", "write", fakeID, "--dop", "0"}, "--dop must be at least 1"},
		{[]string{"buffer", "write", fakeID, "-f", "-1s"}, "--flush-interval must not be negative"},
		{[]string{"buffer", "write", fakeID, "-f", "soon"}, "invalid argument"},
		{[]string{"buffer", "read", fakeID, "--dop", "-3"}, "--dop must be at least 1"},
		{[]string{"buffer", "read"}, "missing the BUFFER to read"},
		{[]string{"buffer", "gen"}, "missing the SIZE"},
		{[]string{"buffer", "gen", "1G512M"}, `invalid size "1G512M"`},
		{[]string{"buffer", "gen", "--", "-1"}, "must not be negative"},
	}
	for _, tc := range cases {
		r := runCLI(t, "", tc.args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, r.code, r.stderr)
			continue
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		first := lines[len(lines)-2] // the error, just before the hint
		if !strings.HasPrefix(first, "spool: ") || !strings.Contains(first, tc.want) {
			t.Errorf("%v: stderr %q, want a line 'spool: ...%s...'", tc.args, r.stderr, tc.want)
		}
		if !strings.Contains(lines[len(lines)-1], "--help' for usage") {
			t.Errorf("%v: no hint in %q", tc.args, r.stderr)
		}
		if r.stdout != "" && len(tc.args) > 1 {
			t.Errorf("%v: stdout %q", tc.args, r.stdout)
		}
	}
}

func TestBadBufferArgumentsFailWithoutTouchingTheServer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	t.Setenv("SPOOL_SERVER_URL", srv.URL+"/api")
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "keep")
	if err := os.WriteFile(existing, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"buffer", "show", "NOT-AN-ID"}, `"NOT-AN-ID" is not a buffer ID`},
		{[]string{"buffer", "access", "short"}, `"short" is not a buffer ID`},
		{[]string{"buffer", "read", "nope"}, `"nope" is not a buffer ID, an access URL, or the path of a file holding one`},
		{[]string{"buffer", "read", big, "-o", existing}, "smaller than 2 KiB"},
		{[]string{"buffer", "write", "ftp://example.com/c?sig=SECRET"}, `scheme "ftp"`},
		{[]string{"buffer", "write", filepath.Join(dir, "missing")}, "is not a buffer ID, an access URL"},
		{[]string{"buffer", "read", "https://example.com/c?sig=SECRET", "--access-ttl", "0.00:05:00"}, "only be given with a buffer ID"},
	}
	for _, tc := range cases {
		r := runCLI(t, "", tc.args...)
		if r.code != exitFailure || !strings.HasPrefix(r.stderr, "spool: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
		if strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "SECRET") {
			t.Errorf("%v: stderr is not one clean line: %q", tc.args, r.stderr)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("server called %d times", calls.Load())
	}
	if data, _ := os.ReadFile(existing); string(data) != "precious" {
		t.Errorf("a failed read truncated its output file: %q", data)
	}
}

func TestAnAccessTTLTheServerWouldRefuseIsRefusedBeforeAnyRequest(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	t.Setenv("SPOOL_SERVER_URL", srv.URL+"/api")
	for _, cmd := range []string{"access", "read", "write"} {
		for _, ttl := range []string{"0.00:00:10", "0.01:00:01", "1", "soon"} {
			if r := runCLI(t, "", "buffer", cmd, fakeID, "--access-ttl", ttl); r.code != exitUsage || !strings.Contains(r.stderr, "--access-ttl") {
				t.Errorf("%s --access-ttl %s: %+v", cmd, ttl, r)
			}
		}
	}
	if calls.Load() != 0 {
		t.Errorf("server called %d times", calls.Load())
	}
}

func TestGenWritesTygersPattern(t *testing.T) {
	r := runCLI(t, "", "buffer", "gen", "3M")
	sum := sha256.Sum256([]byte(r.stdout))
	if r.code != 0 || hex.EncodeToString(sum[:]) != "09d7daed99c15bcee48dfa269c7597a1036a371c90100dda6f4fdcfe7ab79385" {
		t.Fatalf("exit %d, %d bytes, sha256 %x", r.code, len(r.stdout), sum)
	}
	out := filepath.Join(t.TempDir(), "g")
	if r := runCLI(t, "", "buffer", "gen", "100", "-o", out); r.code != 0 || r.stdout != "" {
		t.Fatalf("gen -o: %+v", r)
	}
	if data, _ := os.ReadFile(out); len(data) != 100 || string(data[:4]) != ":;<=" {
		t.Fatalf("gen -o wrote %q", data)
	}
}

// fakeAPI is a small in-memory /api/buffers for exercising the commands.
type fakeAPI struct {
	t       *testing.T
	buffers []model.Buffer
	keySeen atomic.Value // the last x-functions-key header
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.keySeen.Store(r.Header.Get("x-functions-key"))
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/buffers":
		var req struct{ Tags map[string]string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		b := model.Buffer{ID: fakeID, CreatedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Location: "local", Tags: req.Tags, ETag: "1"}
		f.buffers = append(f.buffers, b)
		reply(http.StatusCreated, b)
	case r.Method == http.MethodGet && r.URL.Path == "/api/buffers":
		// Pages of two, linked Tyger-style relative to the API root.
		start := 0
		fmt.Sscan(r.URL.Query().Get("_ct"), &start)
		end := min(start+2, len(f.buffers))
		page := model.BufferList{Items: f.buffers[start:end]}
		if end < len(f.buffers) {
			page.NextLink = fmt.Sprintf("/buffers?_ct=%d", end)
		}
		reply(http.StatusOK, page)
	case r.URL.Path == "/api/buffers/"+fakeID && r.Method == http.MethodGet:
		reply(http.StatusOK, f.buffers[0])
	case r.URL.Path == "/api/buffers/"+fakeID && r.Method == http.MethodPut:
		if m := r.Header.Get("If-Match"); m != "" && m != f.buffers[0].ETag {
			reply(http.StatusPreconditionFailed, model.ErrorBody{Error: model.ErrorInfo{Code: "PreconditionFailed", Message: "ETag does not match"}})
			return
		}
		var req struct{ Tags map[string]string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.buffers[0].Tags = req.Tags
		f.buffers[0].ETag += "1"
		reply(http.StatusOK, f.buffers[0])
	default:
		reply(http.StatusNotFound, model.ErrorBody{Error: model.ErrorInfo{Code: "NotFound", Message: "The resource was not found"}})
	}
}

func TestControlPlaneCommandsAgainstAFakeServer(t *testing.T) {
	api := &fakeAPI{t: t}
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("SPOOL_SERVER_URL", "http://127.0.0.1:1/api") // the flag must win
	t.Setenv("SPOOL_FUNCTION_KEY", "fn-key-123")
	server := "--server-url=" + srv.URL + "/api"

	r := runCLI(t, "", "buffer", "create", server, "--tag", "a=1,b=2", "--tag", "c=")
	if r.code != 0 || r.stdout != fakeID+"\n" {
		t.Fatalf("create: %+v", r)
	}
	if got := api.keySeen.Load(); got != "fn-key-123" {
		t.Errorf("x-functions-key = %v", got)
	}
	if tags := api.buffers[0].Tags; len(tags) != 3 || tags["b"] != "2" || tags["c"] != "" {
		t.Errorf("tags sent = %v", tags)
	}

	r = runCLI(t, "", "--server-url", srv.URL+"/api", "buffer", "create", "--full-resource")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "{\n  \"id\": \""+fakeID+"\",\n  \"createdAt\"") {
		t.Fatalf("create --full-resource: %+v", r)
	}

	r = runCLI(t, "", "buffer", "show", fakeID, server)
	var b model.Buffer
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &b) != nil || b.ETag != "1" || b.Tags["a"] != "1" {
		t.Fatalf("show: %+v", r)
	}

	r = runCLI(t, "", "buffer", "set", fakeID, server, "--tag", "only=this", "--etag", "1")
	if r.code != 0 || !strings.Contains(r.stdout, `"only": "this"`) || strings.Contains(r.stdout, `"a"`) {
		t.Fatalf("set: %+v", r)
	}
	r = runCLI(t, "", "buffer", "set", fakeID, server, "--tag", "x=y", "--etag", "1")
	if r.code != exitFailure || r.stderr != "spool: the buffer changed since that etag (PreconditionFailed)\n" {
		t.Fatalf("set with a stale etag: %+v", r)
	}

	r = runCLI(t, "", "buffer", "show", strings.Repeat("q", 26), server)
	if r.code != exitFailure || r.stderr != `spool: buffer "`+strings.Repeat("q", 26)+`" not found`+"\n" {
		t.Fatalf("show unknown: %+v", r)
	}
	if strings.Contains(r.stderr, "fn-key-123") {
		t.Fatal("function key echoed")
	}
}

func TestListFollowsPagesAndWarnsWhenTruncated(t *testing.T) {
	api := &fakeAPI{t: t}
	for i := range 5 {
		api.buffers = append(api.buffers, model.Buffer{ID: fmt.Sprintf("b%d", i), Tags: map[string]string{}})
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("SPOOL_SERVER_URL", srv.URL+"/api")

	var items []model.Buffer
	r := runCLI(t, "", "buffer", "list")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &items) != nil || len(items) != 5 || r.stderr != "" {
		t.Fatalf("list: %+v", r)
	}
	if !strings.HasPrefix(r.stdout, "[\n  {\n    \"id\": \"b0\"") {
		t.Errorf("not pretty-printed: %q", r.stdout)
	}
	r = runCLI(t, "", "buffer", "list", "--limit", "3")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &items) != nil || len(items) != 3 || r.stderr != "" {
		t.Fatalf("list --limit 3: %+v", r)
	}
	r = runCLI(t, "", "buffer", "list", "-l", "0")
	if r.code != 0 || r.stdout != "[]\n" {
		t.Fatalf("list --limit 0: %+v", r)
	}
}

func TestListWithoutLimitWarnsWhenTruncated(t *testing.T) {
	api := &fakeAPI{t: t}
	for i := range defaultListMax + 1 {
		api.buffers = append(api.buffers, model.Buffer{ID: fmt.Sprint(i)})
	}
	// Serve everything in one page so the test stays quick.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(model.BufferList{Items: api.buffers})
	}))
	defer srv.Close()
	r := runCLI(t, "", "--server-url", srv.URL+"/api", "buffer", "list")
	var items []model.Buffer
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &items) != nil || len(items) != defaultListMax {
		t.Fatalf("exit %d, %d items", r.code, len(items))
	}
	if !strings.Contains(r.stderr, "truncated to 1000 buffers; use --limit") {
		t.Fatalf("stderr %q", r.stderr)
	}
}

func TestUnreachableServerIsOneLine(t *testing.T) {
	r := runCLI(t, "", "--server-url", "http://127.0.0.1:1/api", "buffer", "show", fakeID)
	if r.code != exitFailure || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "cannot reach the spool server at http://127.0.0.1:1/api") {
		t.Fatalf("%+v", r)
	}
}

func TestCanceledRunSaysCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Run(ctx, []string{"--server-url", srv.URL + "/api", "buffer", "show", fakeID}, strings.NewReader(""), &out, &errOut)
	if code == exitOK || errOut.String() != "spool: canceled\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestProgressSummaryReadsNaturally(t *testing.T) {
	got := summary("wrote", 1<<30, 4200*time.Millisecond)
	if got != "wrote 1.0 GiB in 4.2s (256 MB/s)" {
		t.Fatalf("summary = %q", got)
	}
	p := &progress{total: 4 << 20}
	if line := p.line(1<<20, 2*time.Second); line != "1.0 MiB of 4.0 MiB (25%)  0.5 MB/s  2s" {
		t.Fatalf("line = %q", line)
	}
	var buf bytes.Buffer
	p = newProgress(&buf, false, "read", -1)
	p.update(10)
	p.update(5) // a late, smaller total must not move the count back
	if p.done.Load() != 10 {
		t.Fatalf("done = %d", p.done.Load())
	}
	p.finish(10, nil)
	if !strings.HasPrefix(buf.String(), "read 10 B in ") || strings.Contains(buf.String(), "\r") {
		t.Fatalf("summary %q", buf.String())
	}
}

func TestProgressOnATerminalRedrawsOneLineThenSummarises(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true, "wrote", 100)
	p.update(50)
	time.Sleep(progressEvery + 200*time.Millisecond)
	p.logf("retrying blob %d", 7)
	p.finish(100, nil)
	out := buf.String()
	if !strings.HasPrefix(out, "\r\033[K50 B of 100 B (50%)  ") {
		t.Fatalf("no progress line first: %q", out)
	}
	if !strings.Contains(out, "\r\033[Kspool: warning: retrying blob 7\n") {
		t.Fatalf("warning not on a line of its own: %q", out)
	}
	if !regexp.MustCompile(`\r\x1b\[Kwrote 100 B in [0-9.]+m?s \([0-9.]+ MB/s\)\n$`).MatchString(out) {
		t.Fatalf("no summary at the end: %q", out)
	}
}

func TestProgressPrintsNoSummaryForAFailedTransfer(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, false, "read", -1)
	p.finish(10, fmt.Errorf("boom"))
	if buf.Len() != 0 {
		t.Fatalf("output %q", buf.String())
	}
}

func TestInputSizeIsKnownForFilesButOnlyNamedFilesSkipTheFlushInterval(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, make([]byte, 1234), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := &app{stdin: f}
	cases := []struct {
		path        string
		wantSize    int64
		wantRegular bool
	}{
		{"", 1234, false}, // stdin redirected from a file
		{"-", 1234, false},
		{p, 1234, true},
	}
	for _, tc := range cases {
		r, size, regular, err := a.openInput(tc.path)
		if err != nil || size != tc.wantSize || regular != tc.wantRegular {
			t.Errorf("openInput(%q) = size %d, regular %v, %v", tc.path, size, regular, err)
		}
		r.Close()
	}
	a.stdin = strings.NewReader("piped")
	if _, size, regular, _ := a.openInput(""); size != -1 || regular {
		t.Errorf("piped stdin: size %d, regular %v", size, regular)
	}
	if _, _, _, err := a.openInput(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "opening the input") {
		t.Errorf("missing input: %v", err)
	}
}

func TestAServerURLWithoutTheRoutePrefixGetsAHint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler()) // what a host says for an unknown route
	defer srv.Close()
	t.Setenv("SPOOL_SERVER_URL", srv.URL)
	for _, args := range [][]string{{"buffer", "show", fakeID}, {"buffer", "list"}, {"buffer", "read", fakeID}, {"buffer", "create"}} {
		r := runCLI(t, "", args...)
		if r.code != exitFailure || !strings.Contains(r.stderr, "route prefix, as in http://127.0.0.1:7071/api") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: %+v", args, r)
		}
	}
}
