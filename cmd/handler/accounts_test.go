package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"spool/internal/azurite"
)

// containerExists asks the blob service at endpoint whether it holds container id.
func containerExists(t *testing.T, endpoint, id string) bool {
	t.Helper()
	cred, err := service.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.NewClientWithSharedKeyCredential(endpoint, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.NewContainerClient(id).GetProperties(context.Background(), nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("container %s at %s: %v", id, endpoint, err)
	}
	return true
}

// twoLocations runs a handler over the shared Azurite (account devstoreaccount1 in
// eastus, which also holds the tables) and a second Azurite's blob service as
// account "west1" in westus.
func twoLocations(t *testing.T, prefix string) (*running, *azurite.Instance, *azurite.Instance) {
	t.Helper()
	east := storage.Get(t)
	west, err := azurite.Start(azurite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(west.Stop)
	accounts, _ := json.Marshal([]accountSetting{{Name: "west1", ConnectionString: west.ConnectionString(), Location: "WestUS"}})
	h := startHandler(t, env{
		"SPOOL_STORAGE_CONNECTION_STRING": east.ConnectionString(),
		"SPOOL_LOCATION":                  "eastus",
		"SPOOL_STORAGE_ACCOUNTS":          string(accounts),
		"SPOOL_TABLE_PREFIX":              prefix,
	})
	h.waitHealthy(t)
	return h, east, west
}

// createIn creates a buffer in location (none when empty) and returns its ID and
// the location it reports.
func (h *running) createIn(t *testing.T, location string) (string, string) {
	t.Helper()
	r := h.do(t, http.MethodPost, "/buffers", `{"location":"`+location+`"}`)
	var b struct{ ID, Location string }
	if err := json.Unmarshal([]byte(r.body), &b); r.status != http.StatusCreated || err != nil {
		t.Fatalf("create in %q: %d %s", location, r.status, r.body)
	}
	return b.ID, b.Location
}

func TestBuffersGoToAnAccountOfTheirLocationAndEveryLaterStepFollows(t *testing.T) {
	h, east, west := twoLocations(t, "twoloc")

	westID, loc := h.createIn(t, "westus")
	if loc != "westus" || !containerExists(t, west.BlobEndpoint, westID) || containerExists(t, east.BlobEndpoint, westID) {
		t.Errorf("a westus buffer: location %q, in west %v, in east %v", loc,
			containerExists(t, west.BlobEndpoint, westID), containerExists(t, east.BlobEndpoint, westID))
	}
	eastID, loc := h.createIn(t, "")
	if loc != "eastus" || !containerExists(t, east.BlobEndpoint, eastID) || containerExists(t, west.BlobEndpoint, eastID) {
		t.Errorf("a buffer without location: %q, not only in the east account", loc)
	}
	if r := h.do(t, http.MethodPost, "/buffers", `{"location":"mars"}`); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, "No storage accounts configured for location 'mars'") {
		t.Errorf("unknown location: %d %s", r.status, r.body)
	}

	r := h.do(t, http.MethodPost, "/buffers/"+westID+"/access?writeable=true", "")
	var access struct{ URI string }
	if err := json.Unmarshal([]byte(r.body), &access); err != nil || !strings.HasPrefix(access.URI, west.BlobEndpoint+"/"+westID+"?") {
		t.Fatalf("access to the westus buffer: %d %s", r.status, r.body)
	}
	put, _ := http.NewRequest(http.MethodPut, strings.Replace(access.URI, "?", "/blob?", 1), strings.NewReader("west bytes"))
	put.Header.Set("x-ms-blob-type", "BlockBlob")
	if resp, err := client.Do(put); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("writing through the westus URL: %v %v", resp, err)
	}

	h.purgeNow(t, westID)
	if containerExists(t, west.BlobEndpoint, westID) {
		t.Error("the purge left the westus container")
	}
	if !containerExists(t, east.BlobEndpoint, eastID) {
		t.Error("the purge of a westus buffer touched the eastus one")
	}
}

// purgeNow deletes and purges a buffer, then posts the timer until its record is
// gone for good.
func (h *running) purgeNow(t *testing.T, id string) {
	t.Helper()
	if r := h.do(t, http.MethodDelete, "/buffers/"+id+"?ttl=0", ""); r.status != http.StatusOK {
		t.Fatalf("delete %s: %d %s", id, r.status, r.body)
	}
	timer := strings.TrimSuffix(h.base, "/api") + "/SweepExpired"
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := client.Post(timer, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if r := h.do(t, http.MethodGet, "/buffers/"+id+"?softDeleted=true", ""); r.status == http.StatusNotFound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("buffer %s not purged within 60 s", id)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestStorageAccountsListsEveryAccountWithItsLocationAndEndpoint(t *testing.T) {
	h, east, west := twoLocations(t, "acctlist")
	r := h.do(t, http.MethodGet, "/buffers/storage-accounts", "")
	var got []struct{ Name, Location, Endpoint string }
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != http.StatusOK {
		t.Fatalf("storage-accounts: %d %s", r.status, r.body)
	}
	want := []struct{ Name, Location, Endpoint string }{
		{azurite.AccountName, "eastus", east.BlobEndpoint},
		{"west1", "westus", west.BlobEndpoint},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("storage-accounts: %+v, want %+v", got, want)
	}
	if strings.Contains(r.body, azurite.AccountKey) {
		t.Error("storage-accounts shows an account key")
	}
	status, checks := h.health(t)
	if status != http.StatusOK || checks["blob"] != "ok" {
		t.Errorf("healthz over two accounts: %d %v", status, checks)
	}
	west.Stop()
	if status, checks := h.health(t); status != http.StatusServiceUnavailable || !strings.Contains(checks["blob"], "account west1") {
		t.Errorf("healthz with the westus account down: %d %v", status, checks)
	}
}

func TestStorageAccountsSettingTakesJSONOrEntriesAndRefusesBadOnes(t *testing.T) {
	got, err := parseAccountSettings("acct1@eastus, AccountName=b;AccountKey=k@WestUS")
	if err != nil || len(got) != 2 || got[0] != (accountSetting{Name: "acct1", Location: "eastus"}) ||
		got[1] != (accountSetting{ConnectionString: "AccountName=b;AccountKey=k", Location: "westus"}) {
		t.Errorf("entries: %+v %v", got, err)
	}
	for name, bad := range map[string]string{
		"no location": "acct1",
		"empty name":  "@eastus",
		"bad json":    `[{"name":`,
		"json no loc": `[{"name":"a"}]`,
	} {
		if _, err := parseAccountSettings(bad); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "AccountKey") {
			t.Errorf("%s: %v", name, err)
		}
	}
	home := connectionString(freePort(t), freePort(t))
	e := env{"SPOOL_STORAGE_CONNECTION_STRING": home, "SPOOL_STORAGE_ACCOUNTS": home + "@eastus"}
	if err := run(context.Background(), e.get, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("two accounts of one name: %v", err)
	}
	e = env{"SPOOL_STORAGE_CONNECTION_STRING": home, "SPOOL_DEFAULT_LOCATION": "mars"}
	if err := run(context.Background(), e.get, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "default location") {
		t.Errorf("a default location without accounts: %v", err)
	}
}
