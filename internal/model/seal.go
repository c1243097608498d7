package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// The data states of a buffer, as show and list report them and list --status
// selects them: no .bufferstart yet (empty), started but not ended (writing),
// ended complete or failed.
const (
	StatusEmpty    = "empty"
	StatusWriting  = "writing"
	StatusComplete = "complete"
	StatusFailed   = "failed"
	// ParamStatus is the list query parameter that selects buffers by data status.
	ParamStatus = "status"
)

// Seal is a buffer's data state once its writer ended: the body of .bufferend.
// Tyger's writer puts only the status there; spool's writer adds the size, the
// number of data blobs and the chain value of the terminal empty blob, which
// Tyger's reader ignores (it decodes the status alone). Readers check a sealed
// buffer's data against these, so a dropped tail or a forged early end blob fails.
type Seal struct {
	Status    string `json:"status"`
	Size      *int64 `json:"size,omitempty"`
	Blobs     *int64 `json:"blobs,omitempty"`
	HashChain string `json:"hashChain,omitempty"`
}

// Sealed reports whether s carries the fields a reader can verify against.
func (s Seal) Sealed() bool { return s.Size != nil && s.Blobs != nil && s.HashChain != "" }

// Encode is the compact JSON body of .bufferend.
func (s Seal) Encode() []byte {
	body, _ := json.Marshal(s) // a struct of strings and ints cannot fail
	return body
}

// ParseSeal reads a .bufferend body. A status other than complete or failed is
// kept as it is; Tyger's reader treats it as complete, and so do callers.
func ParseSeal(body []byte) (Seal, error) {
	var s Seal
	if err := json.Unmarshal(body, &s); err != nil {
		return Seal{}, fmt.Errorf("the end marker is not valid JSON: %w", err)
	}
	if s.Size != nil && *s.Size < 0 || s.Blobs != nil && *s.Blobs < 0 {
		return Seal{}, fmt.Errorf("the end marker has a negative size or blob count")
	}
	return s, nil
}

// DataStatus is what show and list report of a buffer's data. Status is always
// set on the wire; the rest only once the writer sealed the buffer (Size, Blobs
// and HashChain only when its seal carried them, i.e. a spool writer).
type DataStatus struct {
	Status      string     `json:"status,omitempty"`
	Size        *int64     `json:"size,omitempty"`
	Blobs       *int64     `json:"blobCount,omitempty"`
	HashChain   string     `json:"hashChain,omitempty"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
	// Writer names the principal that wrote the data, when one is known; left
	// empty for now (a writer with only a URL has no principal to name).
	Writer string `json:"writer,omitempty"`
}

// Final reports whether the status can no longer change, so it may be stored.
func (d DataStatus) Final() bool {
	return d.Status == StatusComplete || d.Status == StatusFailed
}

// ParseStatus reads the value of the status list parameter strictly: exactly one
// of the four states, spelt in lowercase.
func ParseStatus(s string) (string, error) {
	switch s {
	case StatusEmpty, StatusWriting, StatusComplete, StatusFailed:
		return s, nil
	}
	return "", fmt.Errorf("status must be one of empty, writing, complete or failed, not %q", s)
}

// Markers is what a buffer's writer left in its container: whether .bufferstart
// is there, and .bufferend's body and time when it is.
type Markers struct {
	Started bool
	End     []byte    // nil while there is no .bufferend
	EndedAt time.Time // .bufferend's last-modified time
}

// Status is the data status the markers show. An end marker whose status is
// neither complete nor failed counts as complete, as Tyger's reader takes it.
func (m Markers) Status() (DataStatus, error) {
	switch {
	case m.End != nil:
		seal, err := ParseSeal(m.End)
		if err != nil {
			return DataStatus{}, err
		}
		d := DataStatus{Status: StatusComplete, Size: seal.Size, Blobs: seal.Blobs, HashChain: seal.HashChain}
		if seal.Status == StatusFailed {
			d = DataStatus{Status: StatusFailed}
		}
		if !m.EndedAt.IsZero() {
			at := m.EndedAt.UTC()
			d.CompletedAt = &at
		}
		return d, nil
	case m.Started:
		return DataStatus{Status: StatusWriting}, nil
	}
	return DataStatus{Status: StatusEmpty}, nil
}
