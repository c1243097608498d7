package login

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// credentialSettings are the parts of building a credential that differ between
// Login (may prompt) and Load (must not).
type credentialSettings struct {
	interactive bool
	prompt      func(context.Context, azidentity.DeviceCodeMessage) error
}

// newCredential builds the azidentity credential of cfg.Method for cfg's authority.
func newCredential(cfg Config, s credentialSettings) (azcore.TokenCredential, error) {
	host, tenant, err := splitAuthority(cfg.Metadata.Authority)
	if err != nil {
		return nil, err
	}
	client := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: host}}
	cache := tokenCache(cfg.PersistentCache)
	var cred azcore.TokenCredential
	switch cfg.Method {
	case Browser:
		cred, err = azidentity.NewInteractiveBrowserCredential(&azidentity.InteractiveBrowserCredentialOptions{
			ClientOptions: client, ClientID: cfg.Metadata.CLIAppID, TenantID: tenant, Cache: cache,
			AuthenticationRecord: record(cfg), DisableAutomaticAuthentication: !s.interactive,
		})
	case DeviceCode:
		cred, err = azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			ClientOptions: client, ClientID: cfg.Metadata.CLIAppID, TenantID: tenant, Cache: cache,
			AuthenticationRecord: record(cfg), DisableAutomaticAuthentication: !s.interactive,
			UserPrompt: devicePrompt(s.prompt),
		})
	case ManagedIdentity:
		mi := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: client}
		if cfg.ClientID != "" {
			mi.ID = azidentity.ClientID(cfg.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(mi)
	case ServicePrincipal:
		cred, err = certificateCredential(cfg, client, tenant, cache)
	case WorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: client, ClientID: cfg.ClientID, TenantID: tenant, TokenFilePath: cfg.TokenFilePath, Cache: cache,
		})
	case AzureCLI:
		cred, err = azureCLICredential(tenant)
	default:
		return nil, fmt.Errorf("unknown login method %q", cfg.Method)
	}
	if err != nil {
		return nil, fmt.Errorf("setting up %s sign-in: %w", cfg.Method, err)
	}
	return cred, nil
}

func record(cfg Config) azidentity.AuthenticationRecord {
	if cfg.Record == nil {
		return azidentity.AuthenticationRecord{}
	}
	return *cfg.Record
}

func devicePrompt(prompt func(context.Context, azidentity.DeviceCodeMessage) error) func(context.Context, azidentity.DeviceCodeMessage) error {
	if prompt != nil {
		return prompt
	}
	return func(_ context.Context, m azidentity.DeviceCodeMessage) error {
		_, err := fmt.Fprintln(os.Stderr, m.Message)
		return err
	}
}

func certificateCredential(cfg Config, client azcore.ClientOptions, tenant string, cache azidentity.Cache) (azcore.TokenCredential, error) {
	data, err := os.ReadFile(cfg.CertificatePath)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate: %w", err)
	}
	certs, key, err := azidentity.ParseCertificates(data, nil)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", cfg.CertificatePath, err)
	}
	return azidentity.NewClientCertificateCredential(tenant, cfg.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: client, Cache: cache, SendCertificateChain: true})
}

// azureCLICredential runs `az account get-access-token`; since every call starts a
// process, its tokens are reused in memory until shortly before they expire.
func azureCLICredential(tenant string) (azcore.TokenCredential, error) {
	if tenant == "organizations" || tenant == "common" {
		tenant = ""
	}
	cli, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenant})
	if err != nil {
		return nil, err
	}
	return newReusingCredential(cli), nil
}

// splitAuthority parses https://login.microsoftonline.com/<tenant> into the authority
// host azidentity wants and the tenant (empty when the authority has no path).
func splitAuthority(authority string) (host, tenant string, err error) {
	u, err := url.Parse(authority)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("the server's authority %q is not a URL", authority)
	}
	tenant = strings.Trim(u.Path, "/")
	if strings.Contains(tenant, "/") {
		return "", "", fmt.Errorf("the server's authority %q is not of the form https://HOST/TENANT", authority)
	}
	return u.Scheme + "://" + u.Host + "/", tenant, nil
}
