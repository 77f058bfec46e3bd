package commitlog_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/migrate/commitlog"
)

// writeTree writes files at slash-separated relative paths.
func writeTree(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fileNames(d *commitlog.Dir) string {
	var names []string
	for _, f := range d.Files {
		names = append(names, f.Name)
	}
	return strings.Join(names, " ")
}

// Every name the original server's strconv.ParseInt(suffix, 16, 64) refuses,
// and every file it accepted but never replayed, is an error naming the
// file when it holds data, and a warning when it is empty.
func TestUndecidedNames(t *testing.T) {
	for _, c := range []struct {
		name, reason string
	}{
		{"dgraph-0x1f.log", "0x prefix"},
		{"dgraph-0X1F.log", "0x prefix"},
		{"dgraph-8000000000000000.log", "overflows int64"},
		{"dgraph-foo.log", "not a hex end timestamp"},
		{"dgraph-.log", "not a hex end timestamp"},
		{"dgraph-x-1f.log", "not a hex end timestamp"},
		{"dgraph--1f.log", "negative end timestamp"},
		{"old/dgraph-current.log", "current file in a subdirectory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTree(t, map[string][]byte{
				"dgraph-5.log":       rec(5, 1),
				c.name:               rec(6, 2),
				"dgraph-current.log": rec(7, 3),
			})
			_, err := commitlog.Open(dir)
			var ue *commitlog.UndecidedError
			if !errors.Is(err, commitlog.ErrUndecided) || !errors.As(err, &ue) {
				t.Fatalf("err %v", err)
			}
			if len(ue.Files) != 1 || ue.Files[0].Name != c.name || !strings.Contains(ue.Files[0].Reason, c.reason) ||
				ue.Files[0].Size != int64(len(rec(6, 2))) {
				t.Fatalf("undecided %+v", ue.Files)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, filepath.FromSlash(c.name))) {
				t.Fatalf("error does not name the file: %v", err)
			}

			// Empty, it holds nothing: a warning.
			if err := os.Truncate(filepath.Join(dir, filepath.FromSlash(c.name)), 0); err != nil {
				t.Fatal(err)
			}
			d, err := commitlog.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !hasWarning(d.Warnings, commitlog.CodeUndecidedEmpty, c.name, -1) || fileNames(d) != "dgraph-5.log dgraph-current.log" {
				t.Fatalf("files %s, warnings %v", fileNames(d), d.Warnings)
			}
		})
	}
}

// Names ParseInt accepts are read, even the ones the writer never made.
func TestAcceptedNames(t *testing.T) {
	dir := writeTree(t, map[string][]byte{
		"dgraph-+1f.log":     rec(0x1f, 1),
		"dgraph-00A.log":     rec(0xa, 2),
		"dgraph-0.log":       nil,
		"dgraph-current.log": rec(0x20, 3),
	})
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fileNames(d); got != "dgraph-0.log dgraph-00A.log dgraph-+1f.log dgraph-current.log" {
		t.Fatalf("order %s", got)
	}
	for _, f := range []string{"dgraph-+1f.log", "dgraph-00A.log"} {
		if !hasWarning(d.Warnings, commitlog.CodeNonCanonicalName, f, -1) {
			t.Errorf("no noncanonical-name warning for %s: %v", f, d.Warnings)
		}
	}
}

// Several undecided files are all named at once, the good files of the tree
// notwithstanding.
func TestUndecidedListsAll(t *testing.T) {
	dir := writeTree(t, map[string][]byte{
		"dgraph-foo.log":        rec(1, 1),
		"a/b/dgraph-0x2.log":    rec(2, 2),
		"a/dgraph-current.log":  rec(3, 3),
		"dgraph-current.log":    rec(4, 4),
		"other/dgraph-3.log":    rec(3, 5),
		"other/mutations-1.log": rec(1, 6),
	})
	_, err := commitlog.Open(dir)
	var ue *commitlog.UndecidedError
	if !errors.As(err, &ue) {
		t.Fatalf("err %v", err)
	}
	var names []string
	for _, f := range ue.Files {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "a/b/dgraph-0x2.log a/dgraph-current.log dgraph-foo.log" {
		t.Fatalf("undecided %s", got)
	}
}

// --include reads an undecided file where its last record's timestamp puts
// it, or where the operator says; --skip leaves any file out and lists it.
func TestIncludeSkip(t *testing.T) {
	files := map[string][]byte{
		"dgraph-10.log":      concat(rec(0x5, 1), rec(0x10, 2)),
		"dgraph-0x18.log":    concat(rec(0x11, 3), rec(0x18, 4)),
		"dgraph-30.log":      rec(0x30, 5),
		"old/dgraph-foo.log": rec(0x31, 6),
		"dgraph-current.log": rec(0x40, 7),
	}
	dir := writeTree(t, files)
	d, err := commitlog.OpenWith(dir, commitlog.OpenOptions{
		Include: []commitlog.Include{{File: "dgraph-0x18.log"}},
		Skip:    []string{"old/dgraph-foo.log"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fileNames(d); got != "dgraph-10.log dgraph-0x18.log dgraph-30.log dgraph-current.log" {
		t.Fatalf("order %s", got)
	}
	if f := d.Files[1]; !f.Included || f.EndTS != 0x18 {
		t.Fatalf("included %+v", f)
	}
	if len(d.Skipped) != 1 || d.Skipped[0].Name != "old/dgraph-foo.log" || d.Skipped[0].Size != int64(len(files["old/dgraph-foo.log"])) {
		t.Fatalf("skipped %+v", d.Skipped)
	}

	// An explicit position; a path given with ./ is the same file.
	d, err = commitlog.OpenWith(dir, commitlog.OpenOptions{
		Include: []commitlog.Include{{File: "./dgraph-0x18.log", EndTS: 0x35, HasEndTS: true}, {File: "old/dgraph-foo.log"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fileNames(d); got != "dgraph-10.log dgraph-30.log old/dgraph-foo.log dgraph-0x18.log dgraph-current.log" {
		t.Fatalf("order %s", got)
	}
	res := readDir(t, d, commitlog.ReaderOptions{Decode: true})
	if res.err != nil || len(res.recs) != 7 {
		t.Fatalf("%d records, %v", len(res.recs), res.err)
	}
	if !hasWarning(res.warnings, commitlog.CodeNameTSMismatch, "dgraph-0x18.log", -1) {
		t.Fatalf("warnings %v", res.warnings)
	}

	// Skipping a file that would be read is a choice too.
	d, err = commitlog.OpenWith(dir, commitlog.OpenOptions{Skip: []string{"dgraph-30.log", "dgraph-0x18.log", "old/dgraph-foo.log"}})
	if err != nil || fileNames(d) != "dgraph-10.log dgraph-current.log" || len(d.Skipped) != 3 {
		t.Fatalf("%v %s %+v", err, fileNames(d), d)
	}

	for _, c := range []struct {
		name string
		opts commitlog.OpenOptions
		want string
	}{
		{"no such file", commitlog.OpenOptions{Skip: []string{"dgraph-0x18.log", "old/dgraph-foo.log", "nope.log"}}, "no file"},
		{"include a file read anyway", commitlog.OpenOptions{Include: []commitlog.Include{{File: "dgraph-30.log"}}}, "read anyway"},
		{"both", commitlog.OpenOptions{Include: []commitlog.Include{{File: "dgraph-0x18.log"}}, Skip: []string{"dgraph-0x18.log"}}, "both included and skipped"},
	} {
		_, err := commitlog.OpenWith(dir, c.opts)
		if !errors.Is(err, commitlog.ErrSelection) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v", c.name, err)
		}
	}

	// A file whose last record cannot be found needs an explicit position.
	if err := os.WriteFile(filepath.Join(dir, "dgraph-0x18.log"), concat(rec(0x11, 3), rec(0x18, 4)[:20]), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = commitlog.OpenWith(dir, commitlog.OpenOptions{Include: []commitlog.Include{{File: "dgraph-0x18.log"}}, Skip: []string{"old/dgraph-foo.log"}})
	if !errors.Is(err, commitlog.ErrSelection) || !strings.Contains(err.Error(), "explicitly") {
		t.Fatalf("err %v", err)
	}
}

// A symbolic link to the instance directory is followed.
func TestSymlinkedDir(t *testing.T) {
	dir := writeTree(t, map[string][]byte{"dgraph-5.log": rec(5, 1), "dgraph-current.log": rec(6, 2)})
	link := filepath.Join(t.TempDir(), "m0")
	if err := os.Symlink(dir, link); err != nil {
		t.Skip(err)
	}
	d, err := commitlog.Open(link)
	if err != nil || fileNames(d) != "dgraph-5.log dgraph-current.log" {
		t.Fatalf("%v %+v", err, d)
	}
}

func readDir(t testing.TB, d *commitlog.Dir, opts commitlog.ReaderOptions) readResult {
	t.Helper()
	r := d.NewReader(opts)
	defer r.Close()
	var res readResult
	for r.Next() {
		rc := r.Record()
		rc.Raw, rc.Payload = nil, nil
		res.recs = append(res.recs, rc)
	}
	res.err = r.Err()
	res.warnings = r.Warnings()
	return res
}
