package login

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	// The spool-like server.
	"net/http"
	"net/http/httptest"

	"spool/auth"
	"spool/client/login/logintest"
	"spool/internal/oidctest"
)

const testAudience = "api://spool-test"

// server is a spool-like API on loopback: anonymous /api/metadata and a
// /api/buffers that the real auth middleware guards with tokens of a real issuer.
type server struct {
	iss *oidctest.Issuer
	url string // the API root, …/api
}

func startServer(t *testing.T, signIn bool) *server {
	t.Helper()
	iss := oidctest.Start(t)
	opts := auth.Options{Issuers: []string{iss.URL}, Audiences: []string{testAudience}, CLIAppID: "cli-app"}
	v, err := auth.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !signIn {
		opts = auth.Options{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/metadata", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(auth.MetadataFor(opts, []string{"1.0"}))
	})
	mux.Handle("GET /api/buffers", auth.Require(auth.ReadBuffers)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"items":[]}`))
	})))
	srv := httptest.NewServer(v.Middleware(func(r *http.Request) bool { return r.URL.Path == "/api/metadata" })(mux))
	t.Cleanup(srv.Close)
	return &server{iss: iss, url: srv.URL + "/api"}
}

// stubAz puts a stub `az` first on PATH that prints token, or fails like a
// logged-out az when exitCode is not 0.
func stubAz(t *testing.T, token string, exitCode int, expires time.Time) *logintest.Az {
	t.Helper()
	az := logintest.StubAz(t, testAudience)
	if exitCode == 0 {
		az.Answer(t, token, expires)
	}
	return az
}

func callCount(t *testing.T, az *logintest.Az) int {
	t.Helper()
	return az.Calls(t)
}

// listBuffers calls the guarded route with the session's token.
func (s *server) listBuffers(t *testing.T, sess *Session) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+"/buffers", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Authorize(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAzureCLILoginReachesASignedInServerAndIsRemembered(t *testing.T) {
	srv := startServer(t, true)
	claims := srv.iss.Claims(testAudience, "reader")
	claims["preferred_username"] = "ada@example.com"
	calls := stubAz(t, srv.iss.Token(t, claims), 0, time.Now().Add(time.Hour))
	cfgPath := filepath.Join(t.TempDir(), "spool", "login.json")

	sess, err := Login(context.Background(), Options{ServerURL: srv.url, Method: AzureCLI, ConfigPath: cfgPath})
	if err != nil {
		t.Fatal(err)
	}
	if code := srv.listBuffers(t, sess); code != http.StatusOK {
		t.Fatalf("list with the login's token: %d", code)
	}
	if n := callCount(t, calls); n != 1 {
		t.Errorf("az ran %d times in one session, want 1 (token reused in memory)", n)
	}
	checkConfigFile(t, cfgPath, srv.url)

	again, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if again.Config.Method != AzureCLI || again.Config.ServerURL != srv.url {
		t.Fatalf("loaded %+v", again.Config)
	}
	if code := srv.listBuffers(t, again); code != http.StatusOK {
		t.Fatalf("list with the remembered login: %d", code)
	}
	checkStatus(t, cfgPath, srv.url)
}

func checkConfigFile(t *testing.T, path, serverURL string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("login file mode %v, want 0600", info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "eyJ") || !strings.Contains(string(data), serverURL) {
		t.Errorf("login file holds a token or lacks the server:\n%s", data)
	}
}

func checkStatus(t *testing.T, path, serverURL string) {
	t.Helper()
	st, err := Status(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.SignedIn || st.ServerURL != serverURL || st.Method != AzureCLI || st.Name != "ada@example.com" ||
		!slices.Equal(st.Roles, []string{"reader"}) || time.Until(st.ExpiresOn) < 30*time.Minute {
		t.Errorf("status %+v", st)
	}
}

func TestLogoutForgetsTheLogin(t *testing.T) {
	srv := startServer(t, true)
	stubAz(t, srv.iss.Token(t, srv.iss.Claims(testAudience, "reader")), 0, time.Now().Add(time.Hour))
	cfgPath := filepath.Join(t.TempDir(), "login.json")
	if _, err := Login(context.Background(), Options{ServerURL: srv.url, Method: AzureCLI, ConfigPath: cfgPath}); err != nil {
		t.Fatal(err)
	}
	if err := Logout(cfgPath); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cfgPath); err != ErrNotLoggedIn {
		t.Fatalf("Load after logout: %v, want ErrNotLoggedIn", err)
	}
	if err := Logout(cfgPath); err != nil {
		t.Errorf("a second logout: %v", err)
	}
}
