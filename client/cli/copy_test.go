package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"spool/blobstore"
	"spool/client"
	"spool/client/bufcopy"
	"spool/handler"
	"spool/internal/azurite"
	"spool/internal/reliability"
)

// copyStack is two deployments: one over the package's Azurite (tables, and
// account "east" in eastus) with a second Azurite's blob service as account "west"
// in westus, and another over that second Azurite alone.
type copyStack struct {
	one, two string // API roots
	journal  string
}

func startCopyStack(t *testing.T) copyStack {
	t.Helper()
	liveServer(t) // the package's Azurite, and SPOOL_SERVER_URL for the CLI
	other, err := azurite.Start(azurite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	suffix := time.Now().UnixNano() % 1_000_000
	one, err := connectHandler(ctx, stack.azurite.ConnectionString(), "copyone"+strconv.FormatInt(suffix, 10))
	if err != nil {
		t.Fatal(err)
	}
	westOpts, err := blobstore.OptionsFromConnectionString(other.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	west, err := blobstore.New(westOpts)
	if err != nil {
		t.Fatal(err)
	}
	one.Accounts = []handler.StorageAccount{
		{Name: "east", Location: "eastus", Endpoint: stack.azurite.BlobEndpoint, Containers: one.Containers},
		{Name: "west", Location: "westus", Endpoint: west.Endpoint(), Containers: west},
	}
	two, err := connectHandler(ctx, other.ConnectionString(), "copytwo"+strconv.FormatInt(suffix, 10))
	if err != nil {
		t.Fatal(err)
	}
	s := copyStack{one: serveAPI(t, one), two: serveAPI(t, two), journal: filepath.Join(t.TempDir(), "copies.json")}
	t.Setenv("SPOOL_SERVER_URL", s.one)
	return s
}

func serveAPI(t *testing.T, opts handler.Options) string {
	t.Helper()
	h, err := handler.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/api"
}

// writtenBuffer creates a buffer on the first deployment with the given create
// flags and writes data to it in 64 KiB blobs.
func writtenBuffer(t *testing.T, data []byte, args ...string) string {
	t.Helper()
	id := createBuffer(t, args...)
	if r := runCLI(t, string(data), "buffer", "write", id, "-b", "64K", "-q"); r.code != 0 {
		t.Fatalf("write: %+v", r)
	}
	return id
}

// copied runs spool buffer copy and decodes its output.
func (s copyStack) copied(t *testing.T, args ...string) []bufcopy.Result {
	t.Helper()
	res, _ := s.copiedSaying(t, args...)
	return res
}

// copiedSaying is copied, and what the copy said on stderr.
func (s copyStack) copiedSaying(t *testing.T, args ...string) ([]bufcopy.Result, string) {
	t.Helper()
	r := runCLI(t, "", append([]string{"buffer", "copy", "--journal", s.journal}, args...)...)
	if strings.Contains(r.stdout+r.stderr, "sig=") {
		t.Errorf("copy %v printed a SAS signature", args)
	}
	var out struct {
		Count  int
		Copies []bufcopy.Result
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); r.code != 0 || err != nil || out.Count != len(out.Copies) {
		t.Fatalf("copy %v: %+v", args, r)
	}
	return out.Copies, r.stderr
}

// sameBuffer checks that the copy on server reads back as data and has tags.
func sameBuffer(t *testing.T, server, id string, data []byte, tags string) {
	t.Helper()
	r := runCLI(t, "", "--server-url", server, "buffer", "read", id, "-q")
	if r.code != 0 || !bytes.Equal([]byte(r.stdout), data) {
		t.Fatalf("reading the copy %s: exit %d, %d bytes (want %d): %s", id, r.code, len(r.stdout), len(data), r.stderr)
	}
	r = runCLI(t, "", "--server-url", server, "buffer", "show", id)
	var b struct{ Tags map[string]string }
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(b.Tags); string(got) != tags {
		t.Errorf("the copy's tags are %s, want %s", got, tags)
	}
}

func TestCopyToAnotherLocationAndAnotherServerIsByteIdenticalWithItsTags(t *testing.T) {
	s := startCopyStack(t)
	data := generated(t, 300<<10+7) // 5 data blobs and the empty one
	east := writtenBuffer(t, data, "--tag", "run=copy1", "--tag", "kind=raw")
	const tags = `{"kind":"raw","run":"copy1"}`

	// Azurite refuses Put Blob From URL (500) and a Copy Blob whose source is in
	// another instance (404 CannotVerifyCopySource), so between two instances
	// every blob is streamed, and the copy says so.
	toWest, said := s.copiedSaying(t, east, "--to-location", "westus")
	if toWest[0].Blobs != 8 || toWest[0].Source != east || toWest[0].Streamed != 8 ||
		!strings.Contains(said, "8 of 8 blobs were streamed through this machine") {
		t.Fatalf("copy to westus: %+v\n%s", toWest[0], said)
	}
	sameBuffer(t, s.one, toWest[0].Destination, data, tags)

	toTwo := s.copied(t, toWest[0].Destination, "--to", s.two)
	sameBuffer(t, s.two, toTwo[0].Destination, data, tags)
	if toTwo[0].ServerSide != 8 || toTwo[0].Streamed != 0 {
		t.Errorf("within one Azurite, every blob should be copied by storage: %+v", toTwo[0])
	}

	again := s.copied(t, east, "--to-location", "westus")
	if again[0].Destination != toWest[0].Destination || !again[0].Done {
		t.Errorf("a rerun must find the finished copy and skip it: %+v", again[0])
	}
	if r := runCLI(t, "", "buffer", "list", "--tag", "run=copy1"); strings.Count(r.stdout, `"id"`) != 2 {
		t.Errorf("after the rerun there should be the source and one copy: %s", r.stdout)
	}
	sameBuffer(t, s.one, east, data, tags) // the source is untouched
}

func TestCopyOfATagSelectionSkipsEarlierCopiesOnRerun(t *testing.T) {
	s := startCopyStack(t)
	a, b := generated(t, 70<<10), generated(t, 0)
	idA := writtenBuffer(t, a, "--tag", "sel=copy2")
	idB := writtenBuffer(t, b, "--tag", "sel=copy2", "--tag", "second=yes")
	first := s.copied(t, "--tag", "sel=copy2", "--to-location", "westus")
	if len(first) != 2 {
		t.Fatalf("a selection of two: %+v", first)
	}
	rerun := s.copied(t, "--tag", "sel=copy2", "--to-location", "WestUS")
	if len(rerun) != 2 || !rerun[0].Done || !rerun[1].Done {
		t.Errorf("the rerun must skip the finished copies and not copy the copies: %+v", rerun)
	}
	for _, c := range first {
		switch c.Source {
		case idA:
			sameBuffer(t, s.one, c.Destination, a, `{"sel":"copy2"}`)
		case idB:
			sameBuffer(t, s.one, c.Destination, b, `{"second":"yes","sel":"copy2"}`)
		}
	}
}

func TestCopyRefusesAMissingDestinationOrAmbiguousSource(t *testing.T) {
	for name, args := range map[string][]string{
		"nowhere":     {"buffer", "copy", fakeID},
		"id and tags": {"buffer", "copy", fakeID, "--tag", "a=b", "--to-location", "x"},
		"neither":     {"buffer", "copy", "--to-location", "x"},
		"two ids":     {"buffer", "copy", fakeID, fakeID, "--to-location", "x"},
	} {
		if r := runCLI(t, "", args...); r.code != exitUsage {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

// failingAfter lets n blob PUTs through, then fails every request.
type failingAfter struct {
	n    atomic.Int64
	base http.RoundTripper
}

var errInjected = errors.New("injected: connection lost")

func (f *failingAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && f.n.Add(-1) < 0 {
		return nil, errInjected
	}
	return f.base.RoundTrip(req)
}

func TestAnInterruptedCopyResumesIntoTheSameBufferOnRerun(t *testing.T) {
	s := startCopyStack(t)
	data := generated(t, 1<<20) // 16 data blobs and the empty one
	src := writtenBuffer(t, data, "--tag", "run=copy3")
	partial := s.interruptedCopy(t, src, 6)
	if r := runCLI(t, "", "buffer", "set", src, "--tag", "run=copy3", "--tag", "stage=moved"); r.code != 0 {
		t.Fatalf("retagging the source between the runs: %+v", r)
	}
	done := s.copied(t, src, "--to", s.two)
	if done[0].Destination != partial.Destination || done[0].AlreadyThere == 0 || done[0].Blobs != 19 {
		t.Errorf("the rerun should finish the same copy, keeping the blobs already there: %+v (first run: %s)", done[0], partial.Destination)
	}
	sameBuffer(t, s.two, partial.Destination, data, `{"run":"copy3","stage":"moved"}`) // the tags as they are now
	reliability.Record(t, reliability.Row{
		Area:    "copy",
		Fault:   "connection lost after 6 blob copies of 19, copy run again",
		Tries:   1,
		Outcome: "the first run fails before .bufferend is copied; the rerun continues into the same destination buffer, keeps and checks the blobs already there, and the copy reads back byte-identical",
	})
}

// interruptedCopy copies buffer src from the first server to the second through a
// connection that fails after puts blob PUTs, and returns what the copy got to.
func (s copyStack) interruptedCopy(t *testing.T, src string, puts int64) bufcopy.Result {
	t.Helper()
	one, err := client.New(client.Options{ServerURL: s.one})
	if err != nil {
		t.Fatal(err)
	}
	two, err := client.New(client.Options{ServerURL: s.two})
	if err != nil {
		t.Fatal(err)
	}
	journal, err := bufcopy.OpenJournal(s.journal)
	if err != nil {
		t.Fatal(err)
	}
	cut := &failingAfter{base: http.DefaultTransport}
	cut.n.Store(puts)
	opts := bufcopy.Options{Source: one, Destination: two, Journal: journal, HTTPClient: &http.Client{Transport: cut}}
	partial, err := bufcopy.Buffer(context.Background(), opts, src)
	if !errors.Is(err, errInjected) || partial.Destination == "" {
		t.Fatalf("the interrupted copy: %+v, %v", partial, err)
	}
	return partial
}

func TestACopyNeverOverwritesOrKeepsADestinationBlobThatDiffers(t *testing.T) {
	s := startCopyStack(t)
	src := writtenBuffer(t, generated(t, 100<<10), "--tag", "run=copy4")
	partial := s.interruptedCopy(t, src, 1) // the destination is made and journaled, no blob gets there
	two, _ := client.New(client.Options{ServerURL: s.two})
	w, err := two.Access(context.Background(), partial.Destination, true, "")
	if err != nil {
		t.Fatal(err)
	}
	put, _ := http.NewRequest(http.MethodPut, strings.Replace(w, "?", "/00/000?", 1), strings.NewReader("not the source's bytes"))
	put.Header.Set("x-ms-blob-type", "BlockBlob")
	if resp, err := http.DefaultClient.Do(put); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("planting a foreign blob: %v %v", resp, err)
	}
	r := runCLI(t, "", "buffer", "copy", src, "--to", s.two, "--journal", s.journal)
	reliability.Record(t, reliability.Row{
		Area:    "copy",
		Fault:   "the destination of an interrupted copy holds a blob with other bytes when the copy is run again",
		Tries:   1,
		Outcome: "the copy stops with \"blob 00/000 differs from the source's\", exit 1; it neither overwrites nor keeps it, and .bufferend is never copied",
	})
	if r.code != exitFailure || !strings.Contains(r.stderr, "blob 00/000 differs from the source's") {
		t.Errorf("rerun over a foreign blob: %+v", r)
	}
}
