package handler

import (
	"net/http"
	"strings"
	"testing"
)

func TestNewBuffersGoRoundRobinOverTheAccountsOfTheirLocation(t *testing.T) {
	east1, east2, west := newFakeContainers(), newFakeContainers(), newFakeContainers()
	f := &apiFixture{store: newFakeStore(), containers: east1}
	f.serve(t, Options{Store: f.store, DefaultLocation: "eastus", Accounts: []StorageAccount{
		{Name: "west", Location: "westus", Containers: west},
		{Name: "east1", Location: "EastUS", Containers: east1},
		{Name: "east2", Location: "eastus", Containers: east2},
	}})
	for range 4 {
		if r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(`{}`), "Content-Type", "application/json"); r.status != http.StatusCreated ||
			!strings.Contains(string(r.body), `"location":"eastus"`) {
			t.Fatalf("create in the default location: %d %s", r.status, r.body)
		}
	}
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(`{"location":"WESTUS"}`), "Content-Type", "application/json")
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"location":"westus"`) {
		t.Fatalf("create in westus: %d %s", r.status, r.body)
	}
	if east1.count() != 2 || east2.count() != 2 || west.count() != 1 {
		t.Errorf("containers per account: east1 %d, east2 %d, west %d; want 2, 2, 1", east1.count(), east2.count(), west.count())
	}
	r = f.do(t, http.MethodGet, "/buffers/storage-accounts", nil)
	want := `[{"name":"west","location":"westus","endpoint":""},{"name":"east1","location":"eastus","endpoint":""},{"name":"east2","location":"eastus","endpoint":""}]`
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != want {
		t.Errorf("storage-accounts: %d %s", r.status, r.body)
	}
}

func TestAccountsThatCannotWorkAreRefusedAtStart(t *testing.T) {
	c := newFakeContainers()
	for name, opts := range map[string]Options{
		"duplicate name":   {Accounts: []StorageAccount{{Name: "a", Location: "x", Containers: c}, {Name: "a", Location: "y", Containers: c}}},
		"no location":      {Accounts: []StorageAccount{{Name: "a", Containers: c}}},
		"default has none": {Accounts: []StorageAccount{{Name: "a", Location: "x", Containers: c}}, DefaultLocation: "y"},
	} {
		opts.Store = newFakeStore()
		if _, err := New(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
