package handler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"spool/internal/model"
)

// StorageAccount is one blob storage account buffers can live in.
type StorageAccount struct {
	// Name identifies the account in records; it must stay the same across
	// restarts, or the buffers placed in it can no longer be reached.
	Name string `json:"name"`
	// Location is the Azure region (or "local") the account is in.
	Location string `json:"location"`
	// Endpoint is the blob service URL, shown by GET /api/buffers/storage-accounts.
	Endpoint   string     `json:"endpoint"`
	Containers Containers `json:"-"`
}

// accountSet places new buffers and finds the account of an existing one. The
// first account also holds records that name none (from before accounts had names).
type accountSet struct {
	all             []StorageAccount
	byName          map[string]int
	byLocation      map[string][]int
	defaultLocation string
	// next is a round-robin counter per location.
	next map[string]*atomic.Uint64
}

// newAccountSet checks the accounts: at least one, unique names, a location each,
// and a default location that has an account.
func newAccountSet(accounts []StorageAccount, defaultLocation string) (*accountSet, error) {
	if len(accounts) == 0 {
		return nil, errors.New("handler: at least one storage account is required")
	}
	s := &accountSet{byName: map[string]int{}, byLocation: map[string][]int{}, next: map[string]*atomic.Uint64{}}
	for i, acct := range accounts {
		acct.Location = strings.ToLower(acct.Location)
		if acct.Containers == nil || acct.Location == "" {
			return nil, fmt.Errorf("handler: storage account %q needs Containers and a Location", acct.Name)
		}
		if _, dup := s.byName[acct.Name]; dup {
			return nil, fmt.Errorf("handler: storage account name %q is used twice", acct.Name)
		}
		s.all = append(s.all, acct)
		s.byName[acct.Name] = i
		if _, ok := s.next[acct.Location]; !ok {
			s.next[acct.Location] = &atomic.Uint64{}
		}
		s.byLocation[acct.Location] = append(s.byLocation[acct.Location], i)
	}
	s.defaultLocation = strings.ToLower(defaultLocation)
	if s.defaultLocation == "" {
		s.defaultLocation = s.all[0].Location
	}
	if _, ok := s.byLocation[s.defaultLocation]; !ok {
		return nil, fmt.Errorf("handler: no storage account in the default location %q", defaultLocation)
	}
	return s, nil
}

// place picks the account for a new buffer: round-robin among the accounts of the
// location asked for (the default when empty). An unknown location is the client's
// mistake.
func (s *accountSet) place(location string) (StorageAccount, error) {
	loc := strings.ToLower(location)
	if loc == "" {
		loc = s.defaultLocation
	}
	indexes, ok := s.byLocation[loc]
	if !ok {
		return StorageAccount{}, invalidInput(fmt.Sprintf("No storage accounts configured for location '%s'", location))
	}
	n := s.next[loc].Add(1) - 1
	return s.all[indexes[n%uint64(len(indexes))]], nil
}

// of returns the containers of the account holding b. A record naming an account
// that is no longer configured is a server fault, not the client's.
func (s *accountSet) of(b model.Buffer) (Containers, error) {
	if b.StorageAccount == "" {
		return s.all[0].Containers, nil
	}
	i, ok := s.byName[b.StorageAccount]
	if !ok {
		return nil, fmt.Errorf("buffer %s is in storage account %q, which is not configured", b.ID, b.StorageAccount)
	}
	return s.all[i].Containers, nil
}

// healthTarget is what healthz checks as "blob": the one account's containers
// when there is one (so a fake without Ping stays "not checked"), else the set.
func (s *accountSet) healthTarget() any {
	if len(s.all) == 1 {
		return s.all[0].Containers
	}
	return s
}

// Ping checks every account that can be checked; the first failure names its
// account.
func (s *accountSet) Ping(ctx context.Context) error {
	for _, acct := range s.all {
		p, ok := acct.Containers.(pinger)
		if !ok {
			continue
		}
		if err := p.Ping(ctx); err != nil {
			var notReady *NotReadyError
			if errors.As(err, &notReady) && len(s.all) > 1 {
				return &NotReadyError{Reason: "account " + acct.Name + ": " + notReady.Reason, Err: err}
			}
			return fmt.Errorf("storage account %s: %w", acct.Name, err)
		}
	}
	return nil
}

// storageAccounts answers GET /api/buffers/storage-accounts like Tyger: every
// account's name, location and endpoint, in configuration order.
func (a *api) storageAccounts(w http.ResponseWriter, r *http.Request) error {
	if _, err := readQuery(r, noParams); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.accounts.all)
	return nil
}
