package localstack

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"spool/internal/azurite"
)

// TestTheLocalStackSoftDeletesThenPurgesAnExpiredBufferOnItsOwnMinuteTicks leaves
// the sweep to the stack's own timer ticks (one a minute, as the Functions host
// posts them): nothing here calls the timer function.
func TestTheLocalStackSoftDeletesThenPurgesAnExpiredBufferOnItsOwnMinuteTicks(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for two of the stack's minute ticks")
	}
	t.Parallel()
	cfg := newStackConfig(t, "SPOOL_SOFT_DELETED_LIFETIME=0.00:00:30")
	s := startStack(t, cfg, viaScript)
	id := mustCLI(t, cfg, "buffer", "create", "--ttl", "0.00:00:01", "--tag", "project=expiring")
	if !containerExists(t, cfg, id) {
		t.Fatal("create made no container")
	}
	notFound := fmt.Sprintf("buffer %q not found", id)

	// The first tick soft-deletes the expired buffer; it then stays restorable (and
	// visible with --soft-deleted) for SPOOL_SOFT_DELETED_LIFETIME, 30 s, so the next
	// tick, a minute later, purges it.
	waitUntil(t, s, 75*time.Second, "the buffer is soft-deleted", func() bool {
		_, err := runCLI(t, cfg, "buffer", "show", "--soft-deleted", id)
		return err == nil
	})
	// A purge hides the record first, then deletes the container, then the record.
	waitUntil(t, s, 75*time.Second, "the buffer is purged", func() bool {
		_, err := runCLI(t, cfg, "buffer", "show", "--soft-deleted", id)
		return err != nil && strings.Contains(err.Error(), notFound) && !containerExists(t, cfg, id)
	})
	if _, err := runCLI(t, cfg, "buffer", "show", id); err == nil || !strings.Contains(err.Error(), notFound) {
		t.Errorf("show after the purge: %v; want %s", err, notFound)
	}
	if strings.Contains(s.output(), "run: timer") {
		t.Errorf("a timer tick failed:\n%s", s.output())
	}
	stopAndCheck(t, s, stopMethod{name: "Ctrl-C after the sweep", sig: syscall.SIGINT, group: true})
}

func waitUntil(t *testing.T, s *stack, limit time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v:\n%s", what, limit, s.output())
		}
		time.Sleep(2 * time.Second)
	}
}

func containerExists(t *testing.T, cfg stackConfig, id string) bool {
	t.Helper()
	conn := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%d/%s;",
		azurite.AccountName, azurite.AccountKey, cfg.blobPort, azurite.AccountName)
	client, err := azblob.NewClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.ServiceClient().NewContainerClient(id).GetProperties(context.Background(), nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
