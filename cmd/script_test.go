package cmd_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/raftctl/raftctl/cmd"
	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
	"github.com/raftctl/raftctl/testdata/fixture"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"raftctl": func() { os.Exit(cmd.Main()) },
	})
}

// TestScripts runs the txtar scripts in testdata/script: one per command
// and exit code. UPDATE_SCRIPTS=1 rewrites their expected output.
func TestScripts(t *testing.T) {
	sample, err := filepath.Abs("../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"cpsample": cmdCopySample(sample),
		"corrupt":  cmdCorrupt,
		"sums":     cmdSums,
		"mklegacy": cmdMkLegacy,
	}
	for name, f := range migrateScriptCmds {
		cmds[name] = f
	}
	for name, f := range layoutScriptCmds {
		cmds[name] = f
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
		Setup: func(env *testscript.Env) error {
			env.Setenv("SAMPLE", sample)
			env.Setenv("NO_COLOR", "")
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: cmds,
	})
}

// cpsample DIR copies the shipped sample data to DIR (mutating commands
// never touch the original).
func cmdCopySample(sample string) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: cpsample DIR")
		}
		dst := ts.MkAbs(args[0])
		ts.Check(fixture.CopyDir(sample, dst))
	}
}

// corrupt flip FILE OFFSET | zero FILE OFFSET LEN | truncate FILE SIZE |
// write FILE TEXT (byte surgery for scripts).
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: corrupt flip|zero|truncate FILE N [LEN]")
	}
	path := ts.MkAbs(args[1])
	n, err := strconv.ParseInt(args[2], 0, 64)
	ts.Check(err)
	switch args[0] {
	case "flip":
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		ts.Check(err)
		defer f.Close()
		b := make([]byte, 1)
		_, err = f.ReadAt(b, n)
		ts.Check(err)
		b[0] ^= 0xff
		_, err = f.WriteAt(b, n)
		ts.Check(err)
	case "zero":
		if len(args) != 4 {
			ts.Fatalf("usage: corrupt zero FILE OFFSET LEN")
		}
		l, err := strconv.ParseInt(args[3], 0, 64)
		ts.Check(err)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		ts.Check(err)
		defer f.Close()
		_, err = f.WriteAt(make([]byte, l), n)
		ts.Check(err)
	case "truncate":
		ts.Check(os.Truncate(path, n))
	case "tear":
		// Zero the last sector of the N-th record from the end (1 = the
		// last), as a crash during an append to a preallocated segment
		// leaves it: the file keeps its size.
		off, size := recordFromEnd(ts, path, int(n))
		end := off + size
		from := max(off+8, (end-1)/512*512)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		ts.Check(err)
		defer f.Close()
		_, err = f.WriteAt(make([]byte, end-from), from)
		ts.Check(err)
	case "cut":
		// Cut the file in the middle of its N-th record from the end, as
		// an interrupted copy leaves it.
		ts.Check(os.Truncate(path, recordOffsetFromEnd(ts, path, int(n))))
	case "flip-record":
		// Flip a byte inside the N-th record from the end.
		off := recordOffsetFromEnd(ts, path, int(n))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		ts.Check(err)
		defer f.Close()
		b := make([]byte, 1)
		_, err = f.ReadAt(b, off)
		ts.Check(err)
		b[0] ^= 0xff
		_, err = f.WriteAt(b, off)
		ts.Check(err)
	default:
		ts.Fatalf("unknown corruption %q", args[0])
	}
}

// recordOffsetFromEnd finds the n-th record from the end of a segment and
// returns the offset of its middle (inside the record's data for all but
// tiny records).
func recordOffsetFromEnd(ts *testscript.TestScript, path string, n int) int64 {
	off, size := recordFromEnd(ts, path, n)
	return off + size/2
}

// recordFromEnd finds the n-th record from the end of a segment and
// returns its offset and frame size.
func recordFromEnd(ts *testscript.TestScript, path string, n int) (int64, int64) {
	fi, err := os.Stat(path)
	ts.Check(err)
	segs := []inspect.Segment{{Path: path, Name: filepath.Base(path), Size: fi.Size()}}
	l, err := inspect.ReadLog(context.Background(), segs)
	ts.Check(err)
	type pos struct{ off, size int64 }
	var recs []pos
	ts.Check(inspect.WalkRaw(context.Background(), segs, l, func(r *inspect.RawRecord) error {
		recs = append(recs, pos{r.Offset, r.Length})
		return nil
	}))
	if len(recs) < n || n < 1 {
		ts.Fatalf("%s holds %d records, want at least %d", path, len(recs), n)
	}
	r := recs[len(recs)-n]
	return r.off, r.size
}

// mklegacy DIR RECORDS [TORN_BYTES] writes a legacy commit-log instance
// directory with RECORDS records (and a torn record of TORN_BYTES bytes at
// the end).
func cmdMkLegacy(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: mklegacy DIR RECORDS [TORN_BYTES]")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	cfg := legacytest.Config{Records: n, Seed: 7, RotateLimit: 4096, EqualTSEvery: 5}
	if len(args) > 2 {
		cfg.TornBytes, err = strconv.Atoi(args[2])
		ts.Check(err)
	}
	_, err = legacytest.Generate(ts.MkAbs(args[0]), cfg)
	ts.Check(err)
}

// sums DIR prints the SHA-256 of every file under DIR, sorted, so a script
// can prove a command changed nothing.
func cmdSums(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: sums DIR")
	}
	root := ts.MkAbs(args[0])
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		lines = append(lines, fmt.Sprintf("%s %s", hex.EncodeToString(sum[:8]), filepath.ToSlash(rel)))
		return nil
	})
	ts.Check(err)
	sort.Strings(lines)
	for _, l := range lines {
		ts.Logf("%s", l)
		fmt.Fprintln(ts.Stdout(), l)
	}
}
