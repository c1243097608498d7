package tablestore

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/model"
)

// CreateTables creates whichever of the store's tables are missing. Existing
// tables are left as they are, so it is safe to call again at any time. A table
// Azure is still deleting (it refuses the name for a while) is an error marked
// model.ErrUnavailable, to retry later.
func (s *Store) CreateTables(ctx context.Context) error {
	for _, name := range s.tableNames {
		_, err := s.svc.CreateTable(ctx, name, nil)
		switch {
		case err == nil:
		case isCode(err, tableBeingDeleted):
			return fmt.Errorf("creating table %s: %w: %w", name, model.ErrUnavailable, err)
		case isStatus(err, http.StatusConflict): // it exists
		default:
			return storageError("creating table "+name, err)
		}
	}
	return nil
}

// Ping checks that the table service answers and that every table of the store
// exists, with one point read of a key no buffer has in each. Missing tables give
// an error that names them and wraps ErrTablesMissing and model.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	var missing []string
	for i, table := range []*aztables.Client{s.records, s.order, s.tags, s.expiry} {
		_, err := table.GetEntity(ctx, "health", "probe", nil)
		switch {
		case err == nil:
		case isCode(err, tableNotFound):
			missing = append(missing, s.tableNames[i])
		case isStatus(err, http.StatusNotFound): // no such entity: the table answered
		default:
			return storageError("reading table "+s.tableNames[i], err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("tables %s: %w: %w", strings.Join(missing, ", "), ErrTablesMissing, model.ErrUnavailable)
	}
	return nil
}
