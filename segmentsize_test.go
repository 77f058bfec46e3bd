package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// segmentSizeExceptions are the files allowed to assign etcd's
// wal.SegmentSizeBytes themselves, with why.
var segmentSizeExceptions = map[string]string{
	// startMember runs only in a child process the test starts (the test
	// binary re-executed as one etcd member), alone in that process.
	"cmd/etcd_recover_test.go": "child process",
}

// TestSegmentSizeGuard fails on any assignment to (or address taken of)
// etcd's process-wide wal.SegmentSizeBytes outside repair/durable, test
// files included: every writer in the module changes it through
// durable.WithSegmentSize (or durable.LockSegmentSize) under one mutex,
// since tests run in parallel with the code they test. The only
// exceptions are listed in segmentSizeExceptions. The fixtures under
// testdata are checked too.
func TestSegmentSizeGuard(t *testing.T) {
	const walPkg = "go.etcd.io/etcd/server/v3/storage/wal"
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		slash := filepath.ToSlash(path)
		if !strings.HasSuffix(path, ".go") || strings.HasPrefix(slash, durablePkg+"/") || segmentSizeExceptions[slash] != "" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		name := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == walPkg {
				name = "wal"
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" {
			return nil
		}
		checked++
		isVar := func(e ast.Expr) bool {
			sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "SegmentSizeBytes" {
				return false
			}
			id, ok := sel.X.(*ast.Ident)
			return ok && id.Name == name
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var bad ast.Expr
			switch n := n.(type) {
			case *ast.AssignStmt:
				for _, l := range n.Lhs {
					if isVar(l) {
						bad = l
					}
				}
			case *ast.IncDecStmt:
				if isVar(n.X) {
					bad = n.X
				}
			case *ast.UnaryExpr:
				if n.Op == token.AND && isVar(n.X) {
					bad = n.X
				}
			}
			if bad != nil {
				t.Errorf("%s: changes wal.SegmentSizeBytes outside %s: use durable.WithSegmentSize", fset.Position(bad.Pos()), durablePkg)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no file imports etcd's wal package: the walk checked nothing")
	}
}
