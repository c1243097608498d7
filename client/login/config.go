package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"spool/auth"
)

// Config is what a login remembers: no token, no secret; the token cache (if any)
// is azidentity's.
type Config struct {
	ServerURL       string        `json:"serverUrl"`
	Method          Method        `json:"method"`
	Metadata        auth.Metadata `json:"metadata"`
	ClientID        string        `json:"clientId,omitempty"`
	CertificatePath string        `json:"certificatePath,omitempty"`
	TokenFilePath   string        `json:"tokenFilePath,omitempty"`
	// PersistentCache says whether azidentity's encrypted token cache is used.
	PersistentCache bool `json:"persistentCache"`
	// Record names the signed-in account of an interactive login.
	Record *azidentity.AuthenticationRecord `json:"authenticationRecord,omitempty"`
}

// DefaultConfigPath is login.json in spool's folder of the user's config dir.
func DefaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user config dir: %w", err)
	}
	return filepath.Join(dir, "spool", "login.json"), nil
}

func configPath(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	return DefaultConfigPath()
}

// newConfig checks opts and reads the server's sign-in metadata.
func newConfig(ctx context.Context, opts Options) (Config, error) {
	cfg := Config{
		ServerURL:       opts.ServerURL,
		Method:          opts.Method,
		ClientID:        opts.ClientID,
		CertificatePath: opts.CertificatePath,
		TokenFilePath:   opts.TokenFilePath,
		PersistentCache: !opts.NoPersistentCache,
	}
	if cfg.Method == "" {
		cfg.Method = Browser
	}
	if err := cfg.checkMethod(); err != nil {
		return Config{}, err
	}
	md, err := FetchMetadata(ctx, opts.HTTPClient, opts.ServerURL)
	if err != nil {
		return Config{}, err
	}
	cfg.Metadata = md
	return cfg, nil
}

// checkMethod refuses a method without the settings it needs.
func (c Config) checkMethod() error {
	switch c.Method {
	case Browser, DeviceCode, ManagedIdentity, WorkloadIdentity, AzureCLI:
		return nil
	case ServicePrincipal:
		if c.ClientID == "" || c.CertificatePath == "" {
			return errors.New("a service principal login needs its app ID and a certificate file (--service-principal APP_ID --cert-file FILE)")
		}
		return nil
	}
	return fmt.Errorf("unknown login method %q", c.Method)
}

// saveConfig writes cfg readable by the user only, through a temporary file so that
// a crash never leaves half a file.
func saveConfig(path string, cfg Config) error {
	path, err := configPath(path)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding login: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the login folder: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".login-*")
	if err != nil {
		return fmt.Errorf("saving login: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("saving login: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("saving login: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving login: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

func readConfig(path string) (Config, error) {
	path, err := configPath(path)
	if err != nil {
		return Config{}, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, ErrNotLoggedIn
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading login: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("login file %s is damaged (%v): run `spool login` again", path, err)
	}
	if err := cfg.checkMethod(); err != nil {
		return Config{}, fmt.Errorf("login file %s: %w", path, err)
	}
	return cfg, nil
}

// Logout forgets the login remembered at file (empty: DefaultConfigPath). Tokens in
// azidentity's persistent cache stay until they expire.
func Logout(file string) error {
	path, err := configPath(file)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing login: %w", err)
	}
	return nil
}
