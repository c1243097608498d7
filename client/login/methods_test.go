package login

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spool/auth"
)

// entraMetadata is what a spool behind Entra ID serves; building credentials for it
// makes no request.
var entraMetadata = auth.Metadata{
	Authority: "https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000a1",
	Audience:  "api://spool", ServerAppURI: "api://spool", CLIAppID: "00000000-0000-0000-0000-0000000000c1",
	RBACEnabled: true, APIVersions: []string{"1.0"},
}

// writeCertificate writes a self-signed certificate and its key as one PEM file.
func writeCertificate(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048) // Entra takes RSA certificates only
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "spool-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	path := filepath.Join(t.TempDir(), "sp.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEveryMethodResumesFromARememberedLogin(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "federated-token")
	if err := os.WriteFile(tokenFile, []byte("assertion"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[Method]Config{
		Browser:          {},
		DeviceCode:       {},
		ManagedIdentity:  {ClientID: "00000000-0000-0000-0000-0000000000d1"},
		ServicePrincipal: {ClientID: "00000000-0000-0000-0000-0000000000e1", CertificatePath: writeCertificate(t)},
		WorkloadIdentity: {ClientID: "00000000-0000-0000-0000-0000000000f1", TokenFilePath: tokenFile},
		AzureCLI:         {},
	}
	for method, cfg := range cases {
		t.Run(string(method), func(t *testing.T) {
			cfg.ServerURL, cfg.Method, cfg.Metadata = "https://spool.example/api", method, entraMetadata
			path := filepath.Join(t.TempDir(), "login.json")
			if err := saveConfig(path, cfg); err != nil {
				t.Fatal(err)
			}
			s, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if s.Config.Method != method || s.scopes()[0] != "api://spool/.default" {
				t.Errorf("session %+v, scopes %v", s.Config, s.scopes())
			}
		})
	}
}

func TestMethodsMissingTheirSettingsFailToResume(t *testing.T) {
	for _, name := range []string{"AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"} {
		t.Setenv(name, "") // restored when the test ends
		os.Unsetenv(name)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		cfg     Config
		wantErr string
	}{
		"workload identity without token file": {Config{Method: WorkloadIdentity, ClientID: "x"}, "workload-identity"},
		"service principal with a file that is no certificate": {
			Config{Method: ServicePrincipal, ClientID: "x", CertificatePath: garbage}, "garbage.pem"},
		"an authority that is no URL": {Config{Method: Browser, Metadata: auth.Metadata{Authority: "::", Audience: "api://s"}}, "authority"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if c.cfg.Metadata.Authority == "" {
				c.cfg.Metadata = entraMetadata
			}
			path := filepath.Join(t.TempDir(), "login.json")
			if err := saveConfig(path, c.cfg); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}
