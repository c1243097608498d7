package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheSampleSettingsPointTheHandlerAndTheHostAtTheLocalAzurite reads the sample
// the way the host and the handler would: FUNCTIONS_WORKER_RUNTIME custom, the host's
// storage the emulator, and a handler configuration on make storage's ports.
func TestTheSampleSettingsPointTheHandlerAndTheHostAtTheLocalAzurite(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "local.settings.json.sample"))
	if err != nil {
		t.Fatal(err)
	}
	var settings struct {
		IsEncrypted bool
		Values      map[string]string
	}
	if err := json.Unmarshal(raw, &settings); err != nil {
		t.Fatalf("local.settings.json.sample: %v", err)
	}
	v := settings.Values
	if settings.IsEncrypted || v["FUNCTIONS_WORKER_RUNTIME"] != "custom" || v["AzureWebJobsStorage"] != "UseDevelopmentStorage=true" {
		t.Errorf("the host would not run the custom handler on the emulator: %s", raw)
	}
	cfg, err := configFromEnv(func(k string) string { return v[k] })
	if err != nil {
		t.Fatalf("the handler refuses the sample's settings: %v", err)
	}
	for _, endpoint := range []string{"BlobEndpoint=http://127.0.0.1:10000/", "TableEndpoint=http://127.0.0.1:10002/"} {
		if !strings.Contains(cfg.connectionString, endpoint) {
			t.Errorf("the handler's connection string lacks %s (where make storage listens)", endpoint)
		}
	}
}
