package handler

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"spool/internal/model"
	"spool/internal/reliability"
)

// slowBody sends a request's headers, promising a body of 200 bytes, then feeds
// the body with feed and returns the answer's status line and how long it took.
func slowBody(t *testing.T, addr, method, path string, feed func(net.Conn) error) (string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{", method, path, addr)
	fed := make(chan error, 1)
	go func() { fed <- feed(conn) }()
	// Generous safety bound: the answer must come long before it.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: no answer after %s: %v", method, path, elapsed, err)
	}
	defer resp.Body.Close()
	var e model.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&e); resp.StatusCode >= 400 && (err != nil || e.Error.Code == "") {
		t.Errorf("%s %s: %d without the JSON error shape: %v", method, path, resp.StatusCode, err)
	}
	return resp.Status, elapsed
}

func TestABodyThatStallsOrTricklesIsCutOffAtTheRequestTimeout(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	srv, store := directAPI(t, func(o *Options) { o.RequestTimeout = timeout })
	addr := strings.TrimPrefix(srv.URL, "http://")
	victim, _ := store.Insert(t.Context(), model.Buffer{ID: newID(), CreatedAt: time.Now().UTC()})
	feeds := map[string]func(net.Conn) error{
		"stalls": func(net.Conn) error { time.Sleep(3 * timeout); return nil },
		"trickles a byte a second": func(c net.Conn) error {
			for range 20 {
				time.Sleep(time.Second)
				if _, err := c.Write([]byte(" ")); err != nil {
					return err
				}
			}
			return nil
		},
	}
	tries := 0
	for name, feed := range feeds {
		for _, route := range []struct{ method, path string }{
			{http.MethodPost, "/api/buffers"}, {http.MethodPut, "/api/buffers/" + victim.ID},
		} {
			t.Run(name+" "+route.method, func(t *testing.T) {
				status, elapsed := slowBody(t, addr, route.method, route.path, feed)
				tries++
				if !strings.HasPrefix(status, "408") {
					t.Errorf("got %s after %s, want 408", status, elapsed)
				}
				// Safety bound only: the cut comes at the timeout, far inside it.
				if elapsed > 4*timeout {
					t.Errorf("cut off only after %s (request timeout %s)", elapsed, timeout)
				}
			})
		}
	}
	// A route that reads no body answers all the same; net/http's discard of the
	// unread body gives up at the deadline too.
	status, elapsed := slowBody(t, addr, http.MethodPost, "/api/buffers/"+victim.ID+"/access", feeds["stalls"])
	if !strings.HasPrefix(status, "201") || elapsed > 4*timeout {
		t.Errorf("access with a stalled body: %s after %s", status, elapsed)
	}
	if got, _ := store.Get(t.Context(), victim.ID); got.ETag != victim.ETag || store.buffersLen() != 1 {
		t.Errorf("a cut-off request changed the buffers")
	}
	reliability.Record(t, reliability.Row{
		Area:    "control plane",
		Fault:   fmt.Sprintf("request bodies that stall, or trickle a byte a second (create, update; request timeout %s)", timeout),
		Tries:   tries,
		Outcome: "each answered 408 with a JSON error at the request timeout; nothing created or changed",
	})
}

// Every route that reads a body takes it as application/json only: a web page can
// send the others cross-site without the browser asking first.
func TestABodyNotSentAsJSONIsRefused415AndChangesNothing(t *testing.T) {
	f := newAPIFixture(t)
	victim := f.create(t, map[string]string{"keep": "me"})
	body := `{"tags":{"evil":"1"}}`
	tries := 0
	for _, route := range []struct{ method, path string }{
		{http.MethodPost, "/buffers"}, {http.MethodPut, "/buffers/" + victim.ID},
	} {
		for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=x", "application/jsonp", "application/json; charset=latin1", "json", ";;"} {
			a := f.rawTry(route.method, route.path, body, "Content-Type", ct)
			tries++
			code, err := a.jsonError()
			if a.status != http.StatusUnsupportedMediaType || err != nil || code != "UnsupportedMediaType" {
				t.Errorf("%s %s as %q: want 415 UnsupportedMediaType, got %v (%v)", route.method, route.path, ct, a, err)
			}
		}
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
			if a := f.rawTry(route.method, route.path, `{"tags":{"keep":"me"}}`, "Content-Type", ct); a.status >= 300 {
				t.Errorf("%s %s as %q: %v", route.method, route.path, ct, a)
			}
		}
	}
	if n := f.store.buffersLen(); n != 1+3 {
		t.Errorf("%d buffers, want the victim and the 3 accepted creates", n)
	}
	if got, _ := f.store.Get(t.Context(), victim.ID); got.Tags["evil"] != "" {
		t.Errorf("a refused update changed the buffer: %v", got.Tags)
	}
	// Routes without a body are as they were: no Content-Type needed.
	if a := f.rawTry(http.MethodPost, "/buffers/"+victim.ID+"/access", ""); a.status != http.StatusCreated {
		t.Errorf("access without a body: %v", a)
	}
	reliability.Record(t, reliability.Row{
		Area:    "bad input",
		Fault:   "JSON bodies sent as text/plain, form, multipart or without a Content-Type (create, update)",
		Tries:   tries,
		Outcome: "each 415 UnsupportedMediaType with a JSON error; nothing created or changed",
	})
}

func TestTheTooLargeMessageNamesTheConfiguredLimit(t *testing.T) {
	if got := byteSize(MaxBodyBytes); got != "64 KiB" {
		t.Errorf("MaxBodyBytes reads %q", got)
	}
	for n, want := range map[int64]string{1 << 20: "1 MiB", 3 << 10: "3 KiB", 1536: "1536 bytes"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
	f := newAPIFixture(t)
	a := f.rawTry(http.MethodPost, "/buffers", `{"tags":{"k":"`+strings.Repeat("v", MaxBodyBytes)+`"}}`)
	if a.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(a.body), "limit of 64 KiB") {
		t.Errorf("oversized body: %v", a)
	}
}

// stallingReads is a store whose reads and updates hang until the request's time is up.
type stallingReads struct{ *fakeStore }

func (s stallingReads) Get(ctx context.Context, id string) (model.Buffer, error) {
	<-ctx.Done()
	return model.Buffer{}, fmt.Errorf("reading %s: %w", id, ctx.Err())
}

func (s stallingReads) Update(ctx context.Context, id string, _ model.BufferUpdate, _ string) (model.Buffer, error) {
	return s.Get(ctx, id)
}

// The body's read deadline must not race the request's own: a request that runs
// out of time on storage is a 503 on a real connection too, never a 500 from the
// connection's background read cancelling it at the same instant.
func TestARequestOutOfTimeOnARealConnectionIs503(t *testing.T) {
	srv, _ := directAPI(t, func(o *Options) {
		o.Store = stallingReads{newFakeStore()}
		o.RequestTimeout = 200 * time.Millisecond
	})
	id := newID()
	for i := range 10 {
		for _, c := range []struct{ method, body string }{{http.MethodGet, ""}, {http.MethodPost, ""}, {http.MethodPut, `{"tags":{}}`}} {
			path := "/api/buffers/" + id
			if c.method == http.MethodPost {
				path += "/access"
			}
			req, _ := http.NewRequest(c.method, srv.URL+path, strings.NewReader(c.body))
			setHeaders(req, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("try %d, %s %s: %d, want 503", i, c.method, path, resp.StatusCode)
			}
		}
	}
}
