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

// wireUsers are the packages above inspect's wire layer: they read WAL
// records through inspect's typed streams (ReadLog, EffectiveEntries,
// WalkRaw, RaftEntry, RaftConfState, ConfChange), never by decoding
// record bytes themselves.
var wireUsers = map[string]bool{"cmd": true, "repair": true, "migrate": true}

// wireNames are inspect's wire-level names: the record types and the
// decoders of record payloads. cmd, repair and migrate must not use them
// (most are unexported now; the list keeps them from coming back).
var wireNames = map[string]bool{
	"EntryRecord": true, "StateRecord": true, "SnapshotRecord": true, "MetadataRecord": true, "CRCRecord": true,
	"ParseEntry": true, "ParseHardState": true, "ParseWALSnapshot": true,
	"Records": true, "NewScanner": true, "Scanner": true, "ScanOptions": true,
}

// recordPackages are the packages of the messages that WAL records,
// snapshot files and entries' payloads hold; decoding them is inspect's
// job.
var recordPackages = map[string]bool{
	"go.etcd.io/etcd/api/v3/etcdserverpb":                  true,
	"go.etcd.io/raft/v3/raftpb":                            true,
	"go.etcd.io/etcd/server/v3/storage/wal/walpb":          true,
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap/snappb": true,
}

// bannedCalls are functions outside raftctl that read record bytes:
// import path and name.
var bannedCalls = map[[2]string]string{
	{"go.etcd.io/etcd/server/v3/etcdserver/api/snap", "Read"}:    "reads a snapshot file (inspect.ListSnapFiles, WALSnapshot.RaftConfState)",
	{"go.etcd.io/etcd/server/v3/etcdserver/api/snap", "Load"}:    "reads a snapshot file (inspect.ListSnapFiles, WALSnapshot.RaftConfState)",
	{"go.etcd.io/etcd/server/v3/etcdserver/api/snap", "ReadAll"}: "reads a snapshot file",
	{"go.etcd.io/etcd/server/v3/storage/wal", "ReadAll"}:         "decodes WAL records",
}

// TestImportRules fails when a package imports a layer above it, when
// anything but main imports cmd, or when cmd, repair or migrate decode WAL
// records or snapshot files themselves: when they use inspect's wire-level
// names, call proto.Unmarshal into a raftpb, walpb, snappb or etcdserverpb
// message (or into something whose type this check cannot tell), or call
// etcd's readers of record bytes (see wireViolations).
func TestImportRules(t *testing.T) {
	walkSources(t, func(path, dir, top string, f *ast.File) {
		if wireUsers[top] {
			for _, v := range wireViolations(f) {
				t.Errorf("%s: %s", path, v)
			}
		}
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
	})
}

// walkSources parses every non-test Go file of the module (testdata
// excluded) and calls fn with its path, directory and top-level folder.
func walkSources(t *testing.T, fn func(path, dir, top string, f *ast.File)) {
	t.Helper()
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
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		top, _, _ := strings.Cut(dir, "/")
		fn(path, dir, top, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// importNames maps the names a file's imports are known by to their paths.
func importNames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if strings.HasPrefix(name, "v") && strings.Count(p, "/") > 0 {
			if _, err := strconv.Atoi(name[1:]); err == nil { // a major version suffix
				q := strings.TrimSuffix(p, "/"+name)
				name = q[strings.LastIndex(q, "/")+1:]
			}
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		m[name] = p
	}
	return m
}

// wireViolations lists what f does that only inspect may do.
func wireViolations(f *ast.File) []string {
	imports := importNames(f)
	var out []string
	// The types of a function's variables, as declared by var or :=, by
	// name (good enough for the checks below: a name declared twice with
	// different types counts with both).
	varTypes := map[string][]ast.Expr{}
	localTypes := map[string]bool{} // the file's own types
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.TypeSpec:
			localTypes[n.Name.Name] = true
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if n.Type != nil {
					varTypes[name.Name] = append(varTypes[name.Name], n.Type)
				} else if i < len(n.Values) {
					varTypes[name.Name] = append(varTypes[name.Name], n.Values[i])
				}
			}
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE && len(n.Lhs) == len(n.Rhs) {
				for i, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						varTypes[id.Name] = append(varTypes[id.Name], n.Rhs[i])
					}
				}
			}
		}
		return true
	})
	// recordType says whether e (a type, a composite literal, new(T), &x)
	// names a message of a record package, and whether it could tell.
	var recordType func(e ast.Expr, depth int) (bool, bool)
	recordType = func(e ast.Expr, depth int) (bool, bool) {
		if depth > 8 {
			return false, false
		}
		switch e := e.(type) {
		case *ast.ParenExpr:
			return recordType(e.X, depth+1)
		case *ast.StarExpr:
			return recordType(e.X, depth+1)
		case *ast.UnaryExpr:
			return recordType(e.X, depth+1)
		case *ast.CompositeLit:
			return recordType(e.Type, depth+1)
		case *ast.CallExpr:
			if id, ok := e.Fun.(*ast.Ident); ok && id.Name == "new" && len(e.Args) == 1 {
				return recordType(e.Args[0], depth+1)
			}
			return false, false
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok {
				if p, ok := imports[x.Name]; ok {
					return recordPackages[p], true
				}
			}
			return false, false
		case *ast.Ident:
			if localTypes[e.Name] {
				return false, true
			}
			decls := varTypes[e.Name]
			if len(decls) == 0 {
				return false, false
			}
			for _, d := range decls {
				if rec, known := recordType(d, depth+1); rec || !known {
					return rec, known
				}
			}
			return false, true
		}
		return false, false
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			x, ok := n.X.(*ast.Ident)
			if !ok {
				return true
			}
			p := imports[x.Name]
			if p == module+"/inspect" && wireNames[n.Sel.Name] {
				out = append(out, "uses inspect."+n.Sel.Name+": decoding records is inspect's job (use WalkRaw, EffectiveEntries or ReadLog)")
			}
			if why, ok := bannedCalls[[2]string{p, n.Sel.Name}]; ok {
				out = append(out, "calls "+x.Name+"."+n.Sel.Name+", which "+why+": only inspect reads record bytes")
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Unmarshal" || len(n.Args) != 2 {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok || imports[x.Name] != "google.golang.org/protobuf/proto" {
				return true
			}
			if rec, known := recordType(n.Args[1], 0); rec || !known {
				out = append(out, "calls proto.Unmarshal into a raft record's message (or one this check cannot tell): only inspect decodes records (use Record.RaftEntry, WALSnapshot.RaftConfState, Entry.ConfChange)")
			}
		}
		return true
	})
	return out
}

// TestWireViolations: the check of TestImportRules finds what cmd, repair and
// migrate did before inspect offered typed streams, and lets the typed
// calls pass.
func TestWireViolations(t *testing.T) {
	const header = `package p

import (
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/raft/v3/raftpb"
	wpb "go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"google.golang.org/protobuf/proto"
	"github.com/cespare/xxhash/v2"

	"github.com/raftctl/raftctl/inspect"
)

`
	tests := []struct {
		name string
		body string
		want int
	}{
		{"record type and decoder", `func f(r *inspect.Record, e *inspect.Entry) { if r.Type == inspect.EntryRecord { inspect.ParseEntry(r.Data, e) } }`, 2},
		{"raw walk of old", `func f() { inspect.Records(nil, nil, nil, nil); _, _ = inspect.ParseHardState(nil); _, _ = inspect.ParseWALSnapshot(nil) }`, 3},
		{"unmarshal into a literal", `func f(b []byte) { pe := &raftpb.Entry{}; _ = proto.Unmarshal(b, pe) }`, 1},
		{"unmarshal into a var", `func f(b []byte) { var cc raftpb.ConfChange; _ = proto.Unmarshal(b, &cc) }`, 1},
		{"unmarshal into new", `func f(b []byte) { _ = proto.Unmarshal(b, new(wpb.Snapshot)) }`, 1},
		{"unmarshal into an unknown", `func f(b []byte, m proto.Message) { _ = proto.Unmarshal(b, m) }`, 1},
		{"snap.Read", `func f() { _, _ = snap.Read(nil, "x") }`, 1},
		{"typed calls", `func f(r *inspect.Record, s *inspect.WALSnapshot, e *inspect.Entry) {
	_, _ = r.RaftEntry(); _, _ = s.RaftConfState(""); _, _ = e.ConfChange()
	_ = inspect.WalkRaw(nil, nil, nil, func(*inspect.RawRecord) error { return nil })
	_ = &raftpb.HardState{Term: proto.Uint64(1)}; _ = xxhash.New()
}`, 0},
		{"unmarshal of something else", `type msg struct{ proto.Message }
func f(b []byte) { var m msg; _ = proto.Unmarshal(b, &m) }`, 0},
	}
	for _, tt := range tests {
		f, err := parser.ParseFile(token.NewFileSet(), tt.name+".go", header+tt.body, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if got := wireViolations(f); len(got) != tt.want {
			t.Errorf("%s: %d violations, want %d: %q", tt.name, len(got), tt.want, got)
		}
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
