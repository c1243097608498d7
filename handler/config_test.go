package handler

import (
	"strings"
	"testing"
)

func TestConfigFromEnvDefaultsForLocalUse(t *testing.T) {
	c, err := ConfigFromEnv(env{"SPOOL_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7071 || c.ListenAddr() != "127.0.0.1:7071" || c.Location != "local" {
		t.Errorf("got %+v", c)
	}
}

func TestConfigFromEnvReadsHostPortAndRegion(t *testing.T) {
	c, err := ConfigFromEnv(env{
		"SPOOL_STORAGE_ACCOUNT":        "spooldata",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "34567",
		"REGION_NAME":                  "East US 2",
	}.get)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr() != "127.0.0.1:34567" || c.Location != "eastus2" || c.Account != "spooldata" {
		t.Errorf("got %+v", c)
	}
	c, _ = ConfigFromEnv(env{"SPOOL_STORAGE_ACCOUNT": "x", "REGION_NAME": "East US", "SPOOL_LOCATION": "westeurope"}.get)
	if c.Location != "westeurope" {
		t.Errorf("SPOOL_LOCATION did not win: %q", c.Location)
	}
}

func TestConfigFromEnvRefusesMissingOrAmbiguousStorageAndBadPorts(t *testing.T) {
	for name, e := range map[string]env{
		"nothing":  {},
		"both":     {"SPOOL_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k", "SPOOL_STORAGE_ACCOUNT": "a"},
		"port":     {"SPOOL_STORAGE_ACCOUNT": "a", "FUNCTIONS_CUSTOMHANDLER_PORT": "http"},
		"port out": {"SPOOL_STORAGE_ACCOUNT": "a", "FUNCTIONS_CUSTOMHANDLER_PORT": "70000"},
	} {
		if _, err := ConfigFromEnv(e.get); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBlobOptionsFromConnectionString(t *testing.T) {
	o, err := blobOptionsFromConnectionString("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;")
	if err != nil {
		t.Fatal(err)
	}
	if o.AccountName != "devstoreaccount1" || o.AccountKey != "a2V5" || o.Endpoint != "http://127.0.0.1:10000/devstoreaccount1" {
		t.Errorf("got %+v", o)
	}
	o, err = blobOptionsFromConnectionString("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net")
	if err != nil || o.Endpoint != "https://acct.blob.core.windows.net/" {
		t.Errorf("derived endpoint: %+v %v", o, err)
	}
	_, err = blobOptionsFromConnectionString("AccountName=acct;SharedAccessSignature=sv=secret")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a connection string without a key: %v", err)
	}
}
