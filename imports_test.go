package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/raftctl/raftctl"

// importRules are the layers of the house (see ARCHITECTURE.md): for each
// package directory, the raftctl packages its non-test files must not
// import.
var importRules = map[string][]string{
	"format":  {"cmd", "inspect", "repair", "migrate"},
	"inspect": {"cmd", "format", "repair", "migrate"},
	"repair":  {"cmd", "format", "migrate"},
	"migrate": {"cmd", "format", "repair"},
}

// TestImportRules fails when a package imports a layer above it, or when
// anything but main imports cmd.
func TestImportRules(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		top, _, _ := strings.Cut(dir, "/")
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			rest, ok := strings.CutPrefix(p, module+"/")
			if !ok {
				continue
			}
			target, _, _ := strings.Cut(rest, "/")
			if durableRule(t, path, dir, rest) {
				target = durablePkg
			}
			if target == "cmd" && dir != "." {
				t.Errorf("%s imports %s: nothing but main imports cmd", path, p)
			}
			for _, banned := range importRules[top] {
				if target == banned {
					t.Errorf("%s imports %s: %s must not import %s", path, p, top, banned)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// durablePkg is the one durable-write toolkit (see ARCHITECTURE.md): repair
// and migrate (and the fixtures) import it, so an import of it does not
// count as one of repair (migrate must not import repair itself), and it
// imports no raftctl package.
const durablePkg = "repair/durable"

// durableRule reports whether the raftctl package rest (an import of path,
// in dir) is repair/durable, and fails when repair/durable itself imports
// a raftctl package.
func durableRule(t *testing.T, path, dir, rest string) bool {
	if dir == durablePkg || strings.HasPrefix(dir, durablePkg+"/") {
		t.Errorf("%s imports %s/%s: %s imports no raftctl package", path, module, rest, durablePkg)
	}
	return rest == durablePkg || strings.HasPrefix(rest, durablePkg+"/")
}
