package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/blobstore"
	"spool/internal/model"
	"spool/tablestore"
)

// soak is true under SPOOL_SOAK=1 (make soak): long variants run more rounds.
func soak() bool { return os.Getenv("SPOOL_SOAK") == "1" }

// rounds picks the short or the soak count.
func rounds(short, long int) int {
	if soak() {
		return long
	}
	return short
}

// liveOptions connects to the account a connection string names as cmd/handler
// does (table store and service SAS, each storage call bounded by
// blobstore.DefaultRetry), with the tables created before it returns.
func liveOptions(t testing.TB, connectionString, tablePrefix string) Options {
	t.Helper()
	blobOpts, err := blobstore.OptionsFromConnectionString(connectionString)
	if err != nil {
		t.Fatal(err)
	}
	containers, err := blobstore.New(blobOpts)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := aztables.NewServiceClientFromConnectionString(connectionString,
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: blobstore.DefaultRetry()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := tablestore.Open(ctx, svc, tablestore.Options{TablePrefix: tablePrefix})
	if err != nil {
		t.Fatal(err)
	}
	return Options{Store: store, Containers: containers, Location: "local"}
}

// liveFixture serves the real handler over a connection string, with opts applied
// after liveOptions (for a shorter RequestTimeout, a wrapped Containers...).
func liveFixture(t *testing.T, connectionString, tablePrefix string, adjust func(*Options)) (*apiFixture, Options) {
	t.Helper()
	opts := liveOptions(t, connectionString, tablePrefix)
	if adjust != nil {
		adjust(&opts)
	}
	f := &apiFixture{}
	f.serve(t, opts)
	return f, opts
}

// answer is one API response as a goroutine sees it (f.do may not be called off
// the test goroutine, since it calls t.Fatal).
type answer struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
	err     error
}

func (f *apiFixture) try(method, path, body string, header ...string) answer {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.base+path, rd)
	if err != nil {
		return answer{err: err}
	}
	setHeaders(req, header)
	return f.send(req)
}

// send does req without following redirects: a redirect is an answer to check.
func (f *apiFixture) send(req *http.Request) answer {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b, elapsed: time.Since(start), err: err}
}

func (a answer) buffer() (model.Buffer, error) {
	var b model.Buffer
	err := json.Unmarshal(a.body, &b)
	return b, err
}

// jsonError checks that the body is the API's JSON error shape and returns its code.
func (a answer) jsonError() (string, error) {
	var e model.ErrorBody
	if err := json.Unmarshal(a.body, &e); err != nil {
		return "", fmt.Errorf("error body %q is not JSON: %w", a.body, err)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		return "", fmt.Errorf("error body %q lacks a code or message", a.body)
	}
	return e.Error.Code, nil
}

func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("error %v after %s", a.err, a.elapsed.Round(time.Millisecond))
	}
	return fmt.Sprintf("%d %s after %s", a.status, bytes.TrimSpace(a.body), a.elapsed.Round(time.Millisecond))
}

func tagsJSON(tags map[string]string) string {
	b, _ := json.Marshal(map[string]any{"tags": tags})
	return string(b)
}

// statusCounts renders {200:1, 412:49} as "1×200, 49×412".
func statusCounts(counts map[int]int) string {
	var parts []string
	for code := 100; code < 600; code++ {
		if n := counts[code]; n > 0 {
			parts = append(parts, strconv.Itoa(n)+"×"+strconv.Itoa(code))
		}
	}
	if n := counts[0]; n > 0 {
		parts = append(parts, strconv.Itoa(n)+"×no answer")
	}
	return strings.Join(parts, ", ")
}
