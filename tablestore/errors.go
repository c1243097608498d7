package tablestore

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"spool/internal/model"
)

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
	status := statusOf(err)
	switch {
	case status == 0, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return fmt.Errorf("%s: %w: %w", what, model.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
