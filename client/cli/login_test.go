package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"spool/auth"
	"spool/client/login/logintest"
	"spool/internal/oidctest"
	"spool/internal/reliability"
)

const loginAudience = "api://spool-cli-test"

// seenRequest is what the signed-in server saw of one request.
type seenRequest struct {
	at                        time.Time
	path, bearer, functionKey string
	status                    int
}

// signedInServer is the real handler over Azurite signing callers in (handler
// Options.Auth), verifying tokens of a real loopback issuer; it remembers what it
// saw of each request.
type signedInServer struct {
	iss *oidctest.Issuer
	url string

	mu   sync.Mutex
	seen []seenRequest
}

func startSignedInServer(t *testing.T, setup handlerSetup) *signedInServer {
	t.Helper()
	liveServer(t)
	s := &signedInServer{iss: oidctest.Start(t)}
	setup.Auth = auth.Options{Issuers: []string{s.iss.URL}, Audiences: []string{loginAudience}, CLIAppID: "cli-app",
		ClockSkew: time.Millisecond} // an expired token is refused at once
	if setup.BlobEndpoint == "" {
		setup.BlobEndpoint = stack.azurite.BlobEndpoint
	}
	setup.Wrap = s.record
	s.url = startHandler(t, stack.azurite, setup)
	// Each test signs in afresh into its own config folder; no server from the
	// environment, so commands find the server through the login.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("SPOOL_SERVER_URL", "")
	t.Setenv("SPOOL_FUNCTION_KEY", "")
	return s
}

func (s *signedInServer) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		at := time.Now()
		h.ServeHTTP(sw, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.seen = append(s.seen, seenRequest{at: at, path: r.URL.Path, status: sw.status,
			bearer: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), functionKey: r.Header.Get("x-functions-key")})
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// requests returns what was seen since the index from, and the index to go on from.
func (s *signedInServer) requests(from int) ([]seenRequest, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.seen[from:]...), len(s.seen)
}

// token mints a token for the server naming ada with roles, valid until exp.
func (s *signedInServer) token(t *testing.T, exp time.Time, roles ...string) string {
	t.Helper()
	claims := s.iss.Claims(loginAudience, roles...)
	claims["preferred_username"] = "ada@example.com"
	claims["exp"] = exp.Unix()
	return s.iss.Token(t, claims)
}

// checkSigned fails unless every request in reqs carried bearer and was not refused.
func checkSigned(t *testing.T, what string, reqs []seenRequest, bearer string) {
	t.Helper()
	if len(reqs) == 0 {
		t.Fatalf("%s: no request reached the server", what)
	}
	for _, r := range reqs {
		if r.bearer != bearer || r.status == http.StatusUnauthorized {
			t.Errorf("%s: %s sent with the wrong token or refused (%d)", what, r.path, r.status)
		}
	}
}

func TestLoginWithTheAzureCLIIsRememberedAndSignsEveryLaterCommand(t *testing.T) {
	srv := startSignedInServer(t, handlerSetup{})
	az := logintest.StubAz(t, loginAudience)
	tok := srv.token(t, time.Now().Add(time.Hour), "contributor", "reader")
	az.Answer(t, tok, time.Now().Add(time.Hour))

	r := runCLI(t, "", "login", srv.url+"/", "--azure-cli")
	if r.code != exitOK || r.stdout != "" || r.stderr != "Signed in to "+srv.url+" as ada@example.com (azure-cli); roles: contributor, reader.\n" {
		t.Fatalf("login: %+v", r)
	}
	reqs, next := srv.requests(0)
	if len(reqs) != 1 || reqs[0].path != "/api/metadata" || az.Calls(t) != 1 {
		t.Fatalf("login made requests %+v and ran az %d times, want the metadata and one token", reqs, az.Calls(t))
	}

	// No flags, no server in the environment: the login names the server.
	id := createBuffer(t, "--tag", "signed=in")
	steps := []struct {
		what  string
		stdin string
		args  []string
	}{
		{"write", "signed bytes", []string{"buffer", "write", id}},
		{"read", "", []string{"buffer", "read", id}},
		{"show", "", []string{"buffer", "show", id}},
	}
	for _, step := range steps {
		if r := runCLI(t, step.stdin, step.args...); r.code != exitOK {
			t.Fatalf("%s after login: %+v", step.what, r)
		} else if step.what == "read" && r.stdout != "signed bytes" {
			t.Fatalf("read %q", r.stdout)
		}
	}
	reqs, next = srv.requests(next)
	checkSigned(t, "commands after login", reqs, tok)
	// The login is reused: no metadata read again, no prompt, one token per command
	// however many requests it makes.
	if n := az.Calls(t); n != 1+1+len(steps) {
		t.Errorf("az ran %d times, want once for the login and once per command (%d)", n, 1+1+len(steps))
	}

	// With a function key, both go: the key header and the token.
	t.Setenv("SPOOL_FUNCTION_KEY", "function-key-1")
	if r := runCLI(t, "", "buffer", "show", id); r.code != exitOK {
		t.Fatalf("show with a function key: %+v", r)
	}
	reqs, next = srv.requests(next)
	checkSigned(t, "show with a function key", reqs, tok)
	if reqs[0].functionKey != "function-key-1" {
		t.Errorf("the function key was not sent beside the token")
	}
	t.Setenv("SPOOL_FUNCTION_KEY", "")

	checkLoginStatus(t, srv.url)
	checkLogout(t, srv, next, id)
}

func checkLoginStatus(t *testing.T, serverURL string) {
	t.Helper()
	r := runCLI(t, "", "login", "status")
	if strings.Contains(r.stdout+r.stderr, "eyJ") {
		t.Errorf("login status shows the token: %+v", r)
	}
	for _, want := range []string{"server:     " + serverURL + "\n", "method:     azure-cli\n", "identity:   ada@example.com\n",
		"object ID:  00000000-0000-0000-0000-0000000000a1\n", "roles:      contributor, reader\n", "token until: "} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("login status lacks %q: %+v", want, r)
		}
	}
}

// checkLogout logs out and checks that commands then send no token: the server
// refuses them with the middleware's hint to sign in.
func checkLogout(t *testing.T, srv *signedInServer, next int, id string) {
	t.Helper()
	if r := runCLI(t, "", "logout"); r.code != exitOK || r.stderr != "Logged out of "+srv.url+".\n" {
		t.Fatalf("logout: %+v", r)
	}
	if r := runCLI(t, "", "login", "status"); r.code != exitFailure || !strings.Contains(r.stderr, "not logged in: run `spool login SERVER_URL`") {
		t.Errorf("status after logout: %+v", r)
	}
	t.Setenv("SPOOL_SERVER_URL", srv.url)
	r := runCLI(t, "", "buffer", "show", id)
	if r.code != exitFailure || r.stderr != "spool: "+srv.url+" needs a sign-in (401) and this CLI is not logged in to it: run `spool login "+srv.url+
		"`, or set SPOOL_FUNCTION_KEY if it takes a function key\n" {
		t.Fatalf("show after logout: %+v", r)
	}
	reqs, _ := srv.requests(next)
	if len(reqs) != 1 || reqs[0].bearer != "" {
		t.Errorf("after logout the CLI sent %+v, want one request without a token", reqs)
	}
}

func TestALoginsTokenIsNeverSentToAnotherServer(t *testing.T) {
	srv := startSignedInServer(t, handlerSetup{})
	az := logintest.StubAz(t, loginAudience)
	az.Answer(t, srv.token(t, time.Now().Add(time.Hour), "reader"), time.Now().Add(time.Hour))
	if r := runCLI(t, "", "login", srv.url, "--azure-cli"); r.code != exitOK {
		t.Fatalf("login: %+v", r)
	}
	var sent []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"items":[]}`))
	}))
	defer other.Close()
	for name, args := range map[string][]string{
		"--server-url":     {"--server-url", other.URL + "/api", "buffer", "list"},
		"SPOOL_SERVER_URL": {"buffer", "list"},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "SPOOL_SERVER_URL" {
				t.Setenv("SPOOL_SERVER_URL", other.URL+"/api")
			}
			if r := runCLI(t, "", args...); r.code != exitOK {
				t.Fatalf("list on the other server: %+v", r)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2 || sent[0] != "" || sent[1] != "" {
		t.Errorf("the other server got Authorization %q, want two requests without one", sent)
	}
	if az.Calls(t) != 1 {
		t.Errorf("az ran %d times, want only for the login", az.Calls(t))
	}
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "a logged-in CLI pointed at another server by --server-url or SPOOL_SERVER_URL",
		Tries:   2,
		Outcome: "no token sent there, and none fetched",
	})
}

func TestATokenExpiringMidTransferIsRenewedSilentlyWhenTheAccessURLIs(t *testing.T) {
	// Access URLs die 4 s after they are handed out (the handler's SAS clock runs
	// 26 s behind and the shortest URL lasts 30 s); the first token dies sooner.
	srv := startSignedInServer(t, handlerSetup{Now: func() time.Time { return time.Now().Add(-26 * time.Second) }})
	az := logintest.StubAz(t, loginAudience)
	az.Answer(t, srv.token(t, time.Now().Add(time.Hour), "contributor"), time.Now().Add(time.Hour))
	if r := runCLI(t, "", "login", srv.url, "--azure-cli"); r.code != exitOK {
		t.Fatalf("login: %+v", r)
	}
	id := createBuffer(t)
	_, next := srv.requests(0)
	shortExp := time.Now().Add(3 * time.Second)
	short := srv.token(t, shortExp, "contributor")
	fresh := srv.token(t, time.Now().Add(time.Hour), "contributor", "reader")
	az.Queue(t, short, shortExp)
	az.Answer(t, fresh, time.Now().Add(time.Hour))
	callsBefore := az.Calls(t)

	data := generated(t, 8<<20)
	const piece = 256 << 10
	pause := 6 * time.Second / time.Duration(len(data)/piece) // about 1.5 URL lifetimes
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w := runWithInput(ctx, &pacedReader{data: data, piece: piece, pause: pause},
		"buffer", "write", id, "--access-ttl", shortTTL, "-b", "256K", "-f", "0", "--dop", "4")
	if w.code != exitOK {
		t.Fatalf("write across token and URL expiry: %+v", w)
	}
	reqs, _ := srv.requests(next)
	var access []seenRequest
	for _, r := range reqs {
		if r.status == http.StatusUnauthorized {
			t.Errorf("%s refused: the CLI sent an expired token", r.path)
		}
		if strings.HasSuffix(r.path, "/access") {
			access = append(access, r)
		}
	}
	if len(access) < 2 || access[0].bearer != short {
		t.Fatalf("access requests %+v, want the first with the short token and a renewal", access)
	}
	renewal := access[1]
	if renewal.bearer != fresh || !renewal.at.After(shortExp) {
		t.Errorf("the renewal at %v carried another token than the fresh one (first token expired %v)", renewal.at, shortExp)
	}
	if n := az.Calls(t) - callsBefore; n != 2 {
		t.Errorf("az ran %d times during the write, want 2: the expired token replaced once, the fresh one reused", n)
	}
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "a logged-in write whose bearer token expires before its access URL must be renewed",
		Tries:   1,
		Outcome: "the renewal got a fresh token silently; no request refused; the buffer written whole",
	})
}

func TestLoginMethodFlagsThatDoNotFitAreUsageErrors(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	const url = "http://127.0.0.1:1/api"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"login", url, "--identity", "--azure-cli"}, "--identity and --azure-cli cannot be combined"},
		{[]string{"login", url, "--use-device-code", "--federated-token-file", "f"}, "--use-device-code and --federated-token-file cannot be combined"},
		{[]string{"login", url, "--service-principal", "app"}, "--service-principal needs the app ID and --cert-file"},
		{[]string{"login", url, "--cert-file", "sp.pem"}, "--cert-file goes with --service-principal"},
		{[]string{"login", url, "--azure-cli", "--client-id", "x"}, "--client-id goes with --identity or --federated-token-file"},
		{[]string{"login", url, "--client-id", "x"}, "--client-id goes with"},
		{[]string{"login", url, "--federated-token-file", ""}, "--federated-token-file needs the token file's path"},
		{[]string{"login", "--azure-cli"}, "missing the SERVER_URL"},
		{[]string{"login", url, "extra"}, `unexpected argument "extra"`},
		{[]string{"login", "ftp://example.com/api"}, "SERVER_URL: invalid server URL"},
		{[]string{"login", url + "?code=secret"}, "must not carry a query"},
		{[]string{"login", url, "--password", "x"}, "unknown flag: --password"},
		{[]string{"login", "status", "extra"}, `unexpected argument "extra"`},
		{[]string{"logout", "now"}, `unexpected argument "now"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := runCLI(t, "", c.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "Run 'spool login") &&
				!strings.Contains(r.stderr, "Run 'spool logout --help'") {
				t.Errorf("exit %d, stderr %q, want 2 and %q", r.code, r.stderr, c.want)
			}
			if strings.Contains(r.stderr, "secret") {
				t.Errorf("the function key in the URL was echoed: %q", r.stderr)
			}
		})
	}
}

func TestLoginHelpExplainsEveryMethod(t *testing.T) {
	r := runCLI(t, "", "login", "--help")
	for _, want := range []string{"Usage: spool login [SERVER_URL]", "--use-device-code", "--identity", "--client-id",
		"--service-principal", "--cert-file", "--federated-token-file", "--azure-cli", "a browser window", "Example:"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("login --help lacks %q (exit %d)", want, r.code)
		}
	}
	for _, args := range [][]string{{"login", "status", "--help"}, {"logout", "--help"}, {"--help"}} {
		r := runCLI(t, "", args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "login status") && !strings.Contains(r.stdout, "spool logout") {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
}

func TestARefusedOrUnobtainableTokenSaysToSignInAgain(t *testing.T) {
	srv := startSignedInServer(t, handlerSetup{})
	az := logintest.StubAz(t, loginAudience)
	claims := srv.iss.Claims("api://another-app", "reader")
	az.Answer(t, srv.iss.Token(t, claims), time.Now().Add(time.Hour))
	// The server from the global flag rather than an argument.
	if r := runCLI(t, "", "--server-url", srv.url, "login", "--azure-cli"); r.code != exitOK {
		t.Fatalf("login: %+v", r)
	}
	r := runCLI(t, "", "buffer", "list")
	want := "spool: " + srv.url + " refused the login's token (401: The access token was not issued for this server.): run `spool login " + srv.url + "` again\n"
	if r.code != exitFailure || r.stderr != want {
		t.Errorf("list with a token for another app: %+v, want stderr %q", r, want)
	}

	logintest.StubAz(t, loginAudience) // az logged out since
	r = runCLI(t, "", "buffer", "list")
	if r.code != exitFailure || !strings.Contains(r.stderr, "getting a token for "+srv.url+" (azure-cli)") ||
		!strings.Contains(r.stderr, "az login") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("list with az logged out: %+v", r)
	}
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "a logged-in CLI whose token the server refuses (wrong audience), or whose az was logged out since",
		Tries:   2,
		Outcome: "exit 1 with one line naming the server and saying to sign in again",
	})
}

// TestTheBinarySignsInOnceForLaterProcesses runs the real binary: the login one
// process remembers serves the next, which sends its token with no flags.
func TestTheBinarySignsInOnceForLaterProcesses(t *testing.T) {
	srv := startSignedInServer(t, handlerSetup{})
	az := logintest.StubAz(t, loginAudience)
	tok := srv.token(t, time.Now().Add(time.Hour), "reader")
	az.Answer(t, tok, time.Now().Add(time.Hour))
	bin := buildSpool(t)
	for _, args := range [][]string{{"login", srv.url, "--azure-cli"}, {"buffer", "list", "--limit", "1"}, {"login", "status"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("spool %v: %v\n%s", args, err, out)
		}
	}
	reqs, _ := srv.requests(1) // after the login's metadata read
	checkSigned(t, "list from a later process", reqs, tok)
	if az.Calls(t) != 3 {
		t.Errorf("az ran %d times, want once per process", az.Calls(t))
	}
}
