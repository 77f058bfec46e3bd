package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the house limit on a function's length (issue 18): a
// longer one is split into named steps, or says in its doc comment why it
// is not, in a sentence that starts with longReason.
const (
	maxFuncLines = 80
	longReason   = "Long on purpose:"
)

// TestFunctionLength fails on a non-test function, in the module and in
// testdata/fixture, longer than maxFuncLines lines from its func keyword to
// its closing brace, unless its doc comment gives the reason.
func TestFunctionLength(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || (name == "testdata" && path != "testdata")) {
				return filepath.SkipDir
			}
			if filepath.ToSlash(filepath.Dir(path)) == "testdata" && name != "fixture" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			if n > maxFuncLines && !strings.Contains(fd.Doc.Text(), longReason) {
				t.Errorf("%s: %s is %d lines (limit %d): split it into named steps, or give the reason in its doc comment (%q)", fset.Position(fd.Pos()), fd.Name.Name, n, maxFuncLines, longReason)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
