package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spool/blobstore"
	"spool/handler"
	"spool/internal/azurite"
	"spool/internal/reliability"
)

// lockedBuffer collects a logger's output from concurrent requests.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// loggedHandler serves the real handler over the package's Azurite with every log
// line (debug level up) captured. A non-empty blobKey replaces the account key the
// blob side signs and authenticates with.
func loggedHandler(t *testing.T, connectionString, tablePrefix, blobKey string) (*httptest.Server, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts, err := connectHandler(ctx, connectionString, tablePrefix)
	if err != nil {
		t.Fatal(err)
	}
	if blobKey != "" {
		opts.Containers, err = blobstore.New(blobstore.Options{
			Endpoint: stack.azurite.BlobEndpoint, AccountName: azurite.AccountName, AccountKey: blobKey,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	logs := &lockedBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.RequestTimeout = 5 * time.Second
	h, err := handler.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, logs
}

var sigPattern = regexp.MustCompile(`sig=([^&\s"']+)`)

func TestNoSecretInHandlerLogsOrFailingTransferOutput(t *testing.T) {
	liveServer(t)
	in := stack.azurite
	const functionKey = "FnKey0secret0c0ffee0123456789"
	prefix := fmt.Sprintf("sec%d", time.Now().UnixNano()%1_000_000)
	srv, logs := loggedHandler(t, in.ConnectionString(), prefix, "")
	t.Setenv("SPOOL_SERVER_URL", srv.URL+"/api?code="+functionKey)

	// A second handler whose blob key is wrong: creating containers fails and is
	// logged as a server error, and the URLs it signs are refused by storage.
	wrongKey := base64.StdEncoding.EncodeToString([]byte("not the account key, but secret all the same"))
	badSrv, badLogs := loggedHandler(t, in.ConnectionString(), prefix, wrongKey)

	var output strings.Builder // everything the failing runs printed
	failing := 0
	mustFail := func(stdin string, args ...string) result {
		t.Helper()
		r := runCLI(t, stdin, args...)
		failing++
		if r.code == exitOK {
			t.Errorf("%v succeeded; it should fail", args)
		}
		output.WriteString(r.stdout + r.stderr) // not the arguments: they hold URLs on purpose
		return r
	}
	secrets := map[string]string{
		"account key":          azurite.AccountKey,
		"account key, escaped": url.QueryEscape(azurite.AccountKey),
		"wrong account key":    wrongKey,
		"function key":         functionKey,
	}
	addSig := func(what, rawURL string) {
		if m := sigPattern.FindStringSubmatch(rawURL); m != nil {
			secrets[what] = m[1]
			if s, err := url.QueryUnescape(m[1]); err == nil {
				secrets[what+", unescaped"] = s
			}
		}
	}

	id := createBuffer(t, "--tag", "suite=secrets")
	if r := runCLI(t, "some data", "buffer", "write", id); r.code != 0 {
		t.Fatalf("write: %+v", r)
	}
	readURL := strings.TrimSpace(runCLI(t, "", "buffer", "access", id).stdout)
	other := createBuffer(t)
	otherWrite := strings.TrimSpace(runCLI(t, "", "buffer", "access", other, "-w").stdout)
	addSig("read URL signature", readURL)
	addSig("write URL signature", otherWrite)
	if len(secrets) < 6 {
		t.Fatalf("access URLs without signatures: %q %q", readURL, otherWrite)
	}
	tampered := sigPattern.ReplaceAllString(readURL, "sig=AAAA"+secrets["read URL signature"][4:])
	addSig("tampered signature", tampered)
	expiredSigner, err := blobstore.New(blobstore.Options{
		Endpoint: in.BlobEndpoint, AccountName: azurite.AccountName, AccountKey: azurite.AccountKey,
		Now: func() time.Time { return time.Now().Add(-2 * time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := expiredSigner.AccessURL(context.Background(), id, false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	addSig("expired signature", expired)

	mustFail("x", "buffer", "write", readURL) // a read URL cannot write
	mustFail("again", "buffer", "write", id)  // write-once
	if r := runCLI(t, "x", "buffer", "write", otherWrite); r.code != 0 {
		t.Fatalf("write with a write URL: %+v", r)
	}
	mustFail("x", "buffer", "write", otherWrite)              // a second write through the same URL
	mustFail("", "buffer", "read", tampered)                  // tampered signature
	mustFail("", "buffer", "read", expired)                   // expired URL
	mustFail("", "buffer", "read", strings.Repeat("a", 26))   // unknown ID
	mustFail("", "buffer", "access", id, "--access-ttl", "1") // refused TTL
	mustFail("", "buffer", "set", id, "--tag", "a=1", "--etag", "stale")
	t.Setenv("SPOOL_SERVER_URL", badSrv.URL+"/api?code="+functionKey)
	mustFail("", "buffer", "create")   // the handler's storage refuses its key
	mustFail("", "buffer", "read", id) // storage refuses the URL signed with the wrong key
	t.Setenv("SPOOL_SERVER_URL", "http://127.0.0.1:1/api?code="+functionKey)
	mustFail("", "buffer", "show", id) // no server at all

	all := output.String() + "\n--- handler log ---\n" + logs.String() + "\n--- failing handler log ---\n" + badLogs.String()
	if !strings.Contains(badLogs.String(), "level=ERROR") {
		t.Errorf("the handler with a wrong key logged no error, so the log check proves little:\n%s", badLogs.String())
	}
	for what, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("the %s appears in the output:\n%s", what, all)
		}
	}
	for _, m := range sigPattern.FindAllStringSubmatch(all, -1) {
		if m[1] != "REDACTED" {
			t.Errorf("a SAS signature appears in the output: %s", m[0])
		}
	}
	for _, s := range []string{"x-functions-key: ", "code=" + functionKey, "AccountKey="} {
		if strings.Contains(all, s) {
			t.Errorf("%q appears in the output", s)
		}
	}
	reliability.Record(t, reliability.Row{
		Area:  "access",
		Fault: "secrets (account key, SAS signatures, function key as ?code= and x-functions-key) in handler logs and failing CLI output",
		Tries: failing,
		Outcome: fmt.Sprintf("%d failing CLI runs (read URL writing, rewrites, tampered, expired, unknown ID, storage refusing the key, no server) and %d bytes of handler logs searched for %d secrets: none found",
			failing, len(logs.String())+len(badLogs.String()), len(secrets)),
	})
}

// mistyped are the ways a pasted URL goes wrong, from the well-formed base (with
// %s where its secret goes) and the replacement of one part of it by a wrong one.
func mistyped(base, part, wrong string) map[string]string {
	return map[string]string{
		"leading space":       " " + base,
		"one slash":           strings.Replace(base, "http://", "http:/", 1),
		"no colon":            strings.Replace(base, "http://", "http//", 1),
		"bad escape in query": base + "%%zz",
		"space inside":        strings.Replace(base, part, wrong, 1),
	}
}

// mistypedURLs are mistyped access URLs carrying a signature, to a host that
// refuses everything.
func mistypedURLs(host string) map[string]string {
	base := "http://" + host + "/devstoreaccount1/abcdefghijklmnopqrstuvwxyz?sv=2023-01-03&sp=r&sig=%s"
	forms := mistyped(base, "/devstoreaccount1/", "/devstore account1/")
	forms["bad escape in path"] = strings.Replace(base, "/devstoreaccount1/", "/dev%%zz/", 1)
	forms["well formed"] = base // refused by storage; and no buffer ID
	return forms
}

// mistypedServerURLs are mistyped --server-url values carrying a function key.
func mistypedServerURLs(host string) map[string]string {
	base := "http://" + host + "/api?code=%s"
	forms := mistyped(base, "/api", " /api")
	forms["without /api"] = strings.Replace(base, "/api", "", 1)
	return forms
}

// checkNoSecretAndOneLineError pins what a failing run with a secret in its
// arguments prints: exit 1 or 2, nothing on stdout, one "spool: " error line (and
// for a usage error the hint), and the secret nowhere.
func checkNoSecretAndOneLineError(t *testing.T, r result, secrets ...string) {
	t.Helper()
	if r.code != exitFailure && r.code != exitUsage {
		t.Errorf("exit %d, want 1 or 2 (stderr %q)", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "spool: ") || len(lines) > 2 || (len(lines) == 2 && !strings.Contains(lines[1], "--help' for usage")) {
		t.Errorf("stderr is not one clear error line: %q", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q", r.stdout)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("the secret %q appears in the output: stdout %q, stderr %q", s, r.stdout, r.stderr)
		}
	}
}

func TestMistypedURLArgumentsFailWithoutShowingTheirSecret(t *testing.T) {
	var calls atomic.Int32
	refuser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer refuser.Close()
	host := strings.TrimPrefix(refuser.URL, "http://")
	t.Setenv("SPOOL_SERVER_URL", refuser.URL+"/api")
	const sig = "SECRETsig0c0ffee%2Bkey%3D"
	secrets := []string{sig, "SECRETsig0c0ffee+key=", "SECRETsig0c0ffee"}
	commands := map[string][]string{
		"show":    {"buffer", "show", "ARG"},
		"set":     {"buffer", "set", "ARG", "--tag", "a=1"},
		"access":  {"buffer", "access", "ARG"},
		"write":   {"buffer", "write", "ARG"},
		"read":    {"buffer", "read", "ARG"},
		"delete":  {"buffer", "delete", "ARG"},
		"restore": {"buffer", "restore", "ARG"},
		"purge":   {"buffer", "purge", "ARG"},
	}
	runs := 0
	for name, args := range commands {
		for form, pattern := range mistypedURLs(host) {
			t.Run(name+"/"+form, func(t *testing.T) {
				argv := slices.Clone(args)
				argv[slices.Index(argv, "ARG")] = fmt.Sprintf(pattern, sig)
				checkNoSecretAndOneLineError(t, runCLI(t, "data", argv...), secrets...)
				runs++
			})
		}
	}
	for form, pattern := range mistypedServerURLs(host) {
		for _, args := range [][]string{{"buffer", "show", fakeID}, {"buffer", "list"}, {"buffer", "read", fakeID}} {
			t.Run("server URL/"+form+"/"+args[1], func(t *testing.T) {
				argv := append([]string{"--server-url", fmt.Sprintf(pattern, sig)}, args...)
				checkNoSecretAndOneLineError(t, runCLI(t, "", argv...), secrets...)
				runs++
			})
		}
	}
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "mistyped access URLs and server URLs (leading space, one slash, no colon, bad %-escape, spaces) carrying a SAS signature or function key",
		Tries:   runs,
		Outcome: fmt.Sprintf("%d CLI runs over 8 commands and --server-url: each one clear error line, exit 1 or 2, the secret in no output", runs),
	})
}
