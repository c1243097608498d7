package bufcopy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Journal remembers, in a JSON file, the destination buffer of each copy begun,
// so a rerun continues it instead of starting a second copy. It is written after
// every new destination, before any blob goes there. Lose it, and a rerun copies
// again into new buffers (the earlier ones stay).
type Journal struct {
	path string

	mu      sync.Mutex
	entries map[string]string // journalKey → destination buffer ID
}

// OpenJournal reads the journal at path; a missing file is an empty journal.
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{path: path, entries: map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the copy journal: %w", err)
	}
	if err := json.Unmarshal(data, &j.entries); err != nil {
		return nil, fmt.Errorf("the copy journal %s is not valid JSON: %w", path, err)
	}
	return j, nil
}

// journalKey names one copy: source server and buffer, destination server and
// location (lower case: the server matches locations without regard to case).
func journalKey(opts Options, srcID string) string {
	return opts.Source.ServerURL() + " " + srcID + " -> " + opts.Destination.ServerURL() + " " + strings.ToLower(opts.Location)
}

func (j *Journal) lookup(key string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.entries[key]
}

// Destinations lists the buffer IDs copies went to, so a selection can leave out
// copies made by an earlier run.
func (j *Journal) Destinations() map[string]bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]bool{}
	for _, id := range j.entries {
		out[id] = true
	}
	return out
}

// record adds an entry and writes the file whole, through a rename, so a crash
// leaves the old journal or the new one.
func (j *Journal) record(key, destID string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries[key] = destID
	data, err := json.MarshalIndent(j.entries, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return fmt.Errorf("writing the copy journal: %w", err)
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing the copy journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("writing the copy journal: %w", err)
	}
	return nil
}
