package transfer

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"spool/internal/reliability"
)

// closedPortURL is an access URL for a loopback port nothing listens on any more.
func closedPortURL() *url.URL {
	gone := httptest.NewServer(nil)
	gone.Close()
	u, _ := url.Parse(gone.URL + "/devstoreaccount1/buf?sv=2021-08-06&sp=rc&sig=secret%2Bsig")
	return u
}

func TestDeadBlobEndpointFailsInSecondsSayingOnceWhatItWaitsFor(t *testing.T) {
	u := closedPortURL()
	transfers := map[string]func(ReadOptions, WriteOptions) error{
		"write": func(_ ReadOptions, o WriteOptions) error {
			_, err := Write(context.Background(), StaticURL(u), strings.NewReader("x"), o)
			return err
		},
		"read": func(o ReadOptions, _ WriteOptions) error {
			_, err := Read(context.Background(), StaticURL(u), io.Discard, o)
			return err
		},
	}
	for name, transfer := range transfers {
		t.Run(name, func(t *testing.T) {
			var log lineLog
			start := time.Now()
			err := transfer(ReadOptions{DOP: 4, Logf: log.logf}, WriteOptions{Logf: log.logf})
			elapsed := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), "the blob service at "+u.Host+" did not answer for 10s") ||
				!strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "secret") {
				t.Fatalf("err = %v", err)
			}
			if elapsed > 20*time.Second {
				t.Fatalf("failed after %v; before, a dead endpoint took about 96 s", elapsed)
			}
			want := "waiting for the blob service at " + u.Host + " (connection refused), retrying…"
			if got := log.matching("waiting"); len(got) != 1 || got[0] != want {
				t.Fatalf("logged %q, want the one line %q", log.lines, want)
			}
			if retries := log.matching("retrying "); len(retries) != 0 {
				t.Fatalf("logged a line per retry: %q", retries)
			}
			reliability.Record(t, reliability.Row{
				Area:    "faults (data plane)",
				Fault:   name + " to a blob endpoint on a closed port (connection refused)",
				Tries:   1,
				Outcome: "one line naming the host and the cause, then a clear error after 10 s (was about 96 s and 18 retry lines)",
			})
		})
	}
}

// waitingSource hands out one URL and, like a URL file nobody renews, waits on
// Refresh until its context ends.
type waitingSource struct{ u *url.URL }

func (s waitingSource) URL(context.Context) (*url.URL, error) { return s.u, nil }

func (s waitingSource) Refresh(ctx context.Context, _ *url.URL) (*url.URL, error) {
	<-ctx.Done()
	return nil, context.Cause(ctx)
}

func TestAlreadyExpiredURLFailsInSecondsEvenIfItsSourceWouldWait(t *testing.T) {
	b := newBuffer(t)
	expiry := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	src := waitingSource{u: sasURL(t, b.admin, sasPerm(true), expiry)}
	var log lineLog
	start := time.Now()
	_, err := Write(context.Background(), src, strings.NewReader("x"), WriteOptions{Logf: log.logf})
	elapsed := time.Since(start)
	want := "the access URL expired at " + expiry.Format(time.RFC3339) + " and was not renewed"
	if !errors.Is(err, ErrAccessURLExpired) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want ErrAccessURLExpired saying %q", err, want)
	}
	if elapsed > 20*time.Second {
		t.Fatalf("failed after %v; a URL file holding an expired URL used to wait 4.5 minutes", elapsed)
	}
	if got := log.matching("waiting for a renewed one"); len(got) != 1 || !strings.Contains(got[0], expiry.Format(time.RFC3339)) {
		t.Fatalf("logged %q, want one line saying it waits for a renewed URL", log.lines)
	}
	if exists(t, b, ".bufferstart") {
		t.Fatal("the refused write left a blob")
	}
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "write with an already-expired SAS from a source that would wait for a renewal (as a URL file does)",
		Tries:   1,
		Outcome: "one line saying what it waits for, then ErrAccessURLExpired naming the expiry after 10 s (was 4.5 min of silence)",
	})
}
