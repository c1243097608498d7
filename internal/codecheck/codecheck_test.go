package codecheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a non-test function may be: one screen.
const maxFuncLines = 60

// moduleRoot is the folder holding go.mod, two levels up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	return root
}

// parsePackages parses every Go file of the module (node_modules and dot folders
// aside) with comments, grouped by folder.
func parsePackages(t *testing.T) (*token.FileSet, map[string][]*ast.File) {
	t.Helper()
	root := moduleRoot(t)
	fset := token.NewFileSet()
	pkgs := map[string][]*ast.File{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "node_modules" || strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkgs[rel] = append(pkgs[rel], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fset, pkgs
}

func TestNoNonTestFunctionIsLongerThanAScreen(t *testing.T) {
	fset, pkgs := parsePackages(t)
	for _, files := range pkgs {
		for _, f := range files {
			file := fset.Position(f.Package).Filename
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				name, body := funcBody(n)
				if body == nil {
					return true
				}
				start, end := fset.Position(n.Pos()), fset.Position(body.End())
				if lines := end.Line - start.Line + 1; lines > maxFuncLines {
					t.Errorf("%s:%d: %s is %d lines; the limit is %d", file, start.Line, name, lines, maxFuncLines)
				}
				return true
			})
		}
	}
}

func funcBody(n ast.Node) (string, *ast.BlockStmt) {
	switch fn := n.(type) {
	case *ast.FuncDecl:
		return fn.Name.Name, fn.Body
	case *ast.FuncLit:
		return "a function literal", fn.Body
	}
	return "", nil
}

func TestEveryPackageSaysItsJobInADocComment(t *testing.T) {
	_, pkgs := parsePackages(t)
	for dir, files := range pkgs {
		documented, hasNonTest := false, false
		for _, f := range files {
			if strings.HasSuffix(f.Name.Name, "_test") {
				continue
			}
			hasNonTest = true
			if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+f.Name.Name+" ") ||
				f.Name.Name == "main" && f.Doc != nil {
				documented = true
			}
		}
		if hasNonTest && !documented {
			t.Errorf("package in %s has no doc comment (\"Package name ...\" or, for main, a comment on the command)", dir)
		}
	}
}
