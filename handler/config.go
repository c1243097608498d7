package handler

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/tablestore"
)

// Config is what the handler needs from its environment (app settings in Azure,
// exported variables locally).
type Config struct {
	// Port is FUNCTIONS_CUSTOMHANDLER_PORT, set by the Functions host; 7071 (the port
	// `func start` uses) when run alone.
	Port int
	// ConnectionString is SPOOL_STORAGE_CONNECTION_STRING: a full shared-key
	// connection string (Azurite, or an account with shared keys enabled).
	ConnectionString string
	// Account is SPOOL_STORAGE_ACCOUNT: an account name whose endpoints are derived
	// and reached with DefaultAzureCredential (a managed identity in Azure).
	Account string
	// Location is SPOOL_LOCATION, else the Functions host's REGION_NAME as a
	// location name ("East US" → "eastus"), else "local".
	Location string
	// TablePrefix is SPOOL_TABLE_PREFIX; empty means tablestore's default.
	TablePrefix string
	// RequirePrincipal is SPOOL_REQUIRE_PRINCIPAL (true/false, default false): when
	// true, every route but metadata answers 401 unless App Service authentication
	// (Easy Auth) passed an X-MS-CLIENT-PRINCIPAL-ID or X-MS-CLIENT-PRINCIPAL header.
	// Turn it on only when the app sits behind Entra ID authentication; the headers
	// are trustworthy only there. Function keys (authLevel function) apply either way.
	RequirePrincipal bool
}

// ListenAddr is the loopback address the host expects the handler on.
func (c Config) ListenAddr() string { return fmt.Sprintf("127.0.0.1:%d", c.Port) }

// ConfigFromEnv reads the configuration through getenv (os.Getenv in main).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Port:             7071,
		ConnectionString: strings.TrimSpace(getenv("SPOOL_STORAGE_CONNECTION_STRING")),
		Account:          strings.TrimSpace(getenv("SPOOL_STORAGE_ACCOUNT")),
		Location:         strings.TrimSpace(getenv("SPOOL_LOCATION")),
		TablePrefix:      strings.TrimSpace(getenv("SPOOL_TABLE_PREFIX")),
	}
	if v := strings.TrimSpace(getenv("SPOOL_REQUIRE_PRINCIPAL")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("SPOOL_REQUIRE_PRINCIPAL %q must be true or false", v)
		}
		c.RequirePrincipal = b
	}
	if p := strings.TrimSpace(getenv("FUNCTIONS_CUSTOMHANDLER_PORT")); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return Config{}, fmt.Errorf("FUNCTIONS_CUSTOMHANDLER_PORT %q is not a TCP port", p)
		}
		c.Port = port
	}
	switch {
	case c.ConnectionString == "" && c.Account == "":
		return Config{}, errors.New("no storage configured: set SPOOL_STORAGE_CONNECTION_STRING (a full connection string) or SPOOL_STORAGE_ACCOUNT (an account name, used with DefaultAzureCredential)")
	case c.ConnectionString != "" && c.Account != "":
		return Config{}, errors.New("both SPOOL_STORAGE_CONNECTION_STRING and SPOOL_STORAGE_ACCOUNT are set; set only one")
	}
	if c.Location == "" {
		c.Location = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(getenv("REGION_NAME")), " ", ""))
	}
	if c.Location == "" {
		c.Location = "local"
	}
	return c, nil
}

// Connect opens the table store and the blob account the configuration names and
// returns Options ready for New (Logger and Now left for the caller).
func Connect(ctx context.Context, c Config) (Options, error) {
	opts := Options{Location: c.Location, RequirePrincipal: c.RequirePrincipal}
	var blobOpts BlobOptions
	if c.ConnectionString != "" {
		var err error
		if blobOpts, err = blobOptionsFromConnectionString(c.ConnectionString); err != nil {
			return Options{}, err
		}
		svc, err := aztables.NewServiceClientFromConnectionString(c.ConnectionString, tableClientOptions())
		if err != nil {
			return Options{}, errors.New("SPOOL_STORAGE_CONNECTION_STRING is not a valid table connection string")
		}
		if opts.Store, err = tablestore.Open(ctx, svc, tablestore.Options{TablePrefix: c.TablePrefix}); err != nil {
			return Options{}, fmt.Errorf("opening the table store: %w", err)
		}
	} else {
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return Options{}, fmt.Errorf("getting Azure credentials: %w", err)
		}
		if !accountPattern.MatchString(c.Account) {
			return Options{}, fmt.Errorf("SPOOL_STORAGE_ACCOUNT %q must be 3-24 lowercase letters or digits", c.Account)
		}
		svc, err := aztables.NewServiceClient("https://"+c.Account+".table.core.windows.net/", cred, tableClientOptions())
		if err != nil {
			return Options{}, fmt.Errorf("table service for account %s: %w", c.Account, err)
		}
		if opts.Store, err = tablestore.Open(ctx, svc, tablestore.Options{TablePrefix: c.TablePrefix}); err != nil {
			return Options{}, fmt.Errorf("opening the table store: %w", err)
		}
		blobOpts = BlobOptions{
			Endpoint:    "https://" + c.Account + ".blob.core.windows.net/",
			AccountName: c.Account,
			Credential:  cred,
		}
	}
	containers, err := NewBlobContainers(blobOpts)
	if err != nil {
		return Options{}, err
	}
	opts.Containers = containers
	return opts, nil
}

var accountPattern = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

// storageRetry bounds what one storage call may cost. The SDK default (3 retries,
// no per-try timeout, waits of up to 60 s, and it honours a server's Retry-After)
// can hold a request for minutes when the table is down or stalls; a request
// should rather fail fast with 503 and let the client retry.
var storageRetry = policy.RetryOptions{
	MaxRetries:    2,
	TryTimeout:    10 * time.Second,
	RetryDelay:    200 * time.Millisecond,
	MaxRetryDelay: 2 * time.Second,
}

func tableClientOptions() *aztables.ClientOptions {
	return &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: storageRetry}}
}

// blobOptionsFromConnectionString takes the account, its key and the blob endpoint
// from a connection string. The key is required: it signs the service SAS URLs.
// Errors never quote the string, which holds the key.
func blobOptionsFromConnectionString(cs string) (BlobOptions, error) {
	fields := map[string]string{}
	for part := range strings.SplitSeq(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[strings.ToLower(k)] = v
		}
	}
	o := BlobOptions{
		AccountName: fields["accountname"],
		AccountKey:  fields["accountkey"],
		Endpoint:    fields["blobendpoint"],
	}
	if o.AccountName == "" || o.AccountKey == "" {
		return BlobOptions{}, errors.New("SPOOL_STORAGE_CONNECTION_STRING needs AccountName and AccountKey (the key signs access URLs)")
	}
	if o.Endpoint == "" {
		protocol, suffix := fields["defaultendpointsprotocol"], fields["endpointsuffix"]
		if protocol == "" {
			protocol = "https"
		}
		if suffix == "" {
			suffix = "core.windows.net"
		}
		o.Endpoint = fmt.Sprintf("%s://%s.blob.%s/", protocol, o.AccountName, suffix)
	}
	if u, err := url.Parse(o.Endpoint); err != nil || u.Host == "" {
		return BlobOptions{}, errors.New("SPOOL_STORAGE_CONNECTION_STRING has an invalid BlobEndpoint")
	}
	return o, nil
}
