package tablestore

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"spool/internal/model"
)

// ErrTablesMissing marks (wrapped) an answer that one of the store's tables does
// not exist: a fresh account, or an emulator that lost its data. CreateTables
// cures it; until then it also counts as model.ErrUnavailable.
var ErrTablesMissing = errors.New("the store's tables are missing")

// ErrExists is returned (wrapped) by Insert when a buffer with the ID already exists.
var ErrExists = errors.New("buffer already exists")

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func isStatus(err error, code int) bool { return statusOf(err) == code }

// Error codes of the table service that name a table's state.
const (
	tableNotFound     = "TableNotFound"
	tableBeingDeleted = "TableBeingDeleted"
)

func isCode(err error, code string) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.ErrorCode == code
}

// storageError wraps a table call's failure with context, and marks faults a retry
// may cure (no answer at all, timeouts, throttling, 5xx) with model.ErrUnavailable so
// the handler answers 503 rather than 500.
func storageError(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if isCode(err, tableNotFound) {
		return fmt.Errorf("%s: %w: %w: %w", what, ErrTablesMissing, model.ErrUnavailable, err)
	}
	status := statusOf(err)
	switch {
	case status == 0, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return fmt.Errorf("%s: %w: %w", what, model.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
