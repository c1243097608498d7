package handler

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every /api route, its parameters and its answers,
// errors included. It is a file rather than Go data so that it can be read, diffed
// and fed to tools as it is; openapi_test.go keeps it and the router in step.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the document (GET /api/openapi.json, anonymous like metadata in
// its function.json).
func (a *api) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDocument)
}
