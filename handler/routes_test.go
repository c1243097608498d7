package handler

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"spool/internal/funchost"
	"spool/internal/reliability"
)

type functionJSON struct {
	Bindings []funchost.Binding `json:"bindings"`
}

type declaredRoute struct {
	function, template, method, authLevel string
	// timer marks a timer-triggered function: the host POSTs its invocation to
	// /<function name>, and no function key is involved.
	timer bool
}

// declaredRoutes reads every functions/*/function.json, checking that each one has
// exactly the httpTrigger "req" + http "res" pair the host forwards, or a single
// timerTrigger, which the host delivers as a POST to /<function name>.
func declaredRoutes(t *testing.T) []declaredRoute {
	t.Helper()
	files, err := filepath.Glob("../functions/*/function.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no function.json found: %v", err)
	}
	var routes []declaredRoute
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var fn functionJSON
		if err := json.Unmarshal(raw, &fn); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		name := filepath.Base(filepath.Dir(file))
		if len(fn.Bindings) == 1 && fn.Bindings[0].Type == "timerTrigger" {
			if fn.Bindings[0].Direction != "in" || fn.Bindings[0].Schedule == "" {
				t.Fatalf("%s: a timer trigger needs direction in and a schedule: %+v", file, fn.Bindings[0])
			}
			routes = append(routes, declaredRoute{function: name, template: "/" + name, method: http.MethodPost, timer: true})
			continue
		}
		if len(fn.Bindings) != 2 {
			t.Fatalf("%s: %d bindings; forwarding needs exactly httpTrigger + http", file, len(fn.Bindings))
		}
		in, out := fn.Bindings[0], fn.Bindings[1]
		if in.Type != "httpTrigger" || in.Direction != "in" || in.Name != "req" || out.Type != "http" || out.Direction != "out" || out.Name != "res" {
			t.Fatalf("%s: bindings are not the req/res pair the host forwards: %+v", file, fn.Bindings)
		}
		if in.Route == "" || strings.HasPrefix(in.Route, "/") || strings.HasPrefix(in.Route, "api/") {
			t.Fatalf("%s: route %q must be relative to the api prefix", file, in.Route)
		}
		for _, m := range in.Methods {
			routes = append(routes, declaredRoute{
				function:  name,
				template:  "/api/" + in.Route,
				method:    strings.ToUpper(m),
				authLevel: in.AuthLevel,
			})
		}
	}
	return routes
}

func TestEveryFunctionRouteIsServedByTheRouter(t *testing.T) {
	router := (&api{}).router()
	for _, d := range declaredRoutes(t) {
		path := strings.ReplaceAll(d.template, "{id}", "aaaaaaaaaaaaaaaaaaaaaaaaaa")
		var match mux.RouteMatch
		req := httptest.NewRequest(d.method, path, nil)
		if !router.Match(req, &match) || match.MatchErr != nil {
			t.Errorf("%s: %s %s is not served (%v)", d.function, d.method, d.template, match.MatchErr)
			continue
		}
		if got, _ := match.Route.GetPathTemplate(); got != d.template {
			t.Errorf("%s: %s %s is served by route %s", d.function, d.method, d.template, got)
		}
	}
}

func TestEveryRouterRouteIsDeclaredInAFunction(t *testing.T) {
	declared := declaredRoutes(t)
	err := (&api{}).router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		template, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s serves every method", template)
			return nil
		}
		for _, m := range methods {
			if !slices.ContainsFunc(declared, func(d declaredRoute) bool { return d.template == template && d.method == m }) {
				t.Errorf("%s %s is served but no function.json declares it", m, template)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOnlyMetadataAndTheOpenAPIDocumentAreAnonymous(t *testing.T) {
	routes := declaredRoutes(t)
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "function.json authLevel of every HTTP function",
		Tries:   len(routes),
		Outcome: "authLevel function on every route but GET /api/metadata (anonymous, for Tyger's CLI) and GET /api/openapi.json",
	})
	for _, d := range routes {
		if d.timer {
			continue
		}
		want := "function"
		if d.template == "/api/metadata" || d.template == "/api/openapi.json" {
			want = "anonymous"
		}
		if d.authLevel != want {
			t.Errorf("%s: authLevel %q, want %q", d.function, d.authLevel, want)
		}
	}
}

func TestCountIsNotTakenForABufferID(t *testing.T) {
	var match mux.RouteMatch
	if !(&api{}).router().Match(httptest.NewRequest(http.MethodGet, "/api/buffers/count", nil), &match) {
		t.Fatal("no match")
	}
	if got, _ := match.Route.GetPathTemplate(); got != "/api/buffers/count" {
		t.Errorf("GET /api/buffers/count routed to %s", got)
	}
}

func TestHostJSONProxiesToTheHandlerUnderTheAPIPrefix(t *testing.T) {
	app, err := funchost.Load("../host.json", "../functions") // checks version 2.0
	if err != nil {
		t.Fatal(err)
	}
	// Proxying only: with both set, the host proxies (DefaultHttpWorkerService.cs
	// tries EnableProxyingHttpRequest first), so the legacy flag would only mislead.
	if app.ExecutablePath != "handler" || !app.Proxying || app.Forwarding || app.RoutePrefix != "api" {
		t.Errorf("host.json is not set up for proxying to ./handler under /api: %+v", app)
	}
}

func TestTheSweepTimerTicksEveryMinuteAndIsServedAtItsFunctionName(t *testing.T) {
	raw, err := os.ReadFile("../functions/" + SweepFunction + "/function.json")
	if err != nil {
		t.Fatal(err)
	}
	var fn functionJSON
	if err := json.Unmarshal(raw, &fn); err != nil {
		t.Fatal(err)
	}
	if len(fn.Bindings) != 1 || fn.Bindings[0].Type != "timerTrigger" || fn.Bindings[0].Schedule != "0 */1 * * * *" {
		t.Fatalf("%s is not a timer every minute: %+v", SweepFunction, fn.Bindings)
	}
	var match mux.RouteMatch
	if !(&api{}).router().Match(httptest.NewRequest(http.MethodPost, "/"+SweepFunction, nil), &match) {
		t.Fatalf("POST /%s is not served", SweepFunction)
	}
}
