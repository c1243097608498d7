package login

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spool/internal/reliability"
)

func TestLoginFailsClearlyAndRemembersNothing(t *testing.T) {
	signedIn := startServer(t, true)
	open := startServer(t, false)
	closed := httpURLOfClosedPort(t)
	cases := []struct {
		name    string
		opts    Options
		azExit  int
		wantErr string
	}{
		{"a server that signs nobody in", Options{ServerURL: open.url, Method: AzureCLI}, 0, "does not sign callers in"},
		{"az not logged in", Options{ServerURL: signedIn.url, Method: AzureCLI}, 1, "az login"},
		{"an unreachable server", Options{ServerURL: closed, Method: AzureCLI}, 0, "reading http://127.0.0.1"},
		{"a server URL that is not http", Options{ServerURL: "ftp://example.com/api", Method: AzureCLI}, 0, "not an http(s) URL"},
		{"a service principal without certificate", Options{ServerURL: signedIn.url, Method: ServicePrincipal, ClientID: "app"}, 0, "certificate"},
		{"a service principal with a missing certificate file", Options{ServerURL: signedIn.url, Method: ServicePrincipal, ClientID: "app",
			CertificatePath: "/nonexistent/cert.pem", NoPersistentCache: true}, 0, "reading the certificate"},
		{"an unknown method", Options{ServerURL: signedIn.url, Method: "password"}, 0, `unknown login method "password"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stubAz(t, signedIn.iss.Token(t, signedIn.iss.Claims(testAudience, "reader")), c.azExit, time.Now().Add(time.Hour))
			c.opts.ConfigPath = filepath.Join(t.TempDir(), "login.json")
			_, err := Login(context.Background(), c.opts)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
			if _, statErr := os.Stat(c.opts.ConfigPath); !os.IsNotExist(statErr) {
				t.Errorf("a failed login left a login file")
			}
		})
	}
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "spool login against an open server, with az logged out, an unreachable server, bad URLs and incomplete service-principal settings",
		Tries:   len(cases),
		Outcome: "each refused with an error naming the cause; no login file written",
	})
}

// httpURLOfClosedPort is an API root on a loopback port nothing listens on.
func httpURLOfClosedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/api"
}

func TestAnExpiringAzureCLITokenIsFetchedAgain(t *testing.T) {
	srv := startServer(t, true)
	calls := stubAz(t, srv.iss.Token(t, srv.iss.Claims(testAudience, "reader")), 0, time.Now().Add(2*time.Minute))
	sess, err := Login(context.Background(), Options{ServerURL: srv.url, Method: AzureCLI, ConfigPath: filepath.Join(t.TempDir(), "l.json")})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code := srv.listBuffers(t, sess); code != http.StatusOK {
			t.Fatalf("list: %d", code)
		}
	}
	if n := callCount(t, calls); n != 4 {
		t.Errorf("az ran %d times, want 4: a token within %v of expiry is not reused", n, refreshMargin)
	}
}

func TestADamagedLoginFileIsRefusedWithAHint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "login.json")
	for name, body := range map[string]string{
		"not JSON":       "{",
		"unknown method": `{"serverUrl":"https://x/api","method":"telepathy"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming the file", err)
			}
		})
	}
}

func TestAuthorityIsSplitIntoHostAndTenant(t *testing.T) {
	cases := []struct{ authority, host, tenant string }{
		{"https://login.microsoftonline.com/tenant-1", "https://login.microsoftonline.com/", "tenant-1"},
		{"https://login.microsoftonline.com/organizations/", "https://login.microsoftonline.com/", "organizations"},
		{"http://127.0.0.1:5000", "http://127.0.0.1:5000/", ""},
	}
	for _, c := range cases {
		host, tenant, err := splitAuthority(c.authority)
		if err != nil || host != c.host || tenant != c.tenant {
			t.Errorf("%s: %q %q %v", c.authority, host, tenant, err)
		}
	}
	for _, bad := range []string{"", "not a url", "https://login.example.com/a/b"} {
		if _, _, err := splitAuthority(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
