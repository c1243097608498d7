package main

import (
	"strings"
	"testing"
	"time"
)

// env is a process environment for run and configFromEnv, without touching the
// real one.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestConfigFromEnvDefaultsForLocalUse(t *testing.T) {
	c, err := configFromEnv(env{"SPOOL_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if c.port != 7071 || c.listenAddr() != "127.0.0.1:7071" || c.location != "local" {
		t.Errorf("got %+v", c)
	}
}

func TestConfigFromEnvReadsHostPortAndRegion(t *testing.T) {
	c, err := configFromEnv(env{
		"SPOOL_STORAGE_ACCOUNT":        "spooldata",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "34567",
		"REGION_NAME":                  "East US 2",
	}.get)
	if err != nil {
		t.Fatal(err)
	}
	if c.listenAddr() != "127.0.0.1:34567" || c.location != "eastus2" || c.account != "spooldata" {
		t.Errorf("got %+v", c)
	}
	c, _ = configFromEnv(env{"SPOOL_STORAGE_ACCOUNT": "x", "REGION_NAME": "East US", "SPOOL_LOCATION": "westeurope"}.get)
	if c.location != "westeurope" {
		t.Errorf("SPOOL_LOCATION did not win: %q", c.location)
	}
}

func TestConfigFromEnvRefusesMissingOrAmbiguousStorageAndBadPorts(t *testing.T) {
	for name, e := range map[string]env{
		"nothing":  {},
		"both":     {"SPOOL_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k", "SPOOL_STORAGE_ACCOUNT": "a"},
		"port":     {"SPOOL_STORAGE_ACCOUNT": "a", "FUNCTIONS_CUSTOMHANDLER_PORT": "http"},
		"port out": {"SPOOL_STORAGE_ACCOUNT": "a", "FUNCTIONS_CUSTOMHANDLER_PORT": "70000"},
	} {
		if _, err := configFromEnv(e.get); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfigReadsSpoolRequirePrincipal(t *testing.T) {
	base := env{"SPOOL_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k"}
	c, err := configFromEnv(base.get)
	if err != nil || c.requirePrincipal {
		t.Fatalf("default: %+v %v", c, err)
	}
	base["SPOOL_REQUIRE_PRINCIPAL"] = "true"
	if c, err := configFromEnv(base.get); err != nil || !c.requirePrincipal {
		t.Errorf("true: %+v %v", c, err)
	}
	base["SPOOL_REQUIRE_PRINCIPAL"] = "yes please"
	if _, err := configFromEnv(base.get); err == nil || !strings.Contains(err.Error(), "SPOOL_REQUIRE_PRINCIPAL") {
		t.Errorf("bad value accepted: %v", err)
	}
}

func TestSoftDeletedLifetimeComesFromTheEnvironmentAsATimeSpan(t *testing.T) {
	base := "AccountName=a;AccountKey=k"
	for value, want := range map[string]time.Duration{"": 24 * time.Hour, "0.12:00:00": 12 * time.Hour, "7": 7 * 24 * time.Hour} {
		c, err := configFromEnv(env{"SPOOL_STORAGE_CONNECTION_STRING": base, "SPOOL_SOFT_DELETED_LIFETIME": value}.get)
		if err != nil || c.lifecycle.SoftDeletedLifetime != want {
			t.Errorf("%q: %v, %v; want %v", value, c.lifecycle.SoftDeletedLifetime, err, want)
		}
	}
	for _, value := range []string{"0", "a day", "-1.00:00:00", "1.25:00:00"} {
		if _, err := configFromEnv(env{"SPOOL_STORAGE_CONNECTION_STRING": base, "SPOOL_SOFT_DELETED_LIFETIME": value}.get); err == nil {
			t.Errorf("%q accepted", value)
		}
	}
}

func TestClientsRefuseAConnectionStringWithoutAKeyAndNeverQuoteIt(t *testing.T) {
	c, err := configFromEnv(env{"SPOOL_STORAGE_CONNECTION_STRING": "AccountName=acct;SharedAccessSignature=sv=secret"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := clients(c); err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "SPOOL_STORAGE_CONNECTION_STRING") {
		t.Errorf("got %v", err)
	}
	c, _ = configFromEnv(env{"SPOOL_STORAGE_ACCOUNT": "Not_An_Account"}.get)
	if _, _, err := clients(c); err == nil || !strings.Contains(err.Error(), "SPOOL_STORAGE_ACCOUNT") {
		t.Errorf("bad account name: %v", err)
	}
}

func TestIndexShardsComeFromTheEnvironmentWithinTheStoresRange(t *testing.T) {
	base := "AccountName=a;AccountKey=k"
	for value, want := range map[string]int{"": 0, "1": 1, " 32 ": 32, "256": 256} {
		c, err := configFromEnv(env{"SPOOL_STORAGE_CONNECTION_STRING": base, "SPOOL_INDEX_SHARDS": value}.get)
		if err != nil || c.indexShards != want {
			t.Errorf("%q: %d, %v; want %d", value, c.indexShards, err, want)
		}
	}
	for _, value := range []string{"0", "-1", "257", "sixteen", "1.5"} {
		_, err := configFromEnv(env{"SPOOL_STORAGE_CONNECTION_STRING": base, "SPOOL_INDEX_SHARDS": value}.get)
		if err == nil || !strings.Contains(err.Error(), "SPOOL_INDEX_SHARDS") {
			t.Errorf("%q: %v, want an error naming SPOOL_INDEX_SHARDS", value, err)
		}
	}
}
