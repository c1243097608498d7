package handler

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

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
	opts := Options{Location: c.Location}
	var blobOpts BlobOptions
	if c.ConnectionString != "" {
		var err error
		if blobOpts, err = blobOptionsFromConnectionString(c.ConnectionString); err != nil {
			return Options{}, err
		}
		svc, err := tablestore.ServiceClientFromConnectionString(c.ConnectionString)
		if err != nil {
			return Options{}, err
		}
		if opts.Store, err = tablestore.Open(ctx, svc, tablestore.Options{TablePrefix: c.TablePrefix}); err != nil {
			return Options{}, fmt.Errorf("opening the table store: %w", err)
		}
	} else {
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return Options{}, fmt.Errorf("getting Azure credentials: %w", err)
		}
		svc, err := tablestore.ServiceClientFromAccount(c.Account, cred)
		if err != nil {
			return Options{}, err
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
