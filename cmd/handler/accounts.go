package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"spool/blobstore"
	"spool/handler"
)

// accountSetting is one entry of SPOOL_STORAGE_ACCOUNTS: a blob storage account
// buffers may be placed in, besides the account of SPOOL_STORAGE_CONNECTION_STRING
// or SPOOL_STORAGE_ACCOUNT (which also holds the tables).
type accountSetting struct {
	// Name is the account name (reached with DefaultAzureCredential), or, with a
	// connection string, the name records use for it (default: its AccountName).
	Name string `json:"name"`
	// ConnectionString is a shared-key connection string (Azurite).
	ConnectionString string `json:"connectionString"`
	Location         string `json:"location"`
}

// parseAccountSettings reads SPOOL_STORAGE_ACCOUNTS: a JSON array of
// {"name","connectionString","location"}, or entries `name@location` or
// `connectionstring@location` separated by commas or white space. Errors never
// quote a connection string.
func parseAccountSettings(s string) ([]accountSetting, error) {
	if s == "" {
		return nil, nil
	}
	var list []accountSetting
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &list); err != nil {
			return nil, errors.New(`SPOOL_STORAGE_ACCOUNTS is not a JSON array of {"name","connectionString","location"}`)
		}
	} else {
		for entry := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
			at := strings.LastIndex(entry, "@")
			if at < 0 {
				return nil, fmt.Errorf("SPOOL_STORAGE_ACCOUNTS entry %d has no @location", len(list)+1)
			}
			a := accountSetting{Location: entry[at+1:]}
			if strings.Contains(entry[:at], "=") {
				a.ConnectionString = entry[:at]
			} else {
				a.Name = entry[:at]
			}
			list = append(list, a)
		}
	}
	for i, a := range list {
		if strings.TrimSpace(a.Location) == "" || (a.Name == "" && a.ConnectionString == "") {
			return nil, fmt.Errorf("SPOOL_STORAGE_ACCOUNTS entry %d needs a location and a name or connection string", i+1)
		}
		list[i].Location = strings.ToLower(strings.TrimSpace(a.Location))
	}
	return list, nil
}

// storageAccounts builds the handler's accounts: first the home account (in
// cfg.location), then those of SPOOL_STORAGE_ACCOUNTS in their order.
func storageAccounts(cfg config, home *blobstore.Containers) ([]handler.StorageAccount, error) {
	accounts := []handler.StorageAccount{account(home.AccountName(), cfg.location, home)}
	for i, setting := range cfg.accounts {
		opts, err := settingOptions(setting)
		if err != nil {
			return nil, fmt.Errorf("SPOOL_STORAGE_ACCOUNTS entry %d: %w", i+1, err)
		}
		name := setting.Name
		if name == "" {
			name = opts.AccountName
		}
		acct, err := storageAccount(name, setting.Location, opts)
		if err != nil {
			return nil, fmt.Errorf("SPOOL_STORAGE_ACCOUNTS entry %d: %w", i+1, err)
		}
		accounts = append(accounts, acct)
	}
	return accounts, nil
}

func storageAccount(name, location string, opts blobstore.Options) (handler.StorageAccount, error) {
	containers, err := blobstore.New(opts)
	if err != nil {
		return handler.StorageAccount{}, err
	}
	return account(name, location, containers), nil
}

func account(name, location string, containers *blobstore.Containers) handler.StorageAccount {
	return handler.StorageAccount{Name: name, Location: location, Endpoint: containers.Endpoint(), Containers: blobs{containers}}
}

// settingOptions turns one setting into blobstore options: a connection string's
// key, or DefaultAzureCredential for an account name.
func settingOptions(s accountSetting) (blobstore.Options, error) {
	if s.ConnectionString != "" {
		return blobstore.OptionsFromConnectionString(s.ConnectionString)
	}
	if !accountPattern.MatchString(s.Name) {
		return blobstore.Options{}, fmt.Errorf("account name %q must be 3-24 lowercase letters or digits", s.Name)
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return blobstore.Options{}, fmt.Errorf("getting Azure credentials: %w", err)
	}
	return blobstore.Options{Endpoint: "https://" + s.Name + ".blob.core.windows.net/", AccountName: s.Name, Credential: cred}, nil
}
