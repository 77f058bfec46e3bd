package migrate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/migrate"
	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

// gen writes a legacy directory at root/rel with its manifest.
func gen(t *testing.T, root, rel string, records int, seed uint64) *legacytest.Fixture {
	t.Helper()
	fx, err := legacytest.Generate(filepath.Join(root, rel), legacytest.Config{
		Records: records, Seed: seed, RotateLimit: 8 << 10, EqualTSEvery: 5, EmptyRotatedEvery: 3, KeepRecords: true, Manifest: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// checkGroup reads a group with etcd's reader and compares its normal
// entries with want.
func checkGroup(t *testing.T, group string, want [][]byte) {
	t.Helper()
	_, ents := readGroup(t, group)
	var got [][]byte
	for _, e := range ents {
		if e.GetType().String() == "EntryNormal" {
			got = append(got, e.GetData())
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", group, len(got), len(want))
	}
	if legacytest.ChecksumOf(got) != legacytest.ChecksumOf(want) {
		t.Fatalf("%s: entries differ from the records", group)
	}
}

func opts(src, out string) migrate.CommitlogOptions {
	return migrate.CommitlogOptions{Source: src, Out: out, Name: filepath.Base(src), SegmentSize: 64 << 10}
}

// Several sources: all written, each exactly its records; a later source
// that fails in any way leaves nothing at all.
func TestCommitlogAll(t *testing.T) {
	root := t.TempDir()
	a := gen(t, root, "a/m0", 400, 1)
	b := gen(t, root, "b/m1", 300, 2)
	out := filepath.Join(t.TempDir(), "out")
	rep, err := migrate.CommitlogAll(context.Background(), []migrate.CommitlogOptions{opts(a.Dir, out), opts(b.Dir, out)})
	if err != nil {
		t.Fatal(err)
	}
	if w := rep.Written(); !slices.Equal(w, []string{filepath.Join(out, "m0"), filepath.Join(out, "m1")}) {
		t.Fatalf("written %v", w)
	}
	if rep.Migrations[0].Checksum != legacytest.ChecksumOf(a.Records) || rep.Migrations[1].Records != 300 {
		t.Fatalf("results %+v", rep.Migrations)
	}
	checkGroup(t, filepath.Join(out, "m0"), a.Records)
	checkGroup(t, filepath.Join(out, "m1"), b.Records)

	// Failures after a good first source.
	bad := gen(t, root, "c/m2", 200, 3)
	corrupt := gen(t, root, "d/m3", 200, 4)
	f := filepath.Join(corrupt.Dir, corrupt.Manifest.Files[0].Name)
	data, _ := os.ReadFile(f)
	copy(data[12:16], []byte{0xff, 0xff, 0xff, 0xff})
	os.WriteFile(f, data, 0o644)
	name, _ := bad.Manifest.Rotated(1)
	os.Rename(filepath.Join(bad.Dir, name), filepath.Join(bad.Dir, "dgraph-0x1.log"))
	dupe := gen(t, root, "e/m0", 10, 5)
	for _, c := range []struct {
		name   string
		second migrate.CommitlogOptions
		is     error
	}{
		{"undecided", opts(bad.Dir, ""), commitlog.ErrUndecided},
		{"corrupt", opts(corrupt.Dir, ""), commitlog.ErrCorrupt},
		{"duplicate name", opts(dupe.Dir, ""), migrate.ErrInvalidOptions},
		{"bad selection", func() migrate.CommitlogOptions {
			o := opts(b.Dir, "")
			o.Skip = []string{"nope.log"}
			return o
		}(), commitlog.ErrSelection},
	} {
		for _, dry := range []bool{false, true} {
			out := filepath.Join(t.TempDir(), "new")
			first, second := opts(a.Dir, out), c.second
			second.Out = out
			first.DryRun, second.DryRun = dry, dry
			rep, err := migrate.CommitlogAll(context.Background(), []migrate.CommitlogOptions{first, second})
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), second.Source) {
				t.Fatalf("%s (dry %v): err %v", c.name, dry, err)
			}
			if len(rep.Written()) != 0 {
				t.Fatalf("%s: written %v", c.name, rep.Written())
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s (dry %v): out left behind: %v", c.name, dry, err)
			}
		}
	}
}

// If a rename fails at the very end, the groups already renamed stay and
// the Report says which; nothing else is left.
func TestCommitlogAllPartialPublish(t *testing.T) {
	root := t.TempDir()
	a := gen(t, root, "a/m0", 100, 1)
	b := gen(t, root, "b/m1", 100, 2)
	out := t.TempDir()
	migrate.SetBeforePublish(t, func() { os.Mkdir(filepath.Join(out, "m1"), 0o755) })
	rep, err := migrate.CommitlogAll(context.Background(), []migrate.CommitlogOptions{opts(a.Dir, out), opts(b.Dir, out)})
	if !errors.Is(err, migrate.ErrExists) {
		t.Fatalf("err %v", err)
	}
	if w := rep.Written(); !slices.Equal(w, []string{filepath.Join(out, "m0")}) || len(rep.Migrations) != 2 || rep.Migrations[1].Written {
		t.Fatalf("written %v", w)
	}
	checkGroup(t, filepath.Join(out, "m0"), a.Records)
	if got := dirNames(t, out); !slices.Equal(got, []string{"m0", "m1"}) {
		t.Fatalf("out holds %v", got)
	}
	if got := dirNames(t, filepath.Join(out, "m1")); len(got) != 0 {
		t.Fatalf("m1 holds %v", got)
	}
}

// A hidden build directory left by a killed process is reported, on dry
// runs too, and never touched.
func TestCommitlogLeftovers(t *testing.T) {
	a := gen(t, t.TempDir(), "m0", 50, 1)
	out := t.TempDir()
	left := filepath.Join(out, ".m0.migrate-999999999-12345")
	os.MkdirAll(filepath.Join(left, "wal"), 0o755)
	os.WriteFile(filepath.Join(left, "wal", "0.wal"), make([]byte, 1000), 0o644)
	mine := filepath.Join(out, ".m9.migrate-"+itoa(os.Getpid())+"-1")
	os.Mkdir(mine, 0o755)
	os.Mkdir(filepath.Join(out, ".other"), 0o755)
	for _, dry := range []bool{true, false} {
		o := opts(a.Dir, out)
		o.DryRun = dry
		rep, err := migrate.CommitlogAll(context.Background(), []migrate.CommitlogOptions{o})
		if err != nil {
			t.Fatal(err)
		}
		want := []migrate.Leftover{
			{Path: left, Group: "m0", Size: 1000, PID: 999999999},
			{Path: mine, Group: "m9", PID: os.Getpid(), Running: true},
		}
		if !slices.Equal(rep.Leftovers, want) {
			t.Fatalf("dry %v: leftovers %+v", dry, rep.Leftovers)
		}
	}
	if _, err := os.Stat(filepath.Join(left, "wal", "0.wal")); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
