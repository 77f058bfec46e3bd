//go:build unix

package repair

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// compactSpec is a group with about fifteen 4 KiB segments and a dozen
// snapshots.
func compactSpec() fixture.GroupSpec {
	return fixture.GroupSpec{Entries: 400, EntrySize: 100, SegmentSize: 4 << 10, SnapshotEvery: 30, Seed: 3, Bootstrap: true}
}

// etcdPurge computes independently what etcd would purge: the WAL holds
// locks on every segment, ReleaseLockTo(snapshot index) releases those
// before the last one named at or below it, and PurgeFile removes the
// oldest released ones while more than maxWAL remain; snapshot files are
// purged to the newest maxSnap by name.
func etcdPurge(t *testing.T, g inspect.Group, snapIndex uint64, maxWAL, maxSnap int) (segs, snaps []string) {
	t.Helper()
	all, _, err := inspect.ListSegments(g.WALDir)
	if err != nil {
		t.Fatal(err)
	}
	smaller := len(all) - 1
	for i, s := range all {
		if s.Index >= snapIndex {
			smaller = i - 1
			break
		}
	}
	for i := 0; i < smaller && len(all)-i > maxWAL; i++ {
		segs = append(segs, all[i].Path)
	}
	names := snapNames(t, g)
	for i := 0; i < len(names)-maxSnap; i++ {
		snaps = append(snaps, filepath.Join(g.SnapDir, names[i]))
	}
	return segs, snaps
}

func removedPaths(p *Plan) []string {
	var out []string
	for _, a := range p.Actions {
		if a.Kind == Remove {
			out = append(out, a.Path)
		}
	}
	sort.Strings(out)
	return out
}

func TestCompactPurge(t *testing.T) {
	ctx := context.Background()
	tmpl, w := writeGroup(t, compactSpec())
	last := w.Snapshots[len(w.Snapshots)-1]
	for _, tc := range []struct {
		name          string
		keepWAL, keep int
	}{
		{"defaults", DefaultKeepWAL, DefaultKeepSnapshots},
		{"keep-nothing", 0, 0},
		{"keep-two-segments", 2, 1},
		{"keep-everything", 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := copyGroup(t, tmpl, filepath.Join(t.TempDir(), "g"))
			before := fileSums(t, g.Dir)
			etcdBefore := readAll(t, g.WALDir)
			plan, err := PlanCompact(ctx, g, CompactOptions{KeepWAL: tc.keepWAL, KeepSnapshots: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Refusals) > 0 {
				t.Fatalf("refusals %+v", plan.Refusals)
			}
			if plan.Compact == nil || plan.Compact.Snapshot == nil || plan.Compact.Snapshot.Index != last.Index {
				t.Fatalf("compaction based on %+v, want the snapshot at %d", plan.Compact, last.Index)
			}
			wantSegs, wantSnaps := etcdPurge(t, g, last.Index, tc.keepWAL, max(tc.keep, 1))
			want := append(append([]string{}, wantSegs...), wantSnaps...)
			sort.Strings(want)
			if got := removedPaths(plan); !equalStrings(got, want) {
				t.Fatalf("removes\n%v\nwant (etcd's purge)\n%v", got, want)
			}
			res, err := Apply(ctx, plan, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if plan.Empty() {
				if res.BackupDir != "" {
					t.Fatal("a backup for nothing")
				}
				return
			}
			var reclaimed int64
			for _, a := range plan.Actions {
				reclaimed += a.Bytes
			}
			if res.BytesReclaimed != reclaimed || reclaimed == 0 {
				t.Fatalf("reclaimed %d, plan says %d", res.BytesReclaimed, reclaimed)
			}
			segs := segPaths(t, g)
			if len(segs) < min(tc.keepWAL, plan.Compact.SegmentsBefore) || len(segs) != plan.Compact.SegmentsAfter {
				t.Fatalf("%d segments left, keep %d, plan says %d", len(segs), tc.keepWAL, plan.Compact.SegmentsAfter)
			}
			if n := len(snapNames(t, g)); n != max(1, min(tc.keep, plan.Compact.SnapFilesBefore)) {
				t.Fatalf("%d snapshot files left, keep %d", n, tc.keep)
			}
			sameEtcdState(t, "etcd ReadAll after compaction", readAll(t, g.WALDir), etcdBefore)
			if err := openForWrite(g.WALDir); err != nil {
				t.Fatalf("etcd cannot open the compacted WAL: %v", err)
			}
			again, err := PlanCompact(ctx, g, CompactOptions{KeepWAL: tc.keepWAL, KeepSnapshots: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			if !again.Empty() {
				t.Fatalf("compacting again plans %v", kinds(again.Actions))
			}
			if _, err := Restore(ctx, res.BackupDir); err != nil {
				t.Fatal(err)
			}
			sameSums(t, "after restore", fileSums(t, g.Dir), before)
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rewriteSpec adds a leader change that overwrote uncommitted entries
// and leaves the last entries uncommitted.
func rewriteSpec() fixture.GroupSpec {
	s := compactSpec()
	s.Overwrite = []fixture.Overwrite{{FromIndex: 395, Term: 2, Count: 4}}
	return s
}

func TestCompactRewrite(t *testing.T) {
	ctx := context.Background()
	g, w := writeGroup(t, rewriteSpec())
	before := fileSums(t, g.Dir)
	etcdBefore := readAll(t, g.WALDir)
	opts := CompactOptions{KeepSnapshots: 2, Rewrite: true, SegmentSize: 4 << 10}
	plan, err := PlanCompact(ctx, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Refusals) > 0 || len(plan.Actions) == 0 || plan.Actions[0].Kind != Replace {
		t.Fatalf("plan %v refusals %+v notes %v", kinds(plan.Actions), plan.Refusals, plan.Notes)
	}
	last := w.Snapshots[len(w.Snapshots)-1]
	if plan.Compact.Snapshot.Index != last.Index || plan.Compact.Entries != int64(w.LastIndex-last.Index) {
		t.Fatalf("compact info %+v, want snapshot %d and %d entries", plan.Compact, last.Index, w.LastIndex-last.Index)
	}
	res, err := Apply(ctx, plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sameEtcdState(t, "etcd ReadAll after rewrite", readAll(t, g.WALDir), etcdBefore)
	if err := openForWrite(g.WALDir); err != nil {
		t.Fatalf("etcd cannot open the rewritten WAL: %v", err)
	}
	if res.BytesReclaimed <= 0 {
		t.Fatalf("reclaimed %d bytes", res.BytesReclaimed)
	}
	// The older snapshot files go with the old WAL: the new one holds no
	// record of them.
	if n := len(snapNames(t, g)); n != 1 {
		t.Fatalf("%d snapshot files left, want 1", n)
	}
	// No stray directory next to the WAL, and the WAL directory's mode.
	ents, err := os.ReadDir(filepath.Dir(g.WALDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "wal" && e.Name() != "snap" && e.Name() != BackupDirName {
			t.Fatalf("stray %s", e.Name())
		}
	}
	rep, err := inspect.Verify(ctx, g, inspect.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Has(inspect.SeverityWarning) {
		t.Fatalf("verify after rewrite: %+v", rep.Findings)
	}
	again, err := PlanCompact(ctx, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		t.Fatalf("rewriting again plans %v (notes %v)", kinds(again.Actions), again.Notes)
	}
	rr, err := Restore(ctx, res.BackupDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Left) > 0 {
		t.Fatalf("left %v", rr.Left)
	}
	sameSums(t, "after restore", fileSums(t, g.Dir), before)
	sameEtcdState(t, "etcd ReadAll after restore", readAll(t, g.WALDir), etcdBefore)
}

func TestCompactRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("verify-error", func(t *testing.T) {
		g, _ := writeGroup(t, compactSpec())
		plan, err := PlanCompact(ctx, g, CompactOptions{KeepWAL: 1, Findings: []inspect.Finding{{Code: inspect.CodeIndexGap, Severity: inspect.SeverityError}}})
		if err != nil {
			t.Fatal(err)
		}
		if !plan.Empty() || len(plan.Refusals) != 1 || plan.Refusals[0].Code != CodeVerifyError {
			t.Fatalf("plan %v refusals %+v", kinds(plan.Actions), plan.Refusals)
		}
	})
	t.Run("no-snapshot", func(t *testing.T) {
		s := compactSpec()
		s.SnapshotEvery = 0
		g, _ := writeGroup(t, s)
		plan, err := PlanCompact(ctx, g, CompactOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !plan.Empty() || len(plan.Notes) == 0 {
			t.Fatalf("plan %v notes %v", kinds(plan.Actions), plan.Notes)
		}
	})
	t.Run("corrupt-log", func(t *testing.T) {
		g, _ := writeGroup(t, compactSpec())
		seg := segPaths(t, g)[2]
		recs, err := fixture.EntryRecords(seg)
		if err != nil {
			t.Fatal(err)
		}
		if err := fixture.FlipByte(seg, recs[2].DataOffset()+recs[2].DataLen-2); err != nil {
			t.Fatal(err)
		}
		plan, err := PlanCompact(ctx, g, CompactOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !plan.Empty() || len(plan.Refusals) != 1 || plan.Refusals[0].Code != CodeCannotCompact {
			t.Fatalf("plan %v refusals %+v", kinds(plan.Actions), plan.Refusals)
		}
	})
	t.Run("rewrite-foreign-file", func(t *testing.T) {
		g, _ := writeGroup(t, compactSpec())
		if err := os.WriteFile(filepath.Join(g.WALDir, "notes.txt"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := fileSums(t, g.Dir)
		plan, err := PlanCompact(ctx, g, CompactOptions{Rewrite: true})
		if err != nil {
			t.Fatal(err)
		}
		if !plan.Empty() || len(plan.Refusals) != 1 {
			t.Fatalf("plan %v refusals %+v", kinds(plan.Actions), plan.Refusals)
		}
		if _, err := Apply(ctx, plan, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		sameSums(t, "after a refused rewrite", fileSums(t, g.Dir), before)
	})
	t.Run("rewrite-etcd-reads-overwritten", func(t *testing.T) {
		// The snapshot lands on the overwritten range: etcd's ReadAll at
		// the snapshot still returns the entry the new leader replaced.
		s := compactSpec()
		s.Entries, s.SnapshotEvery = 200, 40
		s.Overwrite = []fixture.Overwrite{{FromIndex: 198, Term: 2, Count: 3}}
		g, _ := writeGroup(t, s)
		plan, err := PlanCompact(ctx, g, CompactOptions{Rewrite: true})
		if err != nil {
			t.Fatal(err)
		}
		if !plan.Empty() || len(plan.Refusals) != 1 || plan.Refusals[0].Code != CodeCannotCompact {
			t.Fatalf("plan %v refusals %+v", kinds(plan.Actions), plan.Refusals)
		}
		// Without rewriting, compaction keeps what etcd reads.
		etcdBefore := readAll(t, g.WALDir)
		plan, err = PlanCompact(ctx, g, CompactOptions{KeepWAL: 1, KeepSnapshots: 1})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Empty() {
			t.Fatal("nothing to purge")
		}
		if _, err := Apply(ctx, plan, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		sameEtcdState(t, "etcd ReadAll after purge", readAll(t, g.WALDir), etcdBefore)
	})
	t.Run("symlinked-segment", func(t *testing.T) {
		g, _ := writeGroup(t, compactSpec())
		first := segPaths(t, g)[0]
		outside := filepath.Join(filepath.Dir(g.Dir), "elsewhere.wal")
		if err := os.Rename(first, outside); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, first); err != nil {
			t.Fatal(err)
		}
		before := fileSums(t, filepath.Dir(g.Dir))
		plan, err := PlanCompact(ctx, g, CompactOptions{KeepWAL: 1, KeepSnapshots: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Refusals) != 1 || plan.Refusals[0].Path != first {
			t.Fatalf("refusals %+v", plan.Refusals)
		}
		for _, a := range plan.Actions {
			if filepath.Dir(a.Path) == g.WALDir {
				t.Fatalf("a segment is removed: %v", kinds(plan.Actions))
			}
		}
		if _, err := Apply(ctx, plan, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		after := fileSums(t, filepath.Dir(g.Dir))
		for k, v := range before {
			if strings.Contains(k, "/wal/") || strings.HasSuffix(k, "elsewhere.wal") {
				if after[k] != v {
					t.Fatalf("%s changed", k)
				}
			}
		}
	})
	t.Run("stale", func(t *testing.T) {
		g, _ := writeGroup(t, compactSpec())
		plan, err := PlanCompact(ctx, g, CompactOptions{KeepWAL: 1, KeepSnapshots: 1})
		if err != nil {
			t.Fatal(err)
		}
		addOrphanSnap(t, g) // one more snapshot file: another purge
		before := fileSums(t, g.Dir)
		var se *StaleError
		if _, err := Apply(ctx, plan, ApplyOptions{}); !errors.As(err, &se) {
			t.Fatalf("stale plan: %v", err)
		}
		sameSums(t, "after a stale plan", fileSums(t, g.Dir), before)
	})
}
