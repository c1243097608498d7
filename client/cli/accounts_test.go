package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStorageAccountListAndCreateWithALocation(t *testing.T) {
	startCopyStack(t)
	for _, spelling := range []string{"storage-account", "storage-accounts"} {
		r := runCLI(t, "", "buffer", spelling, "list")
		var accounts []struct{ Name, Location, Endpoint string }
		if err := json.Unmarshal([]byte(r.stdout), &accounts); r.code != 0 || err != nil || len(accounts) != 2 ||
			accounts[0].Name != "east" || accounts[1].Location != "westus" || !strings.HasPrefix(accounts[1].Endpoint, "http://127.0.0.1:") {
			t.Errorf("%s list: %+v", spelling, r)
		}
	}
	id := createBuffer(t, "--location", "westus")
	if r := runCLI(t, "", "buffer", "show", id); !strings.Contains(r.stdout, `"location": "westus"`) {
		t.Errorf("show of a westus buffer: %+v", r)
	}
	r := runCLI(t, "", "buffer", "create", "--location", "mars")
	if r.code != exitFailure || !strings.Contains(r.stderr, "No storage accounts configured for location 'mars'") {
		t.Errorf("create in an unknown location: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "storage-account", "show"); r.code != exitUsage {
		t.Errorf("storage-account show: %+v", r)
	}
}
