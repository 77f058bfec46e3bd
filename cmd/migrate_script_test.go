package cmd_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

// migrateScriptCmds are the script commands of the migrate scripts.
var migrateScriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"genlegacy":    cmdGenLegacy,
	"legacymv":     cmdLegacyMv,
	"checkwal":     cmdCheckWAL,
	"leftovers":    cmdLeftovers,
	"waitleftover": cmdWaitLeftover,
	"exits":        cmdExits,
}

// exits N CMD [ARGS...] runs CMD like exec and checks that its exit status
// is N; stdout and stderr are kept for the next assertions.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || neg {
		ts.Fatalf("usage: exits N CMD [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// genlegacy DIR RECORDS [torn=N] [empty=N] [rotate=N] [bytes=N] [seed=N]
// writes a legacy instance directory with the spec-exact generator
// (legacytest) and its manifest at DIR.manifest.json: every file in reading
// order, every complete record with its SHA-256. bytes=N writes records
// until N bytes instead of RECORDS records (give RECORDS 0).
func cmdGenLegacy(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: genlegacy DIR RECORDS [torn=N] [empty=N] [rotate=N] [bytes=N] [seed=N]")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	cfg := legacytest.Config{Records: n, Seed: 11, RotateLimit: 4096, EqualTSEvery: 7, Manifest: true}
	for _, a := range args[2:] {
		k, v, ok := strings.Cut(a, "=")
		x, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			ts.Fatalf("genlegacy: bad option %q", a)
		}
		switch k {
		case "torn":
			cfg.TornBytes = int(x)
		case "empty":
			cfg.EmptyRotatedEvery = int(x)
		case "rotate":
			cfg.RotateLimit = x
		case "bytes":
			cfg.Bytes = x
		case "seed":
			cfg.Seed = uint64(x)
		default:
			ts.Fatalf("genlegacy: unknown option %q", k)
		}
	}
	dir := ts.MkAbs(args[0])
	fx, err := legacytest.Generate(dir, cfg)
	ts.Check(err)
	ts.Check(fx.Manifest.WriteFile(dir + ".manifest.json"))
	fmt.Fprintf(ts.Stdout(), "%d records in %d files\n", fx.Manifest.Count, len(fx.Manifest.Files))
}

// legacymv DIR K NEWPATH moves the K-th rotated file of DIR (0 = the first
// read, per DIR.manifest.json) to DIR/NEWPATH, creating directories.
func cmdLegacyMv(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: legacymv DIR K NEWPATH")
	}
	dir := ts.MkAbs(args[0])
	m, err := legacytest.ReadManifest(dir + ".manifest.json")
	ts.Check(err)
	k, err := strconv.Atoi(args[1])
	ts.Check(err)
	name, err := m.Rotated(k)
	ts.Check(err)
	to := filepath.Join(dir, filepath.FromSlash(args[2]))
	ts.Check(os.MkdirAll(filepath.Dir(to), 0o755))
	ts.Check(os.Rename(filepath.Join(dir, name), to))
}

// checkwal GROUP SRC_DIR [without=K]... reads GROUP's WAL with etcd's own
// reader (wal.ReadAll, as a restarting server does) and checks that its
// normal entries are exactly the records of SRC_DIR.manifest.json, in
// order, byte for byte (SHA-256), without the K-th rotated files given,
// and that the HardState commits them all. It prints the count.
func cmdCheckWAL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: checkwal GROUP SRC_DIR [without=K]...")
	}
	m, err := legacytest.ReadManifest(ts.MkAbs(args[1]) + ".manifest.json")
	ts.Check(err)
	var without []string
	for _, a := range args[2:] {
		v, ok := strings.CutPrefix(a, "without=")
		k, err := strconv.Atoi(v)
		if !ok || err != nil {
			ts.Fatalf("checkwal: bad option %q", a)
		}
		name, err := m.Rotated(k)
		ts.Check(err)
		without = append(without, name)
	}
	want := m.Records(without...)
	w, err := wal.OpenForRead(zap.NewNop(), filepath.Join(ts.MkAbs(args[0]), "wal"), &walpb.Snapshot{})
	ts.Check(err)
	_, st, ents, err := w.ReadAll()
	w.Close()
	ts.Check(err)
	var got []*raftpb.Entry
	for _, e := range ents {
		if e.GetType() == raftpb.EntryNormal {
			got = append(got, e)
		}
	}
	if len(got) != len(want) {
		ts.Fatalf("checkwal: %d normal entries, the manifest has %d records", len(got), len(want))
	}
	for i, e := range got {
		sum := sha256.Sum256(e.GetData())
		if hex.EncodeToString(sum[:]) != want[i].SHA256 {
			ts.Fatalf("checkwal: entry %d (index %d) is not record %d of the manifest", i, e.GetIndex(), i)
		}
	}
	if last := ents[len(ents)-1].GetIndex(); st.GetCommit() != last {
		ts.Fatalf("checkwal: commit %d, last index %d", st.GetCommit(), last)
	}
	fmt.Fprintf(ts.Stdout(), "%d records match the manifest\n", len(got))
}

// leftovers DIR prints the hidden build directories of migrations in DIR.
func cmdLeftovers(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: leftovers DIR")
	}
	ents, err := os.ReadDir(ts.MkAbs(args[0]))
	if os.IsNotExist(err) {
		return
	}
	ts.Check(err)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".migrate-") {
			fmt.Fprintln(ts.Stdout(), e.Name())
		}
	}
}

// waitleftover DIR waits (up to a minute) until a hidden build directory in
// DIR holds a WAL segment: a migration is writing.
func cmdWaitLeftover(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitleftover DIR")
	}
	dir := ts.MkAbs(args[0])
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		segs, _ := filepath.Glob(filepath.Join(dir, ".*.migrate-*", "wal", "*.wal"))
		if len(segs) > 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	ts.Fatalf("waitleftover: no migration writing in %s after a minute", dir)
}
