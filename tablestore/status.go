package tablestore

import (
	"fmt"
	"strconv"
	"time"

	"spool/internal/model"
)

// A buffer's final data status is kept in a few properties of its record (and of
// its index copies, which share bufferProperties). Sizes are strings: the table
// keeps JSON numbers as Int32 or doubles unless typed, and a string round-trips
// every int64 exactly.
func statusProperties(d model.DataStatus, props map[string]any) {
	if !d.Final() {
		return
	}
	props["DataStatus"] = d.Status
	if d.Size != nil {
		props["DataSize"] = strconv.FormatInt(*d.Size, 10)
	}
	if d.Blobs != nil {
		props["DataBlobs"] = strconv.FormatInt(*d.Blobs, 10)
	}
	if d.HashChain != "" {
		props["DataHashChain"] = d.HashChain
	}
	if d.CompletedAt != nil {
		props["DataCompletedAt"] = d.CompletedAt.UTC().Format(time.RFC3339Nano)
	}
	if d.Writer != "" {
		props["DataWriter"] = d.Writer
	}
}

// parseStatus reads back what statusProperties stored.
func parseStatus(props map[string]any) (model.DataStatus, error) {
	str := func(name string) string { s, _ := props[name].(string); return s }
	d := model.DataStatus{Status: str("DataStatus"), HashChain: str("DataHashChain"), Writer: str("DataWriter")}
	for name, target := range map[string]**int64{"DataSize": &d.Size, "DataBlobs": &d.Blobs} {
		if s := str(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return d, fmt.Errorf("%s: %w", name, err)
			}
			*target = &n
		}
	}
	if s := str("DataCompletedAt"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return d, fmt.Errorf("DataCompletedAt: %w", err)
		}
		d.CompletedAt = &t
	}
	return d, nil
}
