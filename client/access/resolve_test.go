package access

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"spool/client"
	"spool/client/transfer"
	"spool/internal/model"
	"spool/internal/redact"
)

const testID = "abcdefghijklmnopqrstuvwxyz"

const sasURL = "http://127.0.0.1:10000/devstoreaccount1/" + testID + "?sv=2021&sp=rc&sig=SECRETSIG"

// fakeAPI serves answer's status and JSON body for every request and returns a REST
// client for it with fast retries.
func fakeAPI(t *testing.T, answer func(r *http.Request) (int, any)) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body := answer(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(client.Options{ServerURL: srv.URL + "/api", RetryWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// resolvedFile is a file source over a file holding sasURL, with the URL it
// currently gives.
func resolvedFile(t *testing.T, wait time.Duration, tries int) (src transfer.AccessSource, path string, stale *url.URL) {
	t.Helper()
	path = writeFile(t, "url", sasURL)
	src, err := Resolve(context.Background(), nil, path, Options{FileRefreshWait: wait, FileRefreshTries: tries})
	if err != nil {
		t.Fatal(err)
	}
	stale, _ = src.URL(context.Background())
	return src, path, stale
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveArguments(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		arg     string
		opts    Options
		wantURL string // empty when an error is wanted
		wantErr string
	}{
		{name: "absolute URL", arg: sasURL, wantURL: sasURL},
		{name: "file with URL and newline", arg: writeFile(t, "u", sasURL+" \r\n"), wantURL: sasURL},
		{name: "buffer ID", arg: testID, wantURL: "http://storage.test/" + testID + "?sig=fromserver"},
		{name: "file of 2 KiB", arg: writeFile(t, "big", sasURL+strings.Repeat(" ", 2048-len(sasURL))), wantErr: "smaller than 2 KiB"},
		{name: "file without URL", arg: writeFile(t, "notes", "hello"), wantErr: "does not hold an access URL"},
		{name: "empty file", arg: writeFile(t, "empty", ""), wantErr: "empty or unreadable"},
		{name: "directory", arg: dir, wantErr: "not a regular file"},
		{name: "missing file, not an ID", arg: filepath.Join(dir, "nope"), wantErr: "is not a buffer ID, an access URL, or the path of a file"},
		{name: "invalid ID", arg: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", wantErr: "is not a buffer ID"},
		{name: "unsupported scheme", arg: "ftp://host/c?sig=x", wantErr: `scheme "ftp"`},
		{name: "TTL with URL", arg: sasURL, opts: Options{AccessTTL: "0.00:05:00"}, wantErr: "only be given with a buffer ID"},
		{name: "URL after a space", arg: " " + sasURL, wantURL: sasURL},
		{name: "URL with one slash", arg: "http:/127.0.0.1:10000/c?sp=r&sig=SECRETSIG", wantErr: "no host"},
		{name: "URL without colon", arg: "http//127.0.0.1:10000/c?sp=r&sig=SECRETSIG", wantErr: "must start with https://"},
		{name: "URL with a bad escape in its query", arg: sasURL + "&se=x%zz", wantErr: "bad %-escape"},
		{name: "URL with a bad escape in its path", arg: "http://127.0.0.1:10000/c%zz?sig=SECRETSIG", wantErr: "cannot be parsed"},
		{name: "URL with a space inside", arg: "http://127.0.0.1:10000/c?sp=r&sig=SECRET SIG", wantErr: "white space"},
		{name: "URL with a strange host", arg: "https://acct!sig=SECRETSIG/c?sp=r", wantErr: "not a host name"},
		{name: "ID-like text with a signature", arg: "abc?sig=SECRETSIG", wantErr: `"abc?…" is not a buffer ID`},
		{name: "unknown ID", arg: strings.Repeat("z", 26), wantErr: `buffer "` + strings.Repeat("z", 26) + `" not found`},
	}
	var calls atomic.Int32
	c := fakeAPI(t, func(r *http.Request) (int, any) {
		calls.Add(1)
		if !strings.Contains(r.URL.Path, testID) {
			return http.StatusNotFound, model.ErrorBody{Error: model.ErrorInfo{Code: "NotFound", Message: "The resource was not found"}}
		}
		return http.StatusCreated, model.AccessURL{URI: "http://storage.test/" + testID + "?sig=fromserver"}
	})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Resolve(context.Background(), c, tc.arg, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "SECRETSIG") {
					t.Fatalf("error leaks the signature: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, err := src.URL(context.Background())
			if err != nil || u.String() != tc.wantURL {
				t.Fatalf("URL() = %v, %v; want %s", u, err, tc.wantURL)
			}
		})
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("server called %d times; want once for the ID and once for the unknown ID", n)
	}
}

func TestLiteralURLCannotBeRefreshed(t *testing.T) {
	src, err := Resolve(context.Background(), nil, sasURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := src.URL(context.Background())
	_, err = src.Refresh(context.Background(), u)
	if !errors.Is(err, transfer.ErrAccessURLExpired) || !strings.Contains(err.Error(), "spool buffer access") {
		t.Fatalf("err = %v", err)
	}
}

func TestFileSourceRereadsTheFileOnRefresh(t *testing.T) {
	src, p, stale := resolvedFile(t, 10*time.Millisecond, 50)
	const renewed = "http://127.0.0.1:10000/devstoreaccount1/" + testID + "?sig=RENEWED"
	go func() {
		time.Sleep(30 * time.Millisecond)
		_ = os.WriteFile(p, []byte(renewed), 0o600)
	}()
	u, err := src.Refresh(context.Background(), stale)
	if err != nil || u.String() != renewed {
		t.Fatalf("Refresh = %v, %v", u, err)
	}
	// A second goroutine that saw the old URL refused gets the new one at once.
	if u, err := src.Refresh(context.Background(), stale); err != nil || u.String() != renewed {
		t.Fatalf("second Refresh = %v, %v", u, err)
	}
}

func TestFileSourceGivesUpWhenTheFileNeverChanges(t *testing.T) {
	src, _, stale := resolvedFile(t, time.Millisecond, 3)
	_, err := src.Refresh(context.Background(), stale)
	if !errors.Is(err, transfer.ErrAccessURLExpired) || !strings.Contains(err.Error(), "did not change after 3 checks") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "SECRETSIG") {
		t.Fatalf("error leaks the signature: %v", err)
	}
}

func TestIDSourceAsksTheServerAgainOnRefresh(t *testing.T) {
	var calls atomic.Int32
	c := fakeAPI(t, func(r *http.Request) (int, any) {
		n := calls.Add(1)
		if r.URL.Query().Get("writeable") != "true" {
			t.Errorf("writeable = %q", r.URL.Query().Get("writeable"))
		}
		return http.StatusCreated, model.AccessURL{URI: "http://storage.test/c?sig=" + string(rune('a'+n))}
	})
	src, err := Resolve(context.Background(), c, testID, Options{Writeable: true})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := src.URL(context.Background())
	second, err := src.Refresh(context.Background(), first)
	if err != nil || second.String() == first.String() {
		t.Fatalf("Refresh = %v, %v (first %v)", second, err, first)
	}
	// A stale report about the first URL does not cost another request.
	if again, _ := src.Refresh(context.Background(), first); again.String() != second.String() {
		t.Fatalf("got %v", again)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d", calls.Load())
	}
}

func TestAResolvedURLRedactsWithoutItsSignature(t *testing.T) {
	src, _ := Resolve(context.Background(), nil, sasURL, Options{})
	u, _ := src.URL(context.Background())
	got := redact.URL(u)
	if strings.Contains(got, "SECRETSIG") || !strings.Contains(got, "sp=rc") || !strings.Contains(got, testID) {
		t.Fatalf("redact.URL = %q", got)
	}
}

func TestFileSourceWaitsOutAFileCaughtMidRewrite(t *testing.T) {
	src, p, stale := resolvedFile(t, 20*time.Millisecond, 50)
	if err := os.WriteFile(p, nil, 0o600); err != nil { // truncated, not yet rewritten
		t.Fatal(err)
	}
	const renewed = "http://127.0.0.1:10000/devstoreaccount1/" + testID + "?sig=RENEWED"
	go func() {
		time.Sleep(60 * time.Millisecond)
		_ = os.WriteFile(p, []byte(renewed), 0o600)
	}()
	if u, err := src.Refresh(context.Background(), stale); err != nil || u.String() != renewed {
		t.Fatalf("Refresh = %v, %v", u, err)
	}
}
