package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"spool/blobstore"
	"spool/internal/model"
	"spool/internal/reliability"
)

// testClock is a fake clock the tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lifecycleFixture is the real handler over Azurite (tables and containers) with a
// fake clock, so expiries and sweeps are driven by the test.
type lifecycleFixture struct {
	*apiFixture
	clock  *testClock
	root   string // the server without /api, where the host posts timer invocations
	tables *aztables.ServiceClient
	blobs  *service.Client
	prefix string
}

func newLifecycleFixture(t *testing.T, adjust func(*Options)) *lifecycleFixture {
	t.Helper()
	in := plainAzurite.get(t)
	prefix := uniquePrefix()
	opts := liveOptions(t, in.ConnectionString(), prefix)
	// Real time, so SAS and storage agree; tests only ever move it forward.
	clock := &testClock{now: time.Now().UTC()}
	opts.Now = clock.Now
	if adjust != nil {
		adjust(&opts)
	}
	f := &lifecycleFixture{apiFixture: &apiFixture{}, clock: clock, prefix: prefix}
	f.serve(t, opts)
	f.root = strings.TrimSuffix(f.base, "/api")
	var err error
	if f.tables, err = aztables.NewServiceClientFromConnectionString(in.ConnectionString(), nil); err != nil {
		t.Fatal(err)
	}
	if f.blobs, err = service.NewClientFromConnectionString(in.ConnectionString(), nil); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *lifecycleFixture) createWith(t *testing.T, body string) model.Buffer {
	t.Helper()
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(body))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	return decode[model.Buffer](t, r)
}

// tick posts one timer invocation as the Functions host does and returns its logs.
func (f *lifecycleFixture) tick(t *testing.T) (int, invocationResult) {
	t.Helper()
	payload := `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"SweepExpired"}}}`
	resp, err := http.Post(f.root+"/"+SweepFunction, "application/json", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res invocationResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("timer answer: %v", err)
	}
	return resp.StatusCode, res
}

func (f *lifecycleFixture) status(t *testing.T, method, path string) int {
	t.Helper()
	return f.do(t, method, path, nil).status
}

func (f *lifecycleFixture) containerExists(t *testing.T, id string) bool {
	t.Helper()
	_, err := f.blobs.NewContainerClient(id).GetProperties(context.Background(), nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// indexedIDs reads the IDs every entity of one of the store's tables refers to, and
// which of them are marked purging.
func (f *lifecycleFixture) indexedIDs(t *testing.T, table string) map[string]int {
	ids, _ := f.entities(t, table)
	return ids
}

func (f *lifecycleFixture) entities(t *testing.T, table string) (ids map[string]int, purging map[string]bool) {
	t.Helper()
	ids, purging = map[string]int{}, map[string]bool{}
	pager := f.tables.NewClient(f.prefix + table).NewListEntitiesPager(nil)
	for pager.More() {
		resp, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range resp.Entities {
			var e struct {
				ID      string
				Purging bool
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			ids[e.ID]++
			purging[e.ID] = purging[e.ID] || e.Purging
		}
	}
	return ids, purging
}

// checkNothingPointsAtNothing asserts the invariants a sweep must keep however it
// is interrupted: every index entry has its record, every record its container
// (except a record marked purging, which no reader sees and the next sweep removes),
// and no buffer of ids that lost its record kept its container.
func (f *lifecycleFixture) checkNothingPointsAtNothing(t *testing.T, ids []string) {
	t.Helper()
	records, purging := f.entities(t, "buffers")
	for _, table := range []string{"bufferorder", "buffertags", "bufferexpiry"} {
		for id := range f.indexedIDs(t, table) {
			if records[id] == 0 {
				t.Errorf("%s holds an entry for %s, which has no record", table, id)
			}
		}
	}
	for _, id := range ids {
		if has := f.containerExists(t, id); has != (records[id] > 0) && !(purging[id] && !has) {
			t.Errorf("buffer %s: record %v, container %v", id, records[id] > 0, has)
		}
	}
}

func TestBufferDeletionStates(t *testing.T) {
	f := newLifecycleFixture(t, nil)
	id := f.create(t, nil).ID
	steps := []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/buffers/" + id + "/restore", 412},
		{http.MethodDelete, "/buffers/" + id + "?softDeleted=true&ttl=0", 412},
		{http.MethodDelete, "/buffers/" + id, 200},
		{http.MethodDelete, "/buffers/" + id, 412},
		{http.MethodPost, "/buffers/" + id + "/restore", 200},
		{http.MethodDelete, "/buffers/" + id, 200},
		{http.MethodDelete, "/buffers/" + id + "?softDeleted=true&ttl=0", 200},
		{http.MethodDelete, "/buffers/" + id, 404},
		{http.MethodPost, "/buffers/" + id + "/restore", 404},
		{http.MethodDelete, "/buffers/" + id + "?softDeleted=true&ttl=0", 404},
		{http.MethodGet, "/buffers/" + id, 404},
		{http.MethodGet, "/buffers/" + id + "?softDeleted=true", 404},
	}
	for i, s := range steps {
		r := f.do(t, s.method, s.path, nil)
		if r.status != s.want {
			t.Fatalf("step %d %s %s: %d %s, want %d", i, s.method, s.path, r.status, r.body, s.want)
		}
		if s.want == 412 && !strings.Contains(string(r.body), "soft-deleted") {
			t.Errorf("step %d: 412 without saying why: %s", i, r.body)
		}
	}
	if r := f.do(t, http.MethodDelete, "/buffers/"+id+"?ttl=soon", nil); r.status != 400 {
		t.Errorf("a bad ttl: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/buffers/nothing-like-an-id", "/buffers/aaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		if got := f.status(t, http.MethodDelete, path); got != 404 {
			t.Errorf("DELETE %s: %d", path, got)
		}
	}
}

func TestADeletedBufferIsShownListedAndCountedOnlyWithSoftDeletedAndGetsNoAccessURL(t *testing.T) {
	f := newLifecycleFixture(t, nil)
	kept := f.create(t, map[string]string{"set": "a"})
	gone := f.create(t, map[string]string{"set": "a"})
	r := f.do(t, http.MethodDelete, "/buffers/"+gone.ID+"?ttl=0.01:00:00", nil)
	deleted := decode[model.Buffer](t, r)
	if r.status != 200 || !deleted.IsSoftDeleted || deleted.ExpiresAt == nil || !deleted.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if got := f.status(t, http.MethodGet, "/buffers/"+gone.ID); got != 404 {
		t.Errorf("show of a deleted buffer: %d", got)
	}
	if got := f.status(t, http.MethodGet, "/buffers/"+gone.ID+"?softDeleted=true"); got != 200 {
		t.Errorf("show --soft-deleted: %d", got)
	}
	if got := f.status(t, http.MethodPost, "/buffers/"+gone.ID+"/access"); got != 404 {
		t.Errorf("an access URL for a deleted buffer: %d", got)
	}
	if got := f.status(t, http.MethodPut, "/buffers/"+gone.ID); got != 404 {
		t.Errorf("set on a deleted buffer without softDeleted: %d", got)
	}
	for q, want := range map[string]string{"": kept.ID, "&softDeleted=true": gone.ID} {
		list := decode[model.BufferList](t, f.do(t, http.MethodGet, "/buffers?tag%5Bset%5D=a"+q, nil))
		if len(list.Items) != 1 || list.Items[0].ID != want {
			t.Errorf("list%s: %+v", q, list.Items)
		}
		if r := f.do(t, http.MethodGet, "/buffers/count?tag%5Bset%5D=a"+q, nil); string(r.body) != "1" {
			t.Errorf("count%s: %s", q, r.body)
		}
	}
}

func TestRestoreGivesBackTheExpiryTheBufferHadBeforeDeletion(t *testing.T) {
	f := newLifecycleFixture(t, nil)
	now := f.clock.Now()
	ttl := now.Add(48 * time.Hour).Truncate(time.Millisecond)
	withTTL := f.createWith(t, fmt.Sprintf(`{"expiresAt":%q}`, ttl.Format(time.RFC3339Nano)))
	forever := f.create(t, nil)
	shortTTL := f.createWith(t, fmt.Sprintf(`{"expiresAt":%q}`, now.Add(time.Hour).Format(time.RFC3339Nano)))
	for _, b := range []model.Buffer{withTTL, forever, shortTTL} {
		if got := f.status(t, http.MethodDelete, "/buffers/"+b.ID+"?ttl=3.00:00:00"); got != 200 {
			t.Fatalf("delete: %d", got)
		}
	}
	f.clock.Advance(2 * time.Hour) // shortTTL's own expiry passes while it is deleted
	restored := map[string]model.Buffer{}
	for _, b := range []model.Buffer{withTTL, forever, shortTTL} {
		r := f.do(t, http.MethodPost, "/buffers/"+b.ID+"/restore", nil)
		if r.status != 200 {
			t.Fatalf("restore: %d %s", r.status, r.body)
		}
		restored[b.ID] = decode[model.Buffer](t, r)
	}
	if got := restored[withTTL.ID].ExpiresAt; got == nil || !got.Equal(ttl) {
		t.Errorf("a future TTL came back as %v, want %v", got, ttl)
	}
	if got := restored[forever.ID].ExpiresAt; got != nil {
		t.Errorf("a buffer without expiry came back expiring at %v", got)
	}
	if got, want := restored[shortTTL.ID].ExpiresAt, f.clock.Now().Add(24*time.Hour); got == nil || !got.Equal(want) {
		t.Errorf("a TTL that passed meanwhile came back as %v, want the grace %v", got, want)
	}
	if got := f.status(t, http.MethodGet, "/buffers/"+shortTTL.ID); got != 200 {
		t.Errorf("the restored buffer is not live: %d", got)
	}
}

func TestExpiredBuffersAreNotLiveBeforeTheSweepReachesThem(t *testing.T) {
	f := newLifecycleFixture(t, nil)
	b := f.createWith(t, fmt.Sprintf(`{"expiresAt":%q,"tags":{"k":"v"}}`, f.clock.Now().Add(time.Minute).Format(time.RFC3339Nano)))
	f.clock.Advance(time.Minute)
	if got := f.status(t, http.MethodGet, "/buffers/"+b.ID); got != 404 {
		t.Errorf("show: %d", got)
	}
	if got := f.status(t, http.MethodPost, "/buffers/"+b.ID+"/access"); got != 404 {
		t.Errorf("access: %d", got)
	}
	for _, path := range []string{"/buffers", "/buffers?tag%5Bk%5D=v", "/buffers?softDeleted=true"} {
		if list := decode[model.BufferList](t, f.do(t, http.MethodGet, path, nil)); len(list.Items) != 0 {
			t.Errorf("%s lists %+v", path, list.Items)
		}
	}
	if r := f.do(t, http.MethodGet, "/buffers/count", nil); string(r.body) != "0" {
		t.Errorf("count: %s", r.body)
	}
}

func TestBulkDeleteRestoreAndPurgeByTagAnswerTheCount(t *testing.T) {
	f := newLifecycleFixture(t, nil)
	var ids []string
	for i := range 5 {
		tags := map[string]string{"run": "r1"}
		if i == 0 {
			tags["keep"] = "yes"
		}
		ids = append(ids, f.create(t, tags).ID)
	}
	other := f.create(t, map[string]string{"run": "r2"})
	count := func(method, path string, want string) {
		t.Helper()
		if r := f.do(t, method, path, nil); r.status != 200 || string(r.body) != want {
			t.Fatalf("%s %s: %d %s, want %s", method, path, r.status, r.body, want)
		}
	}
	count(http.MethodGet, "/buffers/count?tag%5Brun%5D=r1&excludeTag%5Bkeep%5D=yes", "4")
	count(http.MethodDelete, "/buffers?tag%5Brun%5D=r1&excludeTag%5Bkeep%5D=yes", "4")
	count(http.MethodDelete, "/buffers?tag%5Brun%5D=r1&excludeTag%5Bkeep%5D=yes", "0")
	count(http.MethodGet, "/buffers/count?tag%5Brun%5D=r1&softDeleted=true", "4")
	count(http.MethodPost, "/buffers/restore?tag%5Brun%5D=r1", "4")
	count(http.MethodDelete, "/buffers", "6") // no filter: every live buffer
	count(http.MethodDelete, "/buffers?tag%5Brun%5D=r1&softDeleted=true&ttl=0", "5")
	count(http.MethodGet, "/buffers/count?softDeleted=true", "1")
	if got := f.status(t, http.MethodGet, "/buffers/"+other.ID+"?softDeleted=true"); got != 200 {
		t.Errorf("the buffer outside the purge: %d", got)
	}
	code, res := f.tick(t)
	if code != 200 || !strings.Contains(strings.Join(res.Logs, "\n"), "5 purged") {
		t.Fatalf("sweep: %d %+v", code, res)
	}
	f.checkNothingPointsAtNothing(t, append(ids, other.ID))
	if r := f.do(t, http.MethodDelete, "/buffers?softDeleted=maybe", nil); r.status != 400 {
		t.Errorf("a bad softDeleted: %d %s", r.status, r.body)
	}
}

func TestTheTimerSoftDeletesExpiredBuffersThenPurgesThemWithTheirContainers(t *testing.T) {
	f := newLifecycleFixture(t, func(o *Options) { o.Lifecycle.SoftDeletedLifetime = time.Hour })
	soon := f.createWith(t, fmt.Sprintf(`{"expiresAt":%q,"tags":{"k":"v"}}`, f.clock.Now().Add(time.Minute).Format(time.RFC3339Nano)))
	later := f.createWith(t, fmt.Sprintf(`{"expiresAt":%q}`, f.clock.Now().Add(10*time.Hour).Format(time.RFC3339Nano)))
	forever := f.create(t, nil)

	if code, res := f.tick(t); code != 200 || res.Logs[0] != "sweep: 0 soft-deleted, 0 purged, 0 failed" || res.Outputs == nil {
		t.Fatalf("an early tick: %d %+v", code, res)
	}
	f.clock.Advance(2 * time.Minute)
	if _, res := f.tick(t); res.Logs[0] != "sweep: 1 soft-deleted, 0 purged, 0 failed" {
		t.Fatalf("after expiry: %+v", res)
	}
	r := f.do(t, http.MethodGet, "/buffers/"+soon.ID+"?softDeleted=true", nil)
	if b := decode[model.Buffer](t, r); r.status != 200 || !b.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("the expired buffer is not soft-deleted for the lifetime: %d %s", r.status, r.body)
	}
	if !f.containerExists(t, soon.ID) {
		t.Fatal("soft deletion removed the container")
	}
	f.clock.Advance(time.Hour)
	if _, res := f.tick(t); res.Logs[0] != "sweep: 0 soft-deleted, 1 purged, 0 failed" {
		t.Fatalf("after the soft-deleted lifetime: %+v", res)
	}
	if f.containerExists(t, soon.ID) {
		t.Error("the purged buffer's container is still there")
	}
	for _, b := range []model.Buffer{later, forever} {
		if got := f.status(t, http.MethodGet, "/buffers/"+b.ID); got != 200 {
			t.Errorf("buffer %s, not due, is gone: %d", b.ID, got)
		}
	}
	f.checkNothingPointsAtNothing(t, []string{soon.ID, later.ID, forever.ID})
}

// flakyStore fails every Modify and Purge after the first `budget` of them, as a
// storage outage (or a host killing the invocation) would stop a sweep halfway.
type flakyStore struct {
	Store
	budget atomic.Int64
}

var errInjected = errors.New("injected storage fault")

func (s *flakyStore) Modify(ctx context.Context, id string, change func(model.Buffer) (model.Buffer, error)) (model.Buffer, error) {
	if s.budget.Add(-1) < 0 {
		return model.Buffer{}, errInjected
	}
	return s.Store.Modify(ctx, id, change)
}

func (s *flakyStore) Purge(ctx context.Context, id string) error {
	if s.budget.Add(-1) < 0 {
		return errInjected
	}
	return s.Store.Purge(ctx, id)
}

// flakyContainers fails container deletions while broken is set.
type flakyContainers struct {
	Containers
	broken atomic.Bool
}

func (c *flakyContainers) Delete(ctx context.Context, name string) error {
	if c.broken.Load() {
		return errInjected
	}
	return c.Containers.Delete(ctx, name)
}

func TestASweepStoppedHalfwayIsFinishedByTheNextAndLeavesNothingPointingAtNothing(t *testing.T) {
	var store *flakyStore
	var containers *flakyContainers
	f := newLifecycleFixture(t, func(o *Options) {
		store = &flakyStore{Store: o.Store}
		store.budget.Store(1 << 30)
		containers = &flakyContainers{Containers: o.Containers}
		o.Store, o.Containers = store, containers
		o.Lifecycle = LifecycleOptions{SoftDeletedLifetime: time.Hour, SweepBatch: 3}
	})
	reliability.Record(t, reliability.Row{
		Area:    "lifecycle",
		Fault:   "expiry sweep stopped halfway (store failing after N changes, container deletions failing) and rerun",
		Tries:   8,
		Outcome: "reruns finish every soft delete and purge; no index entry without its record, no visible record without its container",
	})
	expiry := f.clock.Now().Add(time.Minute).Format(time.RFC3339Nano)
	var ids []string
	for i := range 8 {
		ids = append(ids, f.createWith(t, fmt.Sprintf(`{"expiresAt":%q,"tags":{"n":"%d","all":"x"}}`, expiry, i)).ID)
	}
	// Soft-delete them all, stopping after 4 changes, then finish.
	f.clock.Advance(2 * time.Minute)
	store.budget.Store(4)
	if _, res := f.tick(t); !strings.Contains(res.Logs[0], "4 soft-deleted") {
		t.Fatalf("interrupted soft deletion: %+v", res)
	}
	store.budget.Store(1 << 30)
	for range 3 {
		f.tick(t)
	}
	if r := f.do(t, http.MethodGet, "/buffers/count?softDeleted=true", nil); string(r.body) != "8" {
		t.Fatalf("after the rerun %s buffers are soft-deleted, want 8", r.body)
	}
	f.checkNothingPointsAtNothing(t, ids)

	// Purge: first with container deletions failing (buffers marked, containers
	// kept), then with storage failing midway through the removals, then a rerun.
	f.clock.Advance(time.Hour)
	containers.broken.Store(true)
	if code, res := f.tick(t); code != 200 || !strings.Contains(res.Logs[0], "0 purged, 3 failed") {
		t.Fatalf("purge without containers: %d %+v", code, res)
	}
	f.checkNothingPointsAtNothing(t, ids)
	containers.broken.Store(false)
	store.budget.Store(5) // enough for some marks and purges, not all
	f.tick(t)
	f.checkNothingPointsAtNothing(t, ids)
	store.budget.Store(1 << 30)
	for range 4 {
		f.tick(t)
	}
	f.checkNothingPointsAtNothing(t, ids)
	if _, purging := f.entities(t, "buffers"); len(purging) != 0 {
		t.Errorf("records still marked purging: %v", purging)
	}
	for _, id := range ids {
		if f.containerExists(t, id) {
			t.Errorf("buffer %s survived the purge", id)
		}
	}
	for _, table := range []string{"buffers", "bufferorder", "buffertags", "bufferexpiry"} {
		if n := len(f.indexedIDs(t, table)); n != 0 {
			t.Errorf("%s still holds entries for %d buffers", table, n)
		}
	}
}

func TestHealthzChecksTableAndBlobWithoutSecrets(t *testing.T) {
	f := newLifecycleFixture(t, nil)
	r := f.do(t, http.MethodGet, "/healthz", nil)
	if r.status != 200 || string(r.body) != `{"status":"healthy","checks":{"blob":"ok","table":"ok"}}` {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	dead := newLifecycleFixture(t, func(o *Options) {
		o.Containers = deadBlobs(t)
	})
	r = dead.do(t, http.MethodGet, "/healthz", nil)
	if r.status != 503 || !strings.Contains(string(r.body), `"blob":"unavailable"`) || strings.Contains(string(r.body), "127.0.0.1") {
		t.Fatalf("healthz with blob storage down: %d %s", r.status, r.body)
	}
}

// deadBlobs points at a port where nothing listens.
func deadBlobs(t *testing.T) *blobstore.Containers {
	t.Helper()
	key := "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	bc, err := blobstore.New(blobstore.Options{Endpoint: "http://127.0.0.1:1/devstoreaccount1", AccountName: "devstoreaccount1", AccountKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return bc
}

func TestTheTimerIsServedWithoutAPrincipalWhereEveryAPIRouteNeedsOne(t *testing.T) {
	f := &apiFixture{store: newFakeStore(), containers: newFakeContainers()}
	f.serve(t, Options{Store: f.store, Containers: f.containers, RequirePrincipal: true})
	resp, err := http.Post(strings.TrimSuffix(f.base, "/api")+"/"+SweepFunction, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("timer invocation without a principal: %d", resp.StatusCode)
	}
	if got := f.do(t, http.MethodGet, "/healthz", nil).status; got != http.StatusUnauthorized {
		t.Errorf("healthz without a principal: %d", got)
	}
}
