package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// openRoutes may be anonymous in every deployment: Tyger's CLI reads metadata
// before it has any credentials, and the OpenAPI document describes the API to
// anyone, as metadata does.
var openRoutes = []string{"metadata", "openapi.json"}

// functionBindings is the part of a function.json this check reads.
type functionBindings struct {
	Bindings []struct {
		Type      string `json:"type"`
		AuthLevel string `json:"authLevel"`
		Route     string `json:"route"`
	} `json:"bindings"`
}

// checkAuthLevels refuses to start an app whose function.json files let the host
// pass requests without a function key (staged with AUTH_MODE=entra) while no
// token issuer is configured: every route would be open to anyone. dir is the
// Functions app folder; one without function folders (a test, a local run of the
// bare binary) passes.
func checkAuthLevels(dir string, signIn bool) error {
	if signIn {
		return nil
	}
	open, err := anonymousRoutes(dir)
	if err != nil {
		return err
	}
	if len(open) > 0 {
		return fmt.Errorf("routes %v take requests without a function key (the app was staged with AUTH_MODE=entra) "+
			"but SPOOL_AUTH_ISSUER is not set: set SPOOL_AUTH_ISSUER and SPOOL_AUTH_AUDIENCE, or stage with AUTH_MODE=function", open)
	}
	return nil
}

// anonymousRoutes lists the HTTP routes under dir whose authLevel is anonymous,
// besides openRoutes.
func anonymousRoutes(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil {
		return nil, fmt.Errorf("finding function.json files: %w", err)
	}
	var open []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		var fn functionBindings
		if err := json.Unmarshal(raw, &fn); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", f, err)
		}
		for _, b := range fn.Bindings {
			if b.Type == "httpTrigger" && b.AuthLevel == "anonymous" && !slices.Contains(openRoutes, b.Route) {
				open = append(open, b.Route)
			}
		}
	}
	return open, nil
}

// appDir is the folder of the running executable: the host runs the handler from
// the Functions app folder, next to the function folders.
func appDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Dir(exe)
}
