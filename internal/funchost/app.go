// Package funchost stands in for the Azure Functions host in front of spool's
// custom handler, for tests. It reads the app the host would read (host.json and
// one function.json per function folder) and applies the host's rules to each
// request: route and method matching under the route prefix, function keys, the
// way a request is passed to the handler (proxied or forwarded), and how a
// non-HTTP invocation is posted and its answer read.
//
// Each rule is taken from the host's public source (Azure/azure-functions-host,
// src/WebJobs.Script/Workers/Http); the file is named where the rule is applied.
package funchost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// App is a Functions app as the host reads it.
type App struct {
	// RoutePrefix is extensions.http.routePrefix ("api" when unset).
	RoutePrefix string
	// Proxying and Forwarding are customHandler.enableProxyingHttpRequest and the
	// legacy enableForwardingHttpRequest.
	Proxying, Forwarding bool
	// ExecutablePath is customHandler.description.defaultExecutablePath.
	ExecutablePath string
	Functions      []Function
}

// Function is one function folder.
type Function struct {
	Name string
	// HTTP is set for a function whose only bindings are an httpTrigger and an
	// http output: the pair the host passes through to the handler as HTTP.
	HTTP *HTTPTrigger
	// Timer is set for a function whose only binding is a timerTrigger.
	Timer *TimerTrigger
}

// HTTPTrigger is an httpTrigger binding.
type HTTPTrigger struct {
	Route     string   // relative to the route prefix, e.g. "buffers/{id}"
	Methods   []string // upper case
	AuthLevel string   // "anonymous", "function" or "admin"
}

// TimerTrigger is a timerTrigger binding.
type TimerTrigger struct {
	Schedule string
}

type hostJSON struct {
	Version       string `json:"version"`
	CustomHandler struct {
		Description struct {
			DefaultExecutablePath string `json:"defaultExecutablePath"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		EnableProxyingHTTPRequest   bool `json:"enableProxyingHttpRequest"`
	} `json:"customHandler"`
	Extensions struct {
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
	} `json:"extensions"`
}

// Binding is one entry of a function.json's bindings.
type Binding struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	Name      string   `json:"name"`
	AuthLevel string   `json:"authLevel"`
	Methods   []string `json:"methods"`
	Route     string   `json:"route"`
	Schedule  string   `json:"schedule"`
}

// Load reads hostFile and every functionsDir/*/function.json: the repository keeps
// them in host.json and functions/, a staged app in one folder.
func Load(hostFile, functionsDir string) (*App, error) {
	raw, err := os.ReadFile(hostFile)
	if err != nil {
		return nil, fmt.Errorf("reading host.json: %w", err)
	}
	var h hostJSON
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", hostFile, err)
	}
	if h.Version != "2.0" {
		return nil, fmt.Errorf("%s: version %q, the host needs 2.0", hostFile, h.Version)
	}
	app := &App{
		RoutePrefix:    "api",
		Proxying:       h.CustomHandler.EnableProxyingHTTPRequest,
		Forwarding:     h.CustomHandler.EnableForwardingHTTPRequest,
		ExecutablePath: h.CustomHandler.Description.DefaultExecutablePath,
	}
	if p := h.Extensions.HTTP.RoutePrefix; p != nil {
		app.RoutePrefix = strings.Trim(*p, "/")
	}
	files, err := filepath.Glob(filepath.Join(functionsDir, "*", "function.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no function.json under %s (%v)", functionsDir, err)
	}
	for _, file := range files {
		fn, err := loadFunction(file)
		if err != nil {
			return nil, err
		}
		app.Functions = append(app.Functions, fn)
	}
	return app, nil
}

// loadFunction reads one function.json, named after its folder.
func loadFunction(file string) (Function, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Function{}, fmt.Errorf("reading function.json: %w", err)
	}
	var doc struct {
		Bindings []Binding `json:"bindings"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Function{}, fmt.Errorf("parsing %s: %w", file, err)
	}
	fn := Function{Name: filepath.Base(filepath.Dir(file))}
	b := doc.Bindings
	switch {
	case len(b) == 1 && b[0].Type == "timerTrigger" && b[0].Direction == "in" && b[0].Schedule != "":
		fn.Timer = &TimerTrigger{Schedule: b[0].Schedule}
	case len(b) == 2 && b[0].Type == "httpTrigger" && b[0].Direction == "in" &&
		b[1].Type == "http" && b[1].Direction == "out":
		fn.HTTP = &HTTPTrigger{Route: b[0].Route, AuthLevel: strings.ToLower(b[0].AuthLevel)}
		for _, m := range b[0].Methods {
			fn.HTTP.Methods = append(fn.HTTP.Methods, strings.ToUpper(m))
		}
		if fn.HTTP.Route == "" || strings.HasPrefix(fn.HTTP.Route, "/") {
			return Function{}, fmt.Errorf("%s: route %q must be set and relative to the route prefix", file, fn.HTTP.Route)
		}
	default:
		return Function{}, fmt.Errorf("%s: bindings are neither httpTrigger+http nor one timerTrigger: %+v", file, b)
	}
	return fn, nil
}

// Route is one declared route and method, as a path under the route prefix.
type Route struct {
	Function  string
	Template  string // e.g. "/api/buffers/{id}"
	Method    string
	AuthLevel string
}

// Routes lists every declared HTTP route and method.
func (a *App) Routes() []Route {
	var routes []Route
	for _, fn := range a.Functions {
		if fn.HTTP == nil {
			continue
		}
		for _, m := range fn.HTTP.Methods {
			routes = append(routes, Route{Function: fn.Name, Template: a.prefixed(fn.HTTP.Route), Method: m, AuthLevel: fn.HTTP.AuthLevel})
		}
	}
	return routes
}

// Timers lists the timer functions' names.
func (a *App) Timers() []string {
	var names []string
	for _, fn := range a.Functions {
		if fn.Timer != nil {
			names = append(names, fn.Name)
		}
	}
	return names
}

// InitializationTimeout is how long the host waits for the handler to accept
// connections before it gives up on it and restarts it (HttpWorkerOptions.cs).
func (a *App) InitializationTimeout() time.Duration { return 30 * time.Second }

func (a *App) prefixed(route string) string {
	if a.RoutePrefix == "" {
		return "/" + route
	}
	return "/" + a.RoutePrefix + "/" + route
}
