package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"spool/blobstore/blobtest"
	"spool/internal/azurite"
	"spool/internal/model"
	"spool/internal/reliability"
	"spool/tablestore"
)

// Fault modes of tableProxy.
const (
	passThrough = iota
	answer503   // every request: 503 with Retry-After: 60, never forwarded
	flaky503    // a random share of requests: 503 before forwarding
	lostAnswers // a random share of requests: forwarded, then the answer replaced by 503
	stall       // every request hangs until the caller gives up
)

// tableProxy sits between the handler and Azurite's table endpoint and injects
// faults. The blob endpoint is left direct, so containers stay reachable.
type tableProxy struct {
	srv     *httptest.Server
	mode    atomic.Int32
	share   float64 // for the random modes
	mu      sync.Mutex
	rng     *rand.Rand
	faults  atomic.Int64
	forward *httputil.ReverseProxy
	closing chan struct{}
}

func newTableProxy(t *testing.T, tableEndpoint string, share float64) *tableProxy {
	t.Helper()
	target, err := url.Parse(tableEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	p := &tableProxy{share: share, rng: rand.New(rand.NewPCG(1, 2)), forward: &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }, ErrorLog: log.New(io.Discard, "", 0)}, closing: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.mode.Store(passThrough)
		close(p.closing)
		p.srv.CloseClientConnections()
		p.srv.Close()
	})
	return p
}

func (p *tableProxy) hit() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < p.share
}

func (p *tableProxy) fail(w http.ResponseWriter) {
	p.faults.Add(1)
	if p.mode.Load() == answer503 {
		// Longer than the handler's retry cap: the SDK must give up at once.
		w.Header().Set("Retry-After", "60")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US","value":"injected"}}}`))
}

func (p *tableProxy) serve(w http.ResponseWriter, r *http.Request) {
	switch p.mode.Load() {
	case answer503:
		p.fail(w)
	case flaky503:
		if p.hit() {
			p.fail(w)
			return
		}
		p.forward.ServeHTTP(w, r)
	case lostAnswers:
		if !p.hit() {
			p.forward.ServeHTTP(w, r)
			return
		}
		p.forward.ServeHTTP(httptest.NewRecorder(), r)
		p.fail(w)
	case stall:
		p.faults.Add(1)
		// The server notices a caller that hung up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-p.closing:
		}
	default:
		p.forward.ServeHTTP(w, r)
	}
}

// connectionStringVia points a connection string's table endpoint at the proxy.
func connectionStringVia(in *azurite.Instance, tableURL string) string {
	return strings.Replace(in.ConnectionString(), "TableEndpoint="+in.TableEndpoint,
		"TableEndpoint="+tableURL+"/"+azurite.AccountName, 1)
}

// containerLog remembers every container the API asked for.
type containerLog struct {
	Containers
	mu      sync.Mutex
	created []string
}

func (c *containerLog) Create(ctx context.Context, name string) error {
	c.mu.Lock()
	c.created = append(c.created, name)
	c.mu.Unlock()
	return c.Containers.Create(ctx, name)
}

// everyRoute sends one request to each storage-backed route, all at once, and
// returns the answers.
func everyRoute(f *apiFixture, id, etag string) map[string]answer {
	requests := map[string]func() answer{
		"create": func() answer { return f.try(http.MethodPost, "/buffers", `{"tags":{"a":"1"}}`) },
		"show":   func() answer { return f.try(http.MethodGet, "/buffers/"+id, "") },
		"set":    func() answer { return f.try(http.MethodPut, "/buffers/"+id, `{"tags":{"a":"2"}}`, "If-Match", etag) },
		"list":   func() answer { return f.try(http.MethodGet, "/buffers?tag[a]=1", "") },
		"count":  func() answer { return f.try(http.MethodGet, "/buffers/count", "") },
		"access": func() answer { return f.try(http.MethodPost, "/buffers/"+id+"/access", "") },
	}
	answers := map[string]answer{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for what, do := range requests {
		wg.Go(func() {
			a := do()
			mu.Lock()
			answers[what] = a
			mu.Unlock()
		})
	}
	wg.Wait()
	return answers
}

// want503 checks the outage answer: 503, Retry-After, the JSON error, and in time.
func want503(t *testing.T, what string, a answer, limit time.Duration) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("%s: want 503 with Retry-After, got %v", what, a)
		return
	}
	if _, err := a.jsonError(); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	if a.elapsed > limit {
		t.Errorf("%s: took %s, more than %s", what, a.elapsed, limit)
	}
}

func TestTableAnswering503GivesA503WithRetryAfterQuickly(t *testing.T) {
	in := plainAzurite.get(t)
	proxy := newTableProxy(t, in.TableEndpoint, 0)
	f, _ := liveFixture(t, connectionStringVia(in, proxy.srv.URL), uniquePrefix(), nil)
	b := f.create(t, map[string]string{"a": "1"})
	proxy.mode.Store(answer503)
	const limit = 10 * time.Second // the proxy asks for Retry-After: 60; the SDK's wait is capped
	answers := everyRoute(f, b.ID, b.ETag)
	for what, a := range answers {
		want503(t, what, a, limit)
	}
	if a := f.try(http.MethodGet, "/metadata", ""); a.status != http.StatusOK {
		t.Errorf("metadata needs no storage: %v", a)
	}
	proxy.mode.Store(passThrough)
	checkNothingHalfWritten(t, in, f, b.ID)
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "Table Storage answers 503 (Retry-After: 60) to every request, all routes",
		Tries:   len(answers),
		Outcome: fmt.Sprintf("every route 503 JSON with Retry-After within %s; metadata 200; nothing half-written", limit),
	})
}

func TestStalledTableGivesA503WithinTheRequestTimeout(t *testing.T) {
	in := plainAzurite.get(t)
	proxy := newTableProxy(t, in.TableEndpoint, 0)
	const timeout = 2 * time.Second
	f, _ := liveFixture(t, connectionStringVia(in, proxy.srv.URL), uniquePrefix(), func(o *Options) { o.RequestTimeout = timeout })
	b := f.create(t, map[string]string{"a": "1"})
	proxy.mode.Store(stall)
	// A create also tries to learn whether its insert landed, for half the timeout.
	limit := timeout*3/2 + 2*time.Second
	answers := everyRoute(f, b.ID, b.ETag)
	for what, a := range answers {
		want503(t, what, a, limit)
	}
	proxy.mode.Store(passThrough)
	checkNothingHalfWritten(t, in, f, b.ID)
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "Table Storage stalls (accepts, never answers), all routes",
		Tries:   len(answers),
		Outcome: fmt.Sprintf("every route 503 JSON with Retry-After within %s (request timeout %s); nothing half-written", limit, timeout),
	})
}

// TestTableFaultsMidWriteLeaveNoHalfWrittenRecord runs creates and updates while a
// share of table requests fail, either before they reach the table or after (the
// write landed but its answer was lost), then checks every record, index entry and
// container through a clean connection.
func TestTableFaultsMidWriteLeaveNoHalfWrittenRecord(t *testing.T) {
	for _, c := range []struct {
		name  string
		mode  int32
		fault string
	}{
		{"refused", flaky503, "40% of table requests answered 503 before reaching the table, during creates and updates"},
		{"lost answers", lostAnswers, "30% of table requests reach the table but their answer is replaced by 503, during creates and updates"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := plainAzurite.get(t)
			share := 0.4
			if c.mode == lostAnswers {
				share = 0.3
			}
			proxy := newTableProxy(t, in.TableEndpoint, share)
			log := &containerLog{}
			prefix := uniquePrefix()
			f, _ := liveFixture(t, connectionStringVia(in, proxy.srv.URL), prefix, func(o *Options) {
				log.Containers = o.Containers
				o.Containers = log
			})
			proxy.mode.Store(c.mode)
			ops := rounds(30, 400)
			type state struct {
				busy     sync.Mutex          // one write per buffer at a time, so acknowledgements are ordered
				acked    map[string]string   // tags of the last acknowledged write
				possible []map[string]string // tags of unacknowledged writes since
				etag     string
			}
			states := map[string]*state{}
			counts := map[int]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			jobs := make(chan int)
			for range 6 {
				wg.Go(func() {
					for i := range jobs {
						mu.Lock()
						var target string
						var st *state
						for id, s := range states { // map order: a random existing buffer
							target, st = id, s
							break
						}
						mu.Unlock()
						tags := map[string]string{"op": fmt.Sprint(i), "kind": []string{"x", "y"}[i%2]}
						if target == "" || i%3 == 0 {
							a := f.try(http.MethodPost, "/buffers", tagsJSON(tags))
							mu.Lock()
							counts[a.status]++
							if a.status == http.StatusCreated {
								b, _ := a.buffer()
								states[b.ID] = &state{acked: tags, etag: b.ETag}
							} else if a.status != http.StatusServiceUnavailable {
								t.Errorf("create: %v", a)
							}
							mu.Unlock()
							continue
						}
						st.busy.Lock()
						mu.Lock()
						etag := st.etag
						st.possible = append(st.possible, tags)
						mu.Unlock()
						var header []string
						if i%2 == 0 {
							header = []string{"If-Match", etag}
						}
						a := f.try(http.MethodPut, "/buffers/"+target, tagsJSON(tags), header...)
						mu.Lock()
						counts[a.status]++
						switch a.status {
						case http.StatusOK:
							b, _ := a.buffer()
							st.acked, st.possible, st.etag = tags, nil, b.ETag
						case http.StatusServiceUnavailable, http.StatusPreconditionFailed:
						default:
							t.Errorf("update %s: %v", target, a)
						}
						mu.Unlock()
						st.busy.Unlock()
					}
				})
			}
			for i := range ops {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			proxy.mode.Store(passThrough)
			for line := range strings.Lines(f.logs.String()) {
				if strings.Contains(line, "level=ERROR") {
					t.Log(line)
				}
			}

			store := directStore(t, in, prefix)
			ctx := context.Background()
			for id, st := range states {
				b, err := store.Get(ctx, id)
				if err != nil {
					t.Errorf("acknowledged buffer %s lost: %v", id, err)
					continue
				}
				ok := maps.Equal(b.Tags, st.acked) || slices.ContainsFunc(st.possible, func(p map[string]string) bool { return maps.Equal(b.Tags, p) })
				if !ok {
					t.Errorf("buffer %s has tags %v: neither the acknowledged %v nor an unacknowledged attempt", id, b.Tags, st.acked)
				}
			}
			orphans := checkConsistency(t, in, store, prefix, log.created)
			checkNothingHalfWritten(t, in, f, "")
			reliability.Record(t, reliability.Row{
				Area:  "control plane",
				Fault: c.fault,
				Tries: ops,
				Outcome: fmt.Sprintf("%s; %d faults injected; %d creates found their lost insert had landed; every acknowledged write kept, no record without container, no committed index entry without record; %d orphan containers",
					statusCounts(counts), proxy.faults.Load(), strings.Count(f.logs.String(), "insert reported a failure but the record landed"), orphans),
			})
		})
	}
}

// TestAzuriteKilledGives503AndRestartLosesNothing kills Azurite (SIGKILL) under the
// API, checks every route answers 503 at once, restarts it and checks that what was
// acknowledged before is still there and the API works again.
func TestAzuriteKilledGives503AndRestartLosesNothing(t *testing.T) {
	dir, err := os.MkdirTemp("", "spool-handler-fault-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	in, err := azurite.Start(azurite.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	prefix := uniquePrefix()
	log := &containerLog{}
	f, _ := liveFixture(t, in.ConnectionString(), prefix, func(o *Options) {
		log.Containers = o.Containers
		o.Containers = log
	})
	var before []model.Buffer
	for i := range 3 {
		before = append(before, f.create(t, map[string]string{"n": fmt.Sprint(i)}))
	}
	// Azurite saves its table database every 5 s; an acknowledged write younger than
	// that dies with the process whatever the client does, so let it settle.
	time.Sleep(6 * time.Second)
	in.Kill()
	const limit = 10 * time.Second
	var wg sync.WaitGroup
	var mu sync.Mutex
	tries := 0
	for range 3 {
		wg.Go(func() {
			for what, a := range everyRoute(f, before[0].ID, before[0].ETag) {
				mu.Lock()
				tries++
				want503(t, "killed: "+what, a, limit)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := in.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, b := range before {
		r := f.do(t, http.MethodGet, "/buffers/"+b.ID, nil)
		if r.status != http.StatusOK || !maps.Equal(decode[model.Buffer](t, r).Tags, b.Tags) {
			t.Errorf("after restart %s: %d %s", b.ID, r.status, r.body)
		}
	}
	if ids := listIDs(t, f, "/buffers"); len(ids) != len(before) {
		t.Errorf("after restart: listed %v", ids)
	}
	after := f.create(t, map[string]string{"n": "after"})
	checkNothingHalfWritten(t, in, f, after.ID)
	if orphans := checkConsistency(t, in, directStore(t, in, prefix), prefix, log.created); orphans != 0 {
		t.Errorf("%d orphan containers after the kill", orphans)
	}
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   "Azurite (tables and blobs) killed with SIGKILL under the API, then restarted on its data",
		Tries:   tries,
		Outcome: fmt.Sprintf("every route 503 JSON with Retry-After within %s while down; after restart all acknowledged buffers and tags there, every record has its container and every committed index entry its record (checked through the store), creates work", limit),
	})
}

// directStore opens the store of a test's tables without any proxy.
func directStore(t *testing.T, in *azurite.Instance, prefix string) *tablestore.Store {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(in.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tablestore.Open(context.Background(), svc, tablestore.Options{TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkNothingHalfWritten lists through the API (after a fault has passed) and
// checks each listed buffer reads back, and that id (if any) still works.
func checkNothingHalfWritten(t *testing.T, in *azurite.Instance, f *apiFixture, id string) {
	t.Helper()
	for _, listed := range listIDs(t, f, "/buffers?limit=2000") {
		if r := f.do(t, http.MethodGet, "/buffers/"+listed, nil); r.status != http.StatusOK {
			t.Errorf("listed buffer %s: %d %s", listed, r.status, r.body)
		}
	}
	if id != "" {
		if r := f.do(t, http.MethodPost, "/buffers/"+id+"/access?writeable=true", nil); r.status != http.StatusCreated {
			t.Errorf("access to %s after the fault: %d %s", id, r.status, r.body)
		}
	}
}

// checkConsistency checks, through a clean connection: every record has its
// container; every committed index entry has its record; a container the API made
// has a record or is an orphan (returned as a count: a leak, not a loss).
func checkConsistency(t *testing.T, in *azurite.Instance, store *tablestore.Store, prefix string, containers []string) (orphans int) {
	t.Helper()
	ctx := context.Background()
	blobs := blobtest.ServiceClient(t, in)
	containerExists := func(id string) bool {
		_, err := blobs.NewContainerClient(id).GetProperties(ctx, nil)
		if err != nil && !bloberror.HasCode(err, bloberror.ContainerNotFound) {
			t.Fatalf("checking container %s: %v", id, err)
		}
		return err == nil
	}
	for _, id := range containers {
		_, err := store.Get(ctx, id)
		switch {
		case err == nil:
			if !containerExists(id) {
				t.Errorf("record %s has no container", id)
			}
		case errors.Is(err, model.ErrNotFound):
			if containerExists(id) {
				orphans++
			}
		default:
			t.Fatal(err)
		}
	}
	// Every committed entry in the order and tag indexes must have its record.
	page, err := store.List(ctx, model.ListQuery{Limit: maxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range page.Items {
		if _, err := store.Get(ctx, b.ID); err != nil {
			t.Errorf("listed buffer %s has no record: %v", b.ID, err)
		}
	}
	svc, err := aztables.NewServiceClientFromConnectionString(in.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"bufferorder", "buffertags"} {
		pager := svc.NewClient(prefix + table).NewListEntitiesPager(nil)
		for pager.More() {
			resp, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("scanning %s: %v", table, err)
			}
			for _, raw := range resp.Entities {
				var e struct {
					ID      string
					Pending bool
				}
				if err := json.Unmarshal(raw, &e); err != nil {
					t.Fatal(err)
				}
				if e.Pending {
					continue // List checks pending entries against the record
				}
				if _, err := store.Get(ctx, e.ID); err != nil {
					t.Errorf("committed %s entry for %s points at nothing: %v", table, e.ID, err)
				}
			}
		}
	}
	return orphans
}
