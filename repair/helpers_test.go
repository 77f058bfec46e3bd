//go:build unix

package repair

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// The helper process: the test binary re-executed to run Apply (or
// Restore) with the fault hook, so that a SIGKILL ends it mid-way.
const (
	envHelper = "RAFTCTL_REPAIR_TEST_HELPER"
	envPlan   = "RAFTCTL_REPAIR_TEST_PLAN"
	envBackup = "RAFTCTL_REPAIR_TEST_BACKUP"
	// envFault is read here, in the test binary, as the command reads it:
	// the library never looks at the environment.
	envFault = "RAFTCTL_FAULT_AFTER"
)

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

func helperMain() int {
	n, _ := strconv.Atoi(os.Getenv(envFault))
	ctx := context.Background()
	switch os.Getenv(envHelper) {
	case "apply":
		b, err := os.ReadFile(os.Getenv(envPlan))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		var p Plan
		if err := json.Unmarshal(b, &p); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := Apply(ctx, &p, ApplyOptions{BackupDir: os.Getenv(envBackup), FaultAfter: n}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	case "restore":
		if _, err := RestoreWith(ctx, os.Getenv(envBackup), RestoreOptions{FaultAfter: n}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	return 0
}

// runHelper runs the helper process and reports whether SIGKILL ended it.
func runHelper(t *testing.T, mode, planFile, backupDir string, fault int) (killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envPlan+"="+planFile, envBackup+"="+backupDir, envFault+"="+strconv.Itoa(fault))
	out, err := cmd.CombinedOutput()
	if err == nil {
		return false
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Fatalf("helper %s (fault %d): %v\n%s", mode, fault, err, out)
	return false
}

// writeGroup writes a group with etcd's wal and snap packages and returns
// it as discovery finds it.
func writeGroup(t *testing.T, spec fixture.GroupSpec) (inspect.Group, *fixture.Written) {
	t.Helper()
	if spec.Dir == "" {
		spec.Dir = filepath.Join(t.TempDir(), "g")
	}
	w, err := fixture.WriteGroup(spec)
	if err != nil {
		t.Fatal(err)
	}
	return discover(t, spec.Dir), w
}

func discover(t *testing.T, dir string) inspect.Group {
	t.Helper()
	gs, err := inspect.Discover([]string{dir}, inspect.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 {
		t.Fatalf("%s: %d groups", dir, len(gs))
	}
	return gs[0]
}

// copyGroup copies a group's directory tree.
func copyGroup(t *testing.T, g inspect.Group, dst string) inspect.Group {
	t.Helper()
	if err := fixture.CopyDir(g.Dir, dst); err != nil {
		t.Fatal(err)
	}
	return discover(t, dst)
}

// fileSums maps every file under dir (relative path) to its SHA-256 and
// mode, leaving out the backups.
func fileSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == BackupDirName {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel != "." {
				out[rel+"/"] = fi.Mode().String()
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(s[:]) + " " + fi.Mode().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSums(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: got %q, want %q", k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected (%s)", k, v))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%s:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// etcdState is what etcd reads from a WAL at its newest valid snapshot.
type etcdState struct {
	Snap *walpb.Snapshot
	HS   *raftpb.HardState
	Ents []*raftpb.Entry
}

func readAll(t *testing.T, walDir string) etcdState {
	t.Helper()
	st, err := readAllErr(walDir)
	if err != nil {
		t.Fatalf("etcd ReadAll %s: %v", walDir, err)
	}
	return st
}

func readAllErr(walDir string) (etcdState, error) {
	lg := zap.NewNop()
	snaps, err := wal.ValidSnapshotEntries(lg, walDir)
	if err != nil {
		return etcdState{}, err
	}
	s := &walpb.Snapshot{Index: proto.Uint64(0), Term: proto.Uint64(0)}
	if len(snaps) > 0 {
		s = snaps[len(snaps)-1]
	}
	w, err := wal.OpenForRead(lg, walDir, s)
	if err != nil {
		return etcdState{}, err
	}
	defer w.Close()
	_, hs, ents, err := w.ReadAll()
	if err != nil {
		return etcdState{}, err
	}
	return etcdState{Snap: &walpb.Snapshot{Index: s.Index, Term: s.Term}, HS: hs, Ents: ents}, nil
}

func sameEtcdState(t *testing.T, what string, got, want etcdState) {
	t.Helper()
	if got.Snap.GetIndex() != want.Snap.GetIndex() || got.Snap.GetTerm() != want.Snap.GetTerm() {
		t.Fatalf("%s: snapshot %d/%d, want %d/%d", what, got.Snap.GetIndex(), got.Snap.GetTerm(), want.Snap.GetIndex(), want.Snap.GetTerm())
	}
	if !proto.Equal(got.HS, want.HS) {
		t.Fatalf("%s: HardState %v, want %v", what, got.HS, want.HS)
	}
	if len(got.Ents) != len(want.Ents) {
		t.Fatalf("%s: %d entries, want %d", what, len(got.Ents), len(want.Ents))
	}
	for i := range got.Ents {
		if !proto.Equal(got.Ents[i], want.Ents[i]) {
			t.Fatalf("%s: entry %d differs: %v, want %v", what, i, got.Ents[i], want.Ents[i])
		}
	}
}

// detect is a minimal stand-in for verification: the repairable
// conditions, found from what the planner itself reads.
func detect(t *testing.T, g inspect.Group) []inspect.Finding {
	t.Helper()
	st, err := readState(context.Background(), g, readInput{})
	if err != nil {
		t.Fatal(err)
	}
	var out []inspect.Finding
	add := func(code string, sev inspect.Severity, file string, off int64) {
		out = append(out, inspect.Finding{Code: code, Severity: sev, File: file, Offset: off})
	}
	l := st.log
	// A torn write followed by empty segments only is a torn tail.
	complete := l.Stop == nil
	if l.Stop != nil {
		tail := l.Stop.Kind == inspect.KindTorn
		for k := l.Stop.Segment + 1; k < len(st.segs) && tail; k++ {
			tail = emptyFile(t, st.segs[k].Path)
		}
		if tail {
			complete = true
			add(inspect.CodeTornTail, inspect.SeverityWarning, l.Stop.Path, l.Stop.Offset)
			for k := l.Stop.Segment + 1; k < len(st.segs); k++ {
				add(inspect.CodeEmptySegment, inspect.SeverityWarning, st.segs[k].Path, 0)
			}
		} else {
			add(inspect.CodeCRCMismatch, inspect.SeverityError, l.Stop.Path, l.Stop.Offset)
		}
	}
	for k, ss := range l.Segments {
		if ss.Read && ss.Records == 0 && (l.Stop == nil || l.Stop.Segment != k) {
			add(inspect.CodeEmptySegment, inspect.SeverityWarning, ss.Path, 0)
		}
		if !ss.Canonical {
			add(inspect.CodeSegmentName, inspect.SeverityWarning, ss.Path, -1)
		}
	}
	for _, sf := range st.snaps {
		if !sf.OK {
			add(inspect.CodeSnapshotCorrupt, inspect.SeverityError, sf.Path, -1)
			continue
		}
		ref := false
		for _, r := range l.Snapshots {
			ref = ref || (r.Index == sf.Index && r.Term == sf.Term)
		}
		if !ref && complete {
			add(inspect.CodeSnapshotOrphan, inspect.SeverityWarning, sf.Path, -1)
		}
	}
	return out
}

// emptyFile reports whether a segment holds no record (size 0 or a zero
// length word first).
func emptyFile(t *testing.T, p string) bool {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b[:min(8, len(b))] {
		if c != 0 {
			return false
		}
	}
	return true
}

func codes(fs []inspect.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	sort.Strings(out)
	return out
}

func kinds(acts []Action) []string {
	var out []string
	for _, a := range acts {
		out = append(out, string(a.Kind)+":"+filepath.Base(a.Path))
	}
	return out
}

// segPaths lists a group's segment paths in order.
func segPaths(t *testing.T, g inspect.Group) []string {
	t.Helper()
	segs, _, err := inspect.ListSegments(g.WALDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range segs {
		out = append(out, s.Path)
	}
	return out
}

func lastSegment(t *testing.T, g inspect.Group) string {
	t.Helper()
	p := segPaths(t, g)
	return p[len(p)-1]
}

func planJSON(t *testing.T, p *Plan, file string) {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fileutilTryLock takes the lock etcd takes on a segment it writes.
func fileutilTryLock(p string) (*fileutil.LockedFile, error) {
	return fileutil.TryLockFile(p, os.O_RDWR, fileutil.PrivateFileMode)
}

// flockEx takes an exclusive flock, as etcd does where OFD locks are
// missing.
func flockEx(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }
