package handler

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

type openAPIOperation struct {
	Security    []map[string][]string      `json:"security"`
	RequestBody json.RawMessage            `json:"requestBody"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema struct {
					Ref string `json:"$ref"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"components"`
}

// operations maps "METHOD /path" to each operation of the document.
func openAPIOperations(t *testing.T) map[string]openAPIOperation {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", doc.OpenAPI)
	}
	ops := map[string]openAPIOperation{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	for name, r := range doc.Components.Responses {
		if r.Content["application/json"].Schema.Ref != "#/components/schemas/Error" {
			t.Errorf("error response %s is not the Error shape", name)
		}
	}
	return ops
}

// routedOperations lists "METHOD /path" for every /api route of the router.
func routedOperations(t *testing.T) []string {
	t.Helper()
	var routed []string
	err := (&api{}).router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, _ := route.GetPathTemplate()
		methods, _ := route.GetMethods()
		for _, m := range methods {
			if strings.HasPrefix(tpl, "/api/") {
				routed = append(routed, m+" "+tpl)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return routed
}

func TestTheOpenAPIDocumentHasEveryRoutedOperationAndNothingElse(t *testing.T) {
	ops := openAPIOperations(t)
	routed := routedOperations(t)
	for _, r := range routed {
		if _, ok := ops[r]; !ok {
			t.Errorf("%s is routed but not in openapi.json", r)
		}
	}
	for op := range ops {
		if !slices.Contains(routed, op) {
			t.Errorf("%s is in openapi.json but not routed", op)
		}
	}
}

func TestTheOpenAPIDocumentNamesTheErrorsEachOperationCanAnswer(t *testing.T) {
	for name, op := range openAPIOperations(t) {
		want := []string{"400"}
		anonymous := len(op.Security) == 1 && len(op.Security[0]) == 0
		if !anonymous {
			want = append(want, "401", "403", "503")
		}
		if strings.Contains(name, "{id}") {
			want = append(want, "404")
		}
		if op.RequestBody != nil {
			want = append(want, "408", "413", "415")
		}
		if strings.HasPrefix(name, "PUT ") {
			want = append(want, "412")
		}
		for _, code := range want {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: no %s response", name, code)
			}
		}
	}
}

func TestTheOpenAPIDocumentIsServedAnonymouslyAsJSON(t *testing.T) {
	f := newAPIFixture(t)
	r := f.do(t, http.MethodGet, "/openapi.json", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, openAPIDocument) {
		t.Errorf("got %d %q, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
}
