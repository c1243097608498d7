// Package login signs the spool CLI in to a server that verifies bearer tokens: it
// reads the server's sign-in metadata, builds an Entra ID credential (azidentity) for
// the chosen method, remembers server and method in a per-user config file, and
// authorizes requests with the tokens it gets.
//
// Tokens are never written by this package. Interactive logins keep an
// azidentity AuthenticationRecord in the config file and their tokens in azidentity's
// encrypted persistent cache where the platform has one; where it has not, tokens live
// in memory, each process refreshes silently only while MSAL can, and otherwise asks
// for `spool login` again. Azure CLI tokens come from az's own cache and are reused in
// memory until five minutes before they expire.
package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Method is how the CLI gets its tokens.
type Method string

// Methods, as `spool login` flags choose them.
const (
	Browser          Method = "browser"           // default: interactive browser sign-in
	DeviceCode       Method = "device-code"       // --use-device-code
	ManagedIdentity  Method = "managed-identity"  // --identity [--client-id ID]
	ServicePrincipal Method = "service-principal" // --service-principal APP_ID --cert-file PEM
	WorkloadIdentity Method = "workload-identity" // --federated-token-file FILE
	AzureCLI         Method = "azure-cli"         // --azure-cli: `az account get-access-token`
)

// Options is what `spool login` was given.
type Options struct {
	// ServerURL is the API root, e.g. https://app.azurewebsites.net/api.
	ServerURL string
	// Method defaults to Browser.
	Method Method
	// ClientID is the user-assigned managed identity, the service principal's app ID
	// or the workload identity's client ID (default AZURE_CLIENT_ID).
	ClientID string
	// CertificatePath is the service principal's PEM file (certificate and key).
	CertificatePath string
	// TokenFilePath is the federated token file (default AZURE_FEDERATED_TOKEN_FILE).
	TokenFilePath string
	// ConfigPath is where the login is remembered; empty means DefaultConfigPath.
	ConfigPath string
	// NoPersistentCache keeps tokens in memory only, even where azidentity's
	// encrypted persistent cache is available.
	NoPersistentCache bool
	// DeviceCodePrompt shows the device code; nil prints it to standard error.
	DeviceCodePrompt func(context.Context, azidentity.DeviceCodeMessage) error
	// HTTPClient reads the server's metadata; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Session is a signed-in server: its remembered configuration and a credential that
// gets tokens for it.
type Session struct {
	Config     Config
	credential azcore.TokenCredential
}

// ErrNotLoggedIn is returned by Load when no login is remembered.
var ErrNotLoggedIn = errors.New("not logged in: run `spool login SERVER_URL`")

// Login signs in to opts.ServerURL and remembers the login. Interactive methods
// prompt now; every method gets one token, so a wrong setting fails here rather than
// on the first command.
func Login(ctx context.Context, opts Options) (*Session, error) {
	cfg, err := newConfig(ctx, opts)
	if err != nil {
		return nil, err
	}
	cred, err := newCredential(cfg, credentialSettings{interactive: true, prompt: opts.DeviceCodePrompt})
	if err != nil {
		return nil, err
	}
	s := &Session{Config: cfg, credential: cred}
	if a, ok := cred.(authenticator); ok {
		// The record names the account, so a later Load can refresh silently.
		record, err := a.Authenticate(ctx, &policy.TokenRequestOptions{Scopes: s.scopes()})
		if err != nil {
			return nil, fmt.Errorf("signing in to %s: %w", cfg.ServerURL, err)
		}
		s.Config.Record = &record
	} else if _, err := s.Token(ctx); err != nil {
		return nil, err
	}
	if err := saveConfig(opts.ConfigPath, s.Config); err != nil {
		return nil, err
	}
	return s, nil
}

// authenticator is implemented by the interactive credentials.
type authenticator interface {
	Authenticate(context.Context, *policy.TokenRequestOptions) (azidentity.AuthenticationRecord, error)
}

// Load resumes the login remembered at configPath (empty: DefaultConfigPath)
// without prompting; a login that needs the user again fails on Token with a hint.
func Load(configPath string) (*Session, error) {
	cfg, err := readConfig(configPath)
	if err != nil {
		return nil, err
	}
	cred, err := newCredential(cfg, credentialSettings{})
	if err != nil {
		return nil, err
	}
	return &Session{Config: cfg, credential: cred}, nil
}

// scopes asks for the server's app with its statically granted roles.
func (s *Session) scopes() []string {
	return []string{strings.TrimSuffix(s.Config.Metadata.Audience, "/") + "/.default"}
}

// Token gets an access token for the server.
func (s *Session) Token(ctx context.Context) (azcore.AccessToken, error) {
	tok, err := s.credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: s.scopes()})
	var again *azidentity.AuthenticationRequiredError
	if errors.As(err, &again) {
		return tok, fmt.Errorf("the login to %s has expired: run `spool login %s` again", s.Config.ServerURL, s.Config.ServerURL)
	}
	if err != nil {
		return tok, fmt.Errorf("getting a token for %s (%s): %w", s.Config.ServerURL, s.Config.Method, err)
	}
	return tok, nil
}

// Authorize sets req's Authorization header to a bearer token for the server.
func (s *Session) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := s.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	return nil
}
