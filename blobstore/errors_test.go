package blobstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"spool/internal/model"
)

func TestStorageErrorsThatARetryMayCureAreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"no connection", errors.New("dial tcp: connection refused"), true},
		{"server error", &azcore.ResponseError{StatusCode: 503, ErrorCode: "ServerBusy"}, true},
		{"throttled", &azcore.ResponseError{StatusCode: 429}, true},
		{"role assignment not applied yet", &azcore.ResponseError{StatusCode: 403, ErrorCode: "AuthorizationPermissionMismatch"}, true},
		{"wrong key", &azcore.ResponseError{StatusCode: 403, ErrorCode: "AuthenticationFailed"}, false},
		{"wrong key on Azurite", &azcore.ResponseError{StatusCode: 403, ErrorCode: "AuthorizationFailure"}, false},
		{"container exists", &azcore.ResponseError{StatusCode: 409, ErrorCode: "ContainerAlreadyExists"}, false},
		{"caller gave up", fmt.Errorf("sending: %w", context.Canceled), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := storageError("creating container x", tc.err)
			if got := errors.Is(err, model.ErrUnavailable); got != tc.unavailable {
				t.Errorf("%v: unavailable %v, want %v", err, got, tc.unavailable)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%v does not wrap the cause", err)
			}
		})
	}
}
