package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"spool/client"
	"spool/internal/model"
)

func showJSON(t *testing.T, args ...string) (model.Buffer, result) {
	t.Helper()
	r := runCLI(t, "", append([]string{"buffer", "show"}, args...)...)
	var b model.Buffer
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
			t.Fatalf("show printed %q: %v", r.stdout, err)
		}
	}
	return b, r
}

// answering runs the CLI as if a person typed stdin at a terminal.
func answering(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, answersFromStdin: true}
	err = a.dispatch(context.Background(), args)
	return out.String(), errOut.String(), err
}

func TestCreateAndSetWithTTLSetTheExpiryFromNow(t *testing.T) {
	liveServer(t)
	before := time.Now()
	id := createBuffer(t, "--ttl", "2.12:30:30", "--tag", "k=v")
	want := 2*24*time.Hour + 12*time.Hour + 30*time.Minute + 30*time.Second
	b, _ := showJSON(t, id)
	if b.ExpiresAt == nil || b.ExpiresAt.Before(before.Add(want).Truncate(time.Second)) || b.ExpiresAt.After(time.Now().Add(want)) {
		t.Fatalf("expiresAt %v, want about now+%v", b.ExpiresAt, want)
	}
	if r := runCLI(t, "", "buffer", "set", id, "--ttl", "1"); r.code != 0 {
		t.Fatalf("set --ttl: %+v", r)
	}
	b, _ = showJSON(t, id)
	if b.ExpiresAt == nil || b.ExpiresAt.After(time.Now().Add(24*time.Hour)) || b.Tags["k"] != "v" {
		t.Fatalf("after set --ttl 1: %+v (the tags must stay)", b)
	}
	for _, bad := range []string{"1.5", "1.24:00:00", "0.00:60:00", "-1", "soon"} {
		if r := runCLI(t, "", "buffer", "create", "--ttl", bad); r.code != exitUsage || !strings.Contains(r.stderr, "--ttl") {
			t.Errorf("--ttl %s: %+v", bad, r)
		}
	}
}

func TestDeleteRestoreAndPurgeByIDFollowTheStateMachine(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	if r := runCLI(t, "", "buffer", "restore", id); r.code != exitFailure || !strings.Contains(r.stderr, "not soft-deleted") {
		t.Fatalf("restore of a live buffer: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "delete", id); r.code != 0 || !strings.Contains(r.stdout, `"isSoftDeleted": true`) {
		t.Fatalf("delete: %+v", r)
	}
	if _, r := showJSON(t, id); r.code == 0 {
		t.Fatalf("show of a deleted buffer: %+v", r)
	}
	if b, r := showJSON(t, id, "--soft-deleted"); r.code != 0 || !b.IsSoftDeleted {
		t.Fatalf("show --soft-deleted: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "list", "--soft-deleted"); !strings.Contains(r.stdout, id) {
		t.Fatalf("list --soft-deleted: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "access", id); r.code == 0 {
		t.Fatalf("an access URL for a deleted buffer: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "restore", id); r.code != 0 {
		t.Fatalf("restore: %+v", r)
	}
	if _, r := showJSON(t, id); r.code != 0 {
		t.Fatalf("show after restore: %+v", r)
	}
	other := createBuffer(t)
	if r := runCLI(t, "", "buffer", "delete", id, other); r.code != 0 || !changedCount(r.stdout, 2, 2) {
		t.Fatalf("delete of two IDs prints an array: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "purge", id); r.code != 0 {
		t.Fatalf("purge: %+v", r)
	}
	if _, r := showJSON(t, id, "--soft-deleted"); r.code == 0 {
		t.Fatalf("a purged buffer is still shown: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "restore", id); r.code != exitFailure {
		t.Fatalf("restore after purge: %+v", r)
	}
}

func TestBulkOperationsConfirmWithTheCountAndRefuseWithoutATerminal(t *testing.T) {
	liveServer(t)
	run := fmt.Sprintf("r%d", time.Now().UnixNano())
	for i := range 3 {
		createBuffer(t, "--tag", "run="+run, "--tag", fmt.Sprintf("keep=%v", i == 0))
	}
	sel := []string{"--tag", "run=" + run, "--exclude-tag", "keep=true"}

	r := runCLI(t, "y\n", append([]string{"buffer", "delete"}, sel...)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("without a terminal or --force: %+v", r)
	}
	out, errOut, err := answering(t, "n\n", append([]string{"buffer", "delete"}, sel...)...)
	if err != nil || !strings.Contains(errOut, "delete 2 buffers?") || out != "" {
		t.Fatalf("answering no: %q %q %v", out, errOut, err)
	}
	out, errOut, err = answering(t, "y\n", append([]string{"buffer", "delete"}, sel...)...)
	if err != nil || !changedCount(out, 2, 0) {
		t.Fatalf("answering yes: %q %q %v", out, errOut, err)
	}
	out, _, err = answering(t, "y\n", append([]string{"buffer", "delete"}, sel...)...)
	if err != nil || !changedCount(out, 0, 0) {
		t.Fatalf("nothing left to delete: %q %v", out, err)
	}
	if r := runCLI(t, "", "buffer", "restore", "--tag", "run="+run, "--force"); !changedCount(r.stdout, 2, 0) {
		t.Fatalf("restore --force: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "delete", "--tag", "run="+run, "--force"); !changedCount(r.stdout, 3, 0) {
		t.Fatalf("delete --force: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "purge", "--tag", "run="+run, "--force"); !changedCount(r.stdout, 3, 0) {
		t.Fatalf("purge --force: %+v", r)
	}
	c, err := client.New(client.Options{ServerURL: liveServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.CountBuffers(context.Background(), client.ListOptions{Tags: map[string]string{"run": run}, SoftDeleted: true}); err != nil || n != 0 {
		t.Fatalf("purged buffers still counted: %d %v", n, err)
	}
}

func TestLifecycleCommandsNeedExactlyOneSelection(t *testing.T) {
	for _, args := range [][]string{
		{"buffer", "delete"},
		{"buffer", "delete", "--exclude-tag", "a=b"},
		{"buffer", "restore", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "--all"},
		{"buffer", "purge", "--tag", "a=b", "--all"},
		{"buffer", "delete", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "--exclude-tag", "a=b"},
		{"buffer", "delete", "not/an/id"},
	} {
		if r := runCLI(t, "", args...); r.code != exitUsage {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

func TestAPurgedBufferIsGoneAfterTheSweepAndItsOldURLReadsNothing(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	if r := runWithInput(context.Background(), strings.NewReader("hello"), "buffer", "write", id); r.code != 0 {
		t.Fatalf("write: %+v", r)
	}
	access := runCLI(t, "", "buffer", "access", id)
	if access.code != 0 {
		t.Fatalf("access: %+v", access)
	}
	if r := runCLI(t, "", "buffer", "delete", id); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	// Tyger's way to purge one buffer: its purge time set to now.
	if r := runCLI(t, "", "buffer", "set", id, "--soft-deleted", "--ttl", "0"); r.code != 0 {
		t.Fatalf("set --soft-deleted --ttl 0: %+v", r)
	}
	// The timer tick the Functions host would post within the minute.
	resp, err := http.Post(stack.server.URL+"/SweepExpired", "application/json", strings.NewReader(`{"Data":{},"Metadata":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sweep: %d", resp.StatusCode)
	}
	if _, r := showJSON(t, id, "--soft-deleted"); r.code == 0 {
		t.Fatalf("show --soft-deleted after the purge: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "read", strings.TrimSpace(access.stdout)); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("reading a purged buffer's old URL: %+v", r)
	}
}

func TestDeletingTwiceSaysAlreadySoftDeletedWithoutTalkingAboutEtags(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	if r := runCLI(t, "", "buffer", "delete", id); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	r := runCLI(t, "", "buffer", "delete", id)
	if r.code != exitFailure || !strings.Contains(r.stderr, "already soft-deleted") || strings.Contains(strings.ToLower(r.stderr), "etag") {
		t.Fatalf("second delete: %+v", r)
	}
	if r := runCLI(t, "", "buffer", "purge", id); r.code != 0 {
		t.Fatalf("purge: %+v", r)
	}
}

// changedCount says whether out is the one shape delete, restore and purge print,
// with this count and this many records.
func changedCount(out string, count, records int) bool {
	var got struct {
		Count   *int           `json:"count"`
		Buffers []model.Buffer `json:"buffers"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	return dec.Decode(&got) == nil && got.Count != nil && *got.Count == count && len(got.Buffers) == records
}
