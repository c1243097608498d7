package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"spool/auth"
	"spool/blobstore"
	"spool/client"
	"spool/client/access"
	"spool/client/transfer"
	"spool/handler"
	"spool/internal/azurite"
	"spool/internal/faultproxy"
	"spool/internal/reliability"
	"spool/tablestore"
)

// Data-plane fault tests: the real CLI and handler, with a fault-injecting proxy
// between the CLI and Azurite's blob endpoint. The handler is given the proxy as its
// blob endpoint, so the SAS URLs it signs already name the proxy (a SAS signature
// covers the account and path, not the host).
//
// Every test pins the same promise: a write and a read either finish with the
// exact bytes, or fail with a clear error — a failed write leaves the buffer marked
// failed, and a read never succeeds with wrong or short bytes.

const faultArea = "faults (data plane)"

// soak is true under SPOOL_SOAK=1 (make soak): bigger transfers, real timeouts.
func soak() bool { return os.Getenv("SPOOL_SOAK") == "1" }

// faultSize is the data moved per fault class: small blobs, so even a small
// transfer crosses many faulted requests.
func faultSize() (size int64, blockFlag string) {
	if soak() {
		return 256 << 20, "1M"
	}
	return 24 << 20, "256K"
}

// handlerSetup says how a test's own handler reaches storage.
type handlerSetup struct {
	// BlobEndpoint is Azurite's, or a proxy in front of it; the SAS URLs the
	// handler signs name it.
	BlobEndpoint string
	// Now is the clock for SAS times; nil means time.Now.
	Now func() time.Time
	// Wrap, when set, wraps the handler (to watch its requests).
	Wrap func(http.Handler) http.Handler
	// Auth, when it names an issuer, makes the handler sign callers in.
	Auth auth.Options
}

// startHandler serves the real handler over az's tables and the blob endpoint
// setup names. It returns the API root.
func startHandler(t *testing.T, az *azurite.Instance, setup handlerSetup) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := tablestore.ServiceClientFromConnectionString(az.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	store, err := tablestore.Open(ctx, svc, tablestore.Options{TablePrefix: fmt.Sprintf("flt%d", time.Now().UnixNano()%1_000_000_000)})
	if err != nil {
		t.Fatalf("opening the table store: %v", err)
	}
	containers, err := blobstore.New(blobstore.Options{
		Endpoint:    setup.BlobEndpoint,
		AccountName: azurite.AccountName,
		AccountKey:  azurite.AccountKey,
		Now:         setup.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handler.New(handler.Options{Store: store, Containers: containers, Location: "local", Auth: setup.Auth})
	if err != nil {
		t.Fatal(err)
	}
	if setup.Wrap != nil {
		h = setup.Wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/api"
}

// faultStack puts a proxy with no rules in front of the package's Azurite and a
// handler that signs URLs naming the proxy; SPOOL_SERVER_URL points at it.
func faultStack(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	liveServer(t)
	p, err := faultproxy.Start(stack.azurite.BlobEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	t.Setenv("SPOOL_SERVER_URL", startHandler(t, stack.azurite, handlerSetup{BlobEndpoint: p.URL + "/" + azurite.AccountName}))
	return p
}

// roundTrip is what one write and read under faults came to.
type roundTrip struct{ write, read result }

// want is how a write and read under faults end.
type want string

const (
	wantOK         want = "write and read ok"
	wantWriteFails want = "write fails"
	wantReadFails  want = "read fails"
)

func (rt roundTrip) end() want {
	switch {
	case rt.write.code != 0:
		return wantWriteFails
	case rt.read.code != 0:
		return wantReadFails
	default:
		return wantOK
	}
}

func (rt roundTrip) outcome(injected int) string {
	switch {
	case rt.write.code != 0:
		return fmt.Sprintf("%d injected; write failed clearly (%s), buffer marked failed", injected, lastLine(rt.write.stderr))
	case rt.read.code != 0:
		return fmt.Sprintf("%d injected; write ok; read failed clearly (%s) after only verified bytes; the stored buffer reads back intact", injected, lastLine(rt.read.stderr))
	default:
		return fmt.Sprintf("%d injected; write and read ok, SHA-256 identical", injected)
	}
}

// lastLine is the error a failed command ended with, after any warnings.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	s = strings.TrimPrefix(lines[len(lines)-1], "spool: ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// writeAndRead writes data into a new buffer and reads it back with the proxy's
// current rules in force, then checks the promise. The rules are cleared for the
// checks that follow, which look at what storage really holds.
func writeAndRead(t *testing.T, p *faultproxy.Proxy, data []byte, blockFlag string) roundTrip {
	t.Helper()
	limit := 5 * time.Minute
	if soak() {
		limit = 30 * time.Minute // stalls there last a minute each
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	rules := p.Rules()
	p.SetRules()
	id := createBuffer(t)
	p.SetRules(rules...)

	var rt roundTrip
	rt.write = runWithInput(ctx, bytes.NewReader(data), "buffer", "write", id, "-b", blockFlag, "--dop", "8")
	if rt.write.code != 0 {
		p.SetRules()
		checkClearError(t, "write", rt.write)
		// The buffer must be marked failed, so readers stop rather than wait.
		r := runWithInput(ctx, strings.NewReader(""), "buffer", "read", id)
		checkRead(t, "read after a failed write", r, data)
		if r.code != exitFailure || !strings.Contains(r.stderr, "permanently failed") {
			t.Fatalf("after a failed write (%s), a read did not report a failed buffer: exit %d, stderr %q",
				lastLine(rt.write.stderr), r.code, r.stderr)
		}
		return rt
	}
	rt.read = runWithInput(ctx, strings.NewReader(""), "buffer", "read", id, "--dop", "8")
	p.SetRules()
	checkRead(t, "read under faults", rt.read, data)
	clean := runWithInput(ctx, strings.NewReader(""), "buffer", "read", id)
	checkRead(t, "clean read", clean, data)
	if clean.code != 0 {
		t.Fatalf("the write reported success but the stored buffer does not read back: %s", lastLine(clean.stderr))
	}
	return rt
}

// checkRead holds a read to the promise: success means exactly data; failure
// means a clear error and, on stdout, nothing but a verified prefix of data.
func checkRead(t *testing.T, what string, r result, data []byte) {
	t.Helper()
	if r.code == 0 {
		if sha256.Sum256([]byte(r.stdout)) != sha256.Sum256(data) {
			t.Fatalf("%s succeeded with %d bytes that are not the %d written", what, len(r.stdout), len(data))
		}
		return
	}
	checkClearError(t, what, r)
	if len(r.stdout) > len(data) || r.stdout != string(data[:len(r.stdout)]) {
		t.Fatalf("%s failed (%s) after writing %d bytes that are not a prefix of the data", what, lastLine(r.stderr), len(r.stdout))
	}
}

// checkClearError wants exit status 1 and an error as the last line of stderr;
// retry warnings may come before it.
func checkClearError(t *testing.T, what string, r result) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if r.code != exitFailure || !strings.HasSuffix(r.stderr, "\n") || !strings.HasPrefix(last, "spool: ") ||
		strings.HasPrefix(last, "spool: warning:") || len(last) < len("spool: ")+10 {
		t.Fatalf("%s failed without a clear error: exit %d, stderr %q", what, r.code, r.stderr)
	}
}

func TestFaultsEachClassEndsInTheExactBytesOrAClearFailure(t *testing.T) {
	p := faultStack(t)
	size, block := faultSize()
	data := generated(t, size)
	// In normal runs a stall is shorter than the engine's 60 s limits (response
	// headers, a body that stops moving): a slow server. In soak runs it lasts
	// until the client gives up, which it must, and retry.
	stall, stallWords := 2*time.Second, "2 s"
	bodyStall, bodyStallWords := time.Second, "1 s"
	if soak() {
		stall, stallWords = 10*time.Minute, "until the client gives up"
		bodyStall, bodyStallWords = stall, stallWords
	}
	every := 7
	data1 := faultproxy.DataBlob
	blob3 := regexp.MustCompile(`/00/003$`)
	for _, tc := range []struct {
		name  string
		fault string
		rules []faultproxy.Rule
		// want is the end the engine must reach: it retries transient faults, so
		// they must not fail a transfer; persistent corruption must fail it.
		want want
	}{
		{"Reset", "TCP reset (RST) instead of an answer, every 7th data-blob PUT and GET",
			[]faultproxy.Rule{{Kind: faultproxy.Reset, Path: data1, Every: every}}, wantOK},
		{"ResetAfterLanding", "PUT lands in storage, then the connection is reset (answer lost), every 7th data-blob PUT",
			[]faultproxy.Rule{{Kind: faultproxy.Reset, AfterUpstream: true, Method: http.MethodPut, Path: data1, Every: every}}, wantOK},
		{"Status500", "500 InternalError, every 7th data-blob request",
			[]faultproxy.Rule{{Kind: faultproxy.Status, Status: 500, Path: data1, Every: every}}, wantOK},
		{"Status503", "503 ServerBusy, every 7th data-blob request",
			[]faultproxy.Rule{{Kind: faultproxy.Status, Status: 503, Path: data1, Every: every}}, wantOK},
		{"Status429RetryAfter", "429 with Retry-After: 1, every 7th data-blob request",
			[]faultproxy.Rule{{Kind: faultproxy.Status, Status: 429, RetryAfter: time.Second, Path: data1, Every: every}}, wantOK},
		{"Stall", fmt.Sprintf("request held %s before forwarding, every 13th data-blob request (at most 4)", stallWords),
			[]faultproxy.Rule{{Kind: faultproxy.Stall, Stall: stall, Path: data1, Every: 13, Count: 4}}, wantOK},
		// A stalled body holds up the in-order reader, so fewer and shorter here.
		{"StalledBody", fmt.Sprintf("GET body stops halfway for %s, every 13th data blob (at most 2)", bodyStallWords),
			[]faultproxy.Rule{{Kind: faultproxy.StallBody, Stall: bodyStall, Method: http.MethodGet, Path: data1, Every: 13, Count: 2}}, wantOK},
		{"TruncatedBody", "GET body cut to half its Content-Length, then connection closed, every 7th data blob",
			[]faultproxy.Rule{{Kind: faultproxy.Truncate, Method: http.MethodGet, Path: data1, Every: every}}, wantOK},
		{"FlippedRequestBody", "one byte of a PUT body inverted in transit, every 7th data blob",
			[]faultproxy.Rule{{Kind: faultproxy.FlipRequestBody, Method: http.MethodPut, Path: data1, Every: every}}, wantOK},
		{"FlippedResponseBody", "one byte of a GET body inverted in transit, every 7th data blob",
			[]faultproxy.Rule{{Kind: faultproxy.FlipResponseBody, Method: http.MethodGet, Path: data1, Every: every}}, wantOK},
		{"DroppedRequestMD5", "Content-MD5 removed from every 7th data-blob PUT",
			[]faultproxy.Rule{{Kind: faultproxy.DropRequestMD5, Method: http.MethodPut, Path: data1, Every: every}}, wantOK},
		{"DroppedResponseMD5", "Content-MD5 removed from every 7th data-blob GET answer",
			[]faultproxy.Rule{{Kind: faultproxy.DropResponseMD5, Method: http.MethodGet, Path: data1, Every: every}}, wantOK},
		{"CorruptionStorageCannotSee", "one byte of a PUT body inverted AND its Content-MD5 removed, so storage keeps the bad bytes; every 7th data blob",
			[]faultproxy.Rule{
				{Kind: faultproxy.FlipRequestBody, Method: http.MethodPut, Path: data1, Every: every},
				{Kind: faultproxy.DropRequestMD5, Method: http.MethodPut, Path: data1, Every: every},
			}, wantWriteFails},
		{"PersistentPutCorruption", "every PUT of data blob 00/003 has a byte inverted in transit",
			[]faultproxy.Rule{{Kind: faultproxy.FlipRequestBody, Method: http.MethodPut, Path: blob3}}, wantWriteFails},
		{"PersistentGetCorruption", "every GET of data blob 00/003 has a byte inverted in transit",
			[]faultproxy.Rule{{Kind: faultproxy.FlipResponseBody, Method: http.MethodGet, Path: blob3}}, wantReadFails},
	} {
		for i := range tc.rules {
			if !soak() && tc.rules[i].Count == 0 {
				// Enough to hit both directions many times, few enough to keep
				// the suite fast on a shared 2-core machine.
				tc.rules[i].Count = 10
			}
			if tc.want == wantOK {
				// Transient means a retry can get through: never the same blob
				// on every try (the engine gives up after 6).
				tc.rules[i].PerPath = 2
			}
		}
		t.Run(tc.name, func(t *testing.T) {
			p.ResetCounts()
			p.SetRules(tc.rules...)
			rt := writeAndRead(t, p, data, block)
			injected := p.TotalInjected()
			moved := int64(len(data))
			if rt.write.code == 0 {
				moved += int64(len(rt.read.stdout))
			}
			reliability.Record(t, reliability.Row{
				Area:    faultArea,
				Fault:   fmt.Sprintf("%s (%d MiB, %s blobs, dop 8)", tc.fault, len(data)>>20, block),
				Tries:   injected,
				Bytes:   moved,
				Outcome: rt.outcome(injected),
			})
			if injected == 0 {
				t.Fatal("no fault was injected: the test proved nothing")
			}
			switch got := rt.end(); {
			case got != tc.want && tc.want == wantOK:
				t.Fatalf("the engine retries this fault, yet: write %q, read %q", rt.write.stderr, rt.read.stderr)
			case got != tc.want:
				t.Fatalf("want %s, got %s: write %q, read %q", tc.want, got, rt.write.stderr, rt.read.stderr)
			}
			t.Logf("%s", rt.outcome(injected))
		})
	}
}

// TestFaultsStalledRequestsPastTheClientTimeoutAreRetried drives the engine with a
// short client timeout, so a stall outlasts it without a minute-long test; the
// soak variant of the CLI test above does the same with the CLI's own 60 s.
func TestFaultsStalledRequestsPastTheClientTimeoutAreRetried(t *testing.T) {
	p := faultStack(t)
	size, _ := faultSize()
	data := generated(t, size/4)
	id := createBuffer(t)
	src, err := resolveForTest(t, id, true)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = time.Second
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	p.ResetCounts()
	p.SetRules(faultproxy.Rule{Kind: faultproxy.Stall, Stall: time.Minute, Path: faultproxy.DataBlob, Every: 9, Count: 6})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ws, werr := transfer.Write(ctx, src, bytes.NewReader(data), transfer.WriteOptions{BlockSize: 256 << 10, DOP: 8, HTTPClient: hc})
	readSrc, err := resolveForTest(t, id, false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rs, rerr := transfer.Read(ctx, readSrc, &out, transfer.ReadOptions{DOP: 8, HTTPClient: hc})
	injected := p.TotalInjected()
	p.SetRules()
	reliability.Record(t, reliability.Row{
		Area:    faultArea,
		Fault:   fmt.Sprintf("request held 60 s (past a 1 s response-header timeout), every 9th data-blob request (%d MiB, 256 KiB blobs)", len(data)>>20),
		Tries:   injected,
		Bytes:   ws.Bytes + rs.Bytes,
		Outcome: fmt.Sprintf("%d injected; write err %v, read err %v, read back identical: %v", injected, werr, rerr, bytes.Equal(out.Bytes(), data)),
	})
	if werr != nil || rerr != nil {
		t.Fatalf("write: %v; read: %v", werr, rerr)
	}
	if !bytes.Equal(out.Bytes(), data) || injected == 0 {
		t.Fatalf("read %d bytes (want %d identical); %d stalls injected", out.Len(), len(data), injected)
	}
}

// resolveForTest turns a buffer ID into the access source the CLI would use,
// through the server SPOOL_SERVER_URL names.
func resolveForTest(t *testing.T, id string, writeable bool) (transfer.AccessSource, error) {
	t.Helper()
	c, err := client.New(client.Options{ServerURL: os.Getenv("SPOOL_SERVER_URL")})
	if err != nil {
		return nil, err
	}
	return access.Resolve(context.Background(), c, id, access.Options{Writeable: writeable})
}
