package funchost

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// seen is what the handler behind the host got.
type seen struct {
	path, query, body string
	invocationIDs     []string
	key               string
}

func recordingHandler(got chan<- seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{path: r.URL.EscapedPath(), query: r.URL.RawQuery, body: string(body),
			invocationIDs: r.Header.Values(InvocationIDHeader), key: r.Header.Get(FunctionKeyHeader)}
	})
}

func TestEachModePassesPathQueryHeadersAndBodiesAsTheHostDoes(t *testing.T) {
	for _, c := range []struct {
		name       string
		mode       Mode
		chunked    bool
		wantQuery  string
		wantBody   string
		invocation int // invocation ID values the handler sees
	}{
		{"proxy, sized body", Proxy, false, "tag%5Ba%5D=1&tag%5Ba%5D=2&code=k", "{}", 1},
		{"proxy, chunked body", Proxy, true, "tag%5Ba%5D=1&tag%5Ba%5D=2&code=k", "{}", 1},
		{"forward, sized body", Forward, false, "tag%5Ba%5D=1%2C2&code=k", "{}", 2},
		{"forward, chunked body dropped", Forward, true, "tag%5Ba%5D=1%2C2&code=k", "", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := make(chan seen, 1)
			srv := httptest.NewServer(Pass(c.mode, recordingHandler(got)))
			defer srv.Close()
			var body io.Reader = strings.NewReader("{}")
			if c.chunked {
				body = io.MultiReader(body) // unknown length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/buffers/a%2Fb?tag%5Ba%5D=1&tag%5Ba%5D=2&code=k", body)
			req.Header.Set(InvocationIDHeader, "client-made")
			req.Header.Set(FunctionKeyHeader, "k")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			s := <-got
			if s.path != "/api/buffers/a%2Fb" || s.query != c.wantQuery || s.body != c.wantBody || s.key != "k" {
				t.Errorf("handler saw %+v", s)
			}
			if len(s.invocationIDs) != c.invocation || s.invocationIDs[len(s.invocationIDs)-1] == "client-made" {
				t.Errorf("invocation IDs %q: the host's must come last", s.invocationIDs)
			}
		})
	}
}

// TestProxyStreamsTheAnswerWhereForwardBuffersIt: a handler that flushes a first
// line and then waits. Through the proxy the client reads the line while the
// handler still waits; through forwarding nothing arrives before the handler ends.
func TestProxyStreamsTheAnswerWhereForwardBuffersIt(t *testing.T) {
	for _, c := range []struct {
		mode     Mode
		streamed bool
	}{{Proxy, true}, {Forward, false}} {
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "first\n")
			http.NewResponseController(w).Flush()
			<-release
			_, _ = io.WriteString(w, "second\n")
		})
		srv := httptest.NewServer(Pass(c.mode, h))
		lines := make(chan string, 2)
		go func() {
			resp, err := http.Get(srv.URL + "/api/x")
			if err != nil {
				close(lines)
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var streamed bool
		select {
		case l := <-lines:
			streamed = l == "first"
		case <-time.After(500 * time.Millisecond):
		}
		close(release)
		for range lines {
		}
		srv.Close()
		if streamed != c.streamed {
			t.Errorf("mode %d: first line before the handler finished: %v", c.mode, streamed)
		}
	}
}

func TestRoutesMatchLiteralsBeforeParametersAndMethodsExactly(t *testing.T) {
	app := &App{RoutePrefix: "api", Functions: []Function{
		{Name: "Buffer", HTTP: &HTTPTrigger{Route: "buffers/{id}", Methods: []string{"GET"}, AuthLevel: "function"}},
		{Name: "Count", HTTP: &HTTPTrigger{Route: "buffers/count", Methods: []string{"GET"}, AuthLevel: "function"}},
		{Name: "Rest", HTTP: &HTTPTrigger{Route: "files/{*path}", Methods: []string{"GET"}, AuthLevel: "anonymous"}},
	}}
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/api/buffers/count", "Count"},
		{"GET", "/api/Buffers/COUNT", "Count"},
		{"GET", "/api/buffers/abc", "Buffer"},
		{"PUT", "/api/buffers/abc", ""},
		{"GET", "/api/buffers/", ""},
		{"GET", "/api/buffers/abc/def", ""},
		{"GET", "/api/files/a/b/c", "Rest"},
		{"GET", "/buffers/abc", ""},
	} {
		r, ok := app.find(c.method, c.path)
		if (c.want == "") == ok || (ok && r.Function != c.want) {
			t.Errorf("%s %s: got %q (%v), want %q", c.method, c.path, r.Function, ok, c.want)
		}
	}
}
