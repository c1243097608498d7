package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"spool/auth"
	"spool/handler"
	"spool/internal/model"
	"spool/tablestore"
)

// config is what the handler needs from its environment (app settings in Azure,
// exported variables locally).
type config struct {
	// port is FUNCTIONS_CUSTOMHANDLER_PORT, set by the Functions host; 7071 (the port
	// `func start` uses) when run alone.
	port int
	// connectionString is SPOOL_STORAGE_CONNECTION_STRING: a full shared-key
	// connection string (Azurite, or an account with shared keys enabled).
	connectionString string
	// account is SPOOL_STORAGE_ACCOUNT: an account name whose endpoints are derived
	// and reached with DefaultAzureCredential (a managed identity in Azure).
	account string
	// location is SPOOL_LOCATION, else the Functions host's REGION_NAME as a
	// location name ("East US" → "eastus"), else "local".
	location string
	// accounts is SPOOL_STORAGE_ACCOUNTS: further blob accounts for buffers, each
	// with its location (see parseAccountSettings).
	accounts []accountSetting
	// defaultLocation is SPOOL_DEFAULT_LOCATION: where a create without a location
	// goes; empty means location.
	defaultLocation string
	// tablePrefix is SPOOL_TABLE_PREFIX; empty means tablestore's default.
	tablePrefix string
	// requirePrincipal is SPOOL_REQUIRE_PRINCIPAL (true/false, default false): when
	// true, every route but metadata answers 401 unless App Service authentication
	// (Easy Auth) passed an X-MS-CLIENT-PRINCIPAL-ID or X-MS-CLIENT-PRINCIPAL header.
	// Turn it on only when the app sits behind Entra ID authentication; the headers
	// are trustworthy only there. Function keys (authLevel function) apply either way.
	requirePrincipal bool
	// lifecycle holds SPOOL_SOFT_DELETED_LIFETIME, how long a deleted buffer stays
	// restorable when the delete names no ttl (a TimeSpan such as 1.00:00:00;
	// default 1 day).
	lifecycle handler.LifecycleOptions
	// auth is SPOOL_AUTH_ISSUER, SPOOL_AUTH_AUDIENCE and the metadata settings
	// (auth.FromEnv): with an issuer, every route needs a bearer token.
	auth auth.Options
	// indexShards is SPOOL_INDEX_SHARDS: how many partitions each table index is
	// spread over (1-256; 0, unset, means tablestore's default). Raise it freely,
	// never lower it (see tablestore.Options.IndexShards).
	indexShards int
}

// listenAddr is the loopback address the host expects the handler on.
func (c config) listenAddr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// configFromEnv reads the configuration through getenv (os.Getenv in main).
func configFromEnv(getenv func(string) string) (config, error) {
	setting := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c := config{
		port:             7071,
		connectionString: setting("SPOOL_STORAGE_CONNECTION_STRING"),
		account:          setting("SPOOL_STORAGE_ACCOUNT"),
		location:         setting("SPOOL_LOCATION"),
		tablePrefix:      setting("SPOOL_TABLE_PREFIX"),
	}
	if v := setting("SPOOL_REQUIRE_PRINCIPAL"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("SPOOL_REQUIRE_PRINCIPAL %q must be true or false", v)
		}
		c.requirePrincipal = b
	}
	if p := setting("FUNCTIONS_CUSTOMHANDLER_PORT"); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return config{}, fmt.Errorf("FUNCTIONS_CUSTOMHANDLER_PORT %q is not a TCP port", p)
		}
		c.port = port
	}
	switch {
	case c.connectionString == "" && c.account == "":
		return config{}, errors.New("no storage configured: set SPOOL_STORAGE_CONNECTION_STRING (a full connection string) or SPOOL_STORAGE_ACCOUNT (an account name, used with DefaultAzureCredential)")
	case c.connectionString != "" && c.account != "":
		return config{}, errors.New("both SPOOL_STORAGE_CONNECTION_STRING and SPOOL_STORAGE_ACCOUNT are set; set only one")
	}
	if c.location == "" {
		c.location = strings.ToLower(strings.ReplaceAll(setting("REGION_NAME"), " ", ""))
	}
	if c.location == "" {
		c.location = "local"
	}
	c.defaultLocation = strings.ToLower(setting("SPOOL_DEFAULT_LOCATION"))
	var err error
	if c.accounts, err = parseAccountSettings(setting("SPOOL_STORAGE_ACCOUNTS")); err != nil {
		return config{}, err
	}
	if c.lifecycle, err = lifecycleFromEnv(setting); err != nil {
		return config{}, err
	}
	if c.auth, err = auth.FromEnv(getenv); err != nil {
		return config{}, err
	}
	if c.indexShards, err = indexShardsFromEnv(setting); err != nil {
		return config{}, err
	}
	return c, nil
}

// lifecycleFromEnv reads the lifecycle settings; unset means the defaults.
func lifecycleFromEnv(setting func(string) string) (handler.LifecycleOptions, error) {
	var o handler.LifecycleOptions
	if s := setting("SPOOL_SOFT_DELETED_LIFETIME"); s != "" {
		d, err := model.ParseTimeSpan(s)
		if err == nil && d <= 0 {
			err = errors.New("it is not positive")
		}
		if err != nil {
			return o, fmt.Errorf("SPOOL_SOFT_DELETED_LIFETIME %q must be a positive TimeSpan such as 1.00:00:00: %w", s, err)
		}
		o.SoftDeletedLifetime = d
	}
	return o.WithDefaults(), nil
}

// indexShardsFromEnv reads SPOOL_INDEX_SHARDS; unset means tablestore's default.
func indexShardsFromEnv(setting func(string) string) (int, error) {
	v := setting("SPOOL_INDEX_SHARDS")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > tablestore.MaxIndexShards {
		return 0, fmt.Errorf("SPOOL_INDEX_SHARDS %q must be a whole number from 1 to %d", v, tablestore.MaxIndexShards)
	}
	return n, nil
}
