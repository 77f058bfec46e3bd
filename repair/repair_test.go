//go:build unix

package repair

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// baseSpec is a small group: several 8 KiB segments, three snapshots.
func baseSpec() fixture.GroupSpec {
	return fixture.GroupSpec{Entries: 120, EntrySize: 200, SegmentSize: 8 << 10, SnapshotEvery: 40, Seed: 7, Bootstrap: true}
}

// Damage helpers, each a realistic way a group gets into the condition.

// tearLastRecord cuts the last segment in the middle of its last record,
// as a crash during an append to a file that was not preallocated does.
func tearLastRecord(t *testing.T, g inspect.Group) {
	t.Helper()
	last := lastSegment(t, g)
	recs, err := fixture.RecordOffsets(last)
	if err != nil {
		t.Fatal(err)
	}
	r := recs[len(recs)-1]
	if err := fixture.Truncate(last, r.Offset+r.FrameLen/2); err != nil {
		t.Fatal(err)
	}
}

// zeroLastSector zeroes the last sector-aligned chunk of the last record:
// the preallocated file kept its size, the last sector never reached disk.
func zeroLastSector(t *testing.T, g inspect.Group) {
	t.Helper()
	last := lastSegment(t, g)
	recs, err := fixture.RecordOffsets(last)
	if err != nil {
		t.Fatal(err)
	}
	r := recs[len(recs)-1]
	end := r.Offset + r.FrameLen
	from := max(r.DataOffset(), (end-1)/512*512)
	if err := fixture.ZeroRange(last, from, end-from); err != nil {
		t.Fatal(err)
	}
}

// addEmptySegment adds a preallocated segment holding nothing, as if the
// process died right after creating it.
func addEmptySegment(t *testing.T, g inspect.Group) string {
	t.Helper()
	segs, _, err := inspect.ListSegments(g.WALDir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := inspect.ReadLog(context.Background(), segs)
	if err != nil {
		t.Fatal(err)
	}
	last := segs[len(segs)-1]
	p := filepath.Join(g.WALDir, inspect.SegmentName(last.Seq+1, l.LastIndex+1))
	if err := os.WriteFile(p, make([]byte, 8<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func snapNames(t *testing.T, g inspect.Group) []string {
	t.Helper()
	names, err := fixture.SnapFiles(g.SnapDir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func corruptOldestSnap(t *testing.T, g inspect.Group) {
	t.Helper()
	p := filepath.Join(g.SnapDir, snapNames(t, g)[0])
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.FlipByte(p, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// addOrphanSnap saves a snapshot file that no WAL record refers to, as a
// crash between snap.SaveSnap and wal.SaveSnapshot leaves one.
func addOrphanSnap(t *testing.T, g inspect.Group) {
	t.Helper()
	ss := snap.New(zap.NewNop(), g.SnapDir)
	err := ss.SaveSnap(&raftpb.Snapshot{Data: []byte("orphan"), Metadata: &raftpb.SnapshotMetadata{
		Index: proto.Uint64(60), Term: proto.Uint64(1), ConfState: &raftpb.ConfState{Voters: []uint64{1}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// misname gives segment k a name etcd accepts but does not write.
func misname(t *testing.T, g inspect.Group, k int) {
	t.Helper()
	segs, _, err := inspect.ListSegments(g.WALDir)
	if err != nil {
		t.Fatal(err)
	}
	if k < 0 {
		k = len(segs) + k
	}
	s := segs[k]
	np := filepath.Join(g.WALDir, fmt.Sprintf("%x-%x.wal", s.Seq, s.Index))
	if err := os.Rename(s.Path, np); err != nil {
		t.Fatal(err)
	}
}

type repairCase struct {
	name   string
	damage func(t *testing.T, g inspect.Group)
	want   []ActionKind
	// brokenBefore: etcd's ReadAll fails on the damaged group.
	brokenBefore bool
}

var repairCases = []repairCase{
	{name: "torn-tail/truncated-file", damage: tearLastRecord, want: []ActionKind{Truncate}},
	{name: "torn-tail/zeroed-sector", damage: zeroLastSector, want: []ActionKind{Truncate}},
	{name: "empty-segment", damage: func(t *testing.T, g inspect.Group) { addEmptySegment(t, g) }, want: []ActionKind{Remove}},
	{name: "snapshot-corrupt", damage: corruptOldestSnap, want: []ActionKind{Quarantine}},
	{name: "snapshot-orphan", damage: addOrphanSnap, want: []ActionKind{Quarantine}},
	{name: "segment-name/last", damage: func(t *testing.T, g inspect.Group) { misname(t, g, -1) }, want: []ActionKind{Rename}},
	{name: "segment-name/middle", damage: func(t *testing.T, g inspect.Group) { misname(t, g, 1) }, want: []ActionKind{Rename}, brokenBefore: true},
	{name: "all-at-once", damage: damageAll, want: []ActionKind{Quarantine, Quarantine, Rename, Remove, Truncate}},
	{name: "torn-tail/misnamed", damage: func(t *testing.T, g inspect.Group) { tearLastRecord(t, g); misname(t, g, -1) }, want: []ActionKind{Rename, Truncate}},
}

// damageAll combines every repairable condition: a torn tail in the last
// segment with records, an empty segment after it, a corrupt and an
// orphan snapshot, and a misnamed segment.
func damageAll(t *testing.T, g inspect.Group) {
	tearLastRecord(t, g)
	addEmptySegment(t, g)
	corruptOldestSnap(t, g)
	addOrphanSnap(t, g)
	misname(t, g, 0)
}

func actionKinds(acts []Action) []ActionKind {
	out := []ActionKind{}
	for _, a := range acts {
		out = append(out, a.Kind)
	}
	return out
}

// TestRepairRoundTrip: the condition is found, planned, mended; planning
// again is a no-op; etcd reads the same log; Restore brings back every
// byte of the damaged group.
func TestRepairRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, tc := range repairCases {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := writeGroup(t, baseSpec())
			pristine := readAll(t, g.WALDir)
			tc.damage(t, g)
			g = discover(t, g.Dir)
			damaged := fileSums(t, g.Dir)
			var before etcdState
			if tc.brokenBefore {
				if _, err := readAllErr(g.WALDir); err == nil && tc.name == "segment-name/middle" {
					t.Fatal("etcd reads a WAL whose segments are out of order")
				}
				before = pristine
			} else {
				before = readAll(t, g.WALDir)
			}
			if strings.HasPrefix(tc.name, "torn-tail") {
				if err := openForWrite(g.WALDir); err == nil {
					t.Log("note: etcd opens the torn WAL for writing without wal.Repair")
				}
			}

			findings := detect(t, g)
			plan, err := PlanRepair(ctx, g, findings)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Refusals) > 0 {
				t.Fatalf("refusals: %+v", plan.Refusals)
			}
			if got := actionKinds(plan.Actions); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("actions %v, want %v (%v)", kinds(plan.Actions), tc.want, codes(findings))
			}

			// A dry run touches nothing.
			dr, err := Apply(ctx, plan, ApplyOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if !dr.DryRun || len(dr.Actions) != len(plan.Actions) || dr.BackupDir != "" {
				t.Fatalf("dry run result %+v", dr)
			}
			sameSums(t, "after dry run", fileSums(t, g.Dir), damaged)
			if _, err := os.Stat(filepath.Join(g.Dir, BackupDirName)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("dry run made a backup directory: %v", err)
			}

			res, err := Apply(ctx, plan, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Actions) != len(plan.Actions) || res.BackupDir == "" || res.Steps == 0 {
				t.Fatalf("result %+v", res)
			}
			if !strings.HasPrefix(res.BackupDir, filepath.Join(g.Dir, BackupDirName)+string(filepath.Separator)) {
				t.Fatalf("backup dir %s", res.BackupDir)
			}
			checkManifest(t, res.BackupDir, plan)

			g = discover(t, g.Dir)
			if f := detect(t, g); len(f) > 0 {
				t.Fatalf("still found after repair: %+v", f)
			}
			sameEtcdState(t, "etcd ReadAll after repair", readAll(t, g.WALDir), before)
			if err := openForWrite(g.WALDir); err != nil {
				t.Fatalf("etcd cannot open the repaired WAL for writing: %v", err)
			}
			for _, fs := range [][]inspect.Finding{nil, findings} {
				again, err := PlanRepair(ctx, g, fs)
				if err != nil {
					t.Fatal(err)
				}
				if !again.Empty() || len(again.Refusals) > 0 {
					t.Fatalf("planning again is not a no-op: %v %+v", kinds(again.Actions), again.Refusals)
				}
			}
			if strings.HasPrefix(tc.name, "torn-tail") {
				// The size is kept: zeros after the last record.
				fi, err := os.Stat(lastSegment(t, g))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() != plan.Actions[0].Size {
					t.Fatalf("size %d, want %d kept", fi.Size(), plan.Actions[0].Size)
				}
			}

			rr, err := Restore(ctx, res.BackupDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(rr.Restored) == 0 {
				t.Fatalf("restore result %+v", rr)
			}
			sameSums(t, "after restore", fileSums(t, g.Dir), damaged)
			// Restoring again changes nothing.
			if _, err := Restore(ctx, res.BackupDir); err != nil {
				t.Fatal(err)
			}
			sameSums(t, "after a second restore", fileSums(t, g.Dir), damaged)
		})
	}
}

// openForWrite opens the WAL the way etcd does at boot (write mode, all
// records read) and closes it, restoring every byte it may change.
func openForWrite(walDir string) error {
	dir, err := os.MkdirTemp("", "raftctl-open-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cp := filepath.Join(dir, "wal")
	if err := fixture.CopyDir(walDir, cp); err != nil {
		return err
	}
	st, err := readAllErr(cp)
	if err != nil {
		return err
	}
	w, err := wal.Open(zap.NewNop(), cp, st.Snap)
	if err != nil {
		return err
	}
	defer w.Close()
	_, _, _, err = w.ReadAll()
	return err
}

func checkManifest(t *testing.T, dir string, plan *Plan) {
	t.Helper()
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != len(plan.Files) {
		t.Fatalf("manifest lists %d files, plan %d", len(m.Files), len(plan.Files))
	}
	for _, f := range m.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		sum, size, err := hashFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if sum != f.SHA256 || size != f.Size {
			t.Fatalf("%s: backup does not match its manifest entry", p)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode, _ := f.perm(); fi.Mode().Perm() != mode {
			t.Fatalf("%s: mode %v, manifest %v", p, fi.Mode().Perm(), mode)
		}
	}
}

// TestRepairRefuses: what cannot be mended offline is refused with advice
// and not a byte of the group changes.
func TestRepairRefuses(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		damage func(t *testing.T, g inspect.Group) []inspect.Finding
		want   []string
	}{
		{"crc-mismatch", func(t *testing.T, g inspect.Group) []inspect.Finding {
			seg := segPaths(t, g)[1]
			recs, err := fixture.EntryRecords(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := fixture.FlipByte(seg, recs[3].DataOffset()+recs[3].DataLen-3); err != nil {
				t.Fatal(err)
			}
			return detect(t, g)
		}, []string{inspect.CodeCRCMismatch}},
		{"zeroed-region", func(t *testing.T, g inspect.Group) []inspect.Finding {
			seg := lastSegment(t, g)
			recs, err := fixture.EntryRecords(seg)
			if err != nil {
				t.Fatal(err)
			}
			r := recs[1]
			if err := fixture.ZeroRange(seg, r.DataOffset(), r.DataLen); err != nil {
				t.Fatal(err)
			}
			f := detect(t, g)
			return append(f, inspect.Finding{Code: inspect.CodeZeroedRegion, Severity: inspect.SeverityError, File: seg, Offset: r.Offset})
		}, []string{inspect.CodeSnapshotOrphan, inspect.CodeTornTail, inspect.CodeZeroedRegion}},
		{"torn-middle-segment", func(t *testing.T, g inspect.Group) []inspect.Finding {
			seg := segPaths(t, g)[1]
			recs, err := fixture.RecordOffsets(seg)
			if err != nil {
				t.Fatal(err)
			}
			r := recs[len(recs)/2]
			if err := fixture.Truncate(seg, r.Offset+r.FrameLen/2); err != nil {
				t.Fatal(err)
			}
			return []inspect.Finding{{Code: inspect.CodeTornTail, Severity: inspect.SeverityWarning, File: seg}}
		}, []string{inspect.CodeTornTail}},
		{"empty-middle-segment", func(t *testing.T, g inspect.Group) []inspect.Finding {
			seg := segPaths(t, g)[1]
			if err := fixture.ZeroRange(seg, 0, 8); err != nil {
				t.Fatal(err)
			}
			return []inspect.Finding{{Code: inspect.CodeEmptySegment, Severity: inspect.SeverityWarning, File: seg}}
		}, []string{inspect.CodeEmptySegment}},
		{"empty-only-segment", func(t *testing.T, g inspect.Group) []inspect.Finding {
			segs := segPaths(t, g)
			for _, s := range segs {
				if err := os.Remove(s); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(segs[0], make([]byte, 4096), 0o600); err != nil {
				t.Fatal(err)
			}
			return []inspect.Finding{{Code: inspect.CodeEmptySegment, Severity: inspect.SeverityWarning, File: segs[0]}}
		}, []string{inspect.CodeEmptySegment}},
		{"segment-name-taken", func(t *testing.T, g inspect.Group) []inspect.Finding {
			last := lastSegment(t, g)
			b, err := os.ReadFile(last)
			if err != nil {
				t.Fatal(err)
			}
			misname(t, g, -1)
			if err := os.WriteFile(last, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return detect(t, discover(t, g.Dir))
		}, []string{inspect.CodeSegmentName, inspect.CodeCRCMismatch}},
		{"snapshot-corrupt-but-decodes", func(t *testing.T, g inspect.Group) []inspect.Finding {
			return []inspect.Finding{{Code: inspect.CodeSnapshotCorrupt, Severity: inspect.SeverityError, File: filepath.Join(g.SnapDir, snapNames(t, g)[0])}}
		}, []string{inspect.CodeSnapshotCorrupt}},
		{"orphan-with-unreadable-log", func(t *testing.T, g inspect.Group) []inspect.Finding {
			seg := segPaths(t, g)[1]
			recs, err := fixture.EntryRecords(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := fixture.FlipByte(seg, recs[3].DataOffset()+recs[3].DataLen-3); err != nil {
				t.Fatal(err)
			}
			// The newest snapshot's record lies past the corrupt record.
			names := snapNames(t, g)
			return []inspect.Finding{{Code: inspect.CodeSnapshotOrphan, Severity: inspect.SeverityWarning, File: filepath.Join(g.SnapDir, names[len(names)-1])}}
		}, []string{inspect.CodeSnapshotOrphan}},
		{"unknown-error", func(t *testing.T, g inspect.Group) []inspect.Finding {
			return []inspect.Finding{
				{Code: inspect.CodeIndexGap, Severity: inspect.SeverityError, Message: "the log skips from 10 to 12"},
				{Code: inspect.CodeOverwrittenEntries, Severity: inspect.SeverityInfo},
			}
		}, []string{inspect.CodeIndexGap}},
		{"symlinked-snapshot", func(t *testing.T, g inspect.Group) []inspect.Finding {
			names := snapNames(t, g)
			p := filepath.Join(g.SnapDir, names[0])
			outside := filepath.Join(filepath.Dir(g.Dir), "outside.snap")
			if err := os.WriteFile(outside, []byte("not a snapshot"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, p); err != nil {
				t.Fatal(err)
			}
			return []inspect.Finding{{Code: inspect.CodeSnapshotCorrupt, Severity: inspect.SeverityError, File: p}}
		}, []string{inspect.CodeSnapshotCorrupt}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := writeGroup(t, baseSpec())
			findings := tc.damage(t, g)
			g = discover(t, g.Dir)
			damaged := fileSums(t, g.Dir)
			plan, err := PlanRepair(ctx, g, findings)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range plan.Refusals {
				got = append(got, r.Code)
				if r.Advice == "" || r.Message == "" {
					t.Errorf("refusal without message or advice: %+v", r)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("refusals %v (%+v), want %v", got, plan.Refusals, tc.want)
			}
			if !plan.Empty() {
				t.Fatalf("actions planned: %v", kinds(plan.Actions))
			}
			res, err := Apply(ctx, plan, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.BackupDir != "" || len(res.Refusals) != len(plan.Refusals) {
				t.Fatalf("result %+v", res)
			}
			sameSums(t, "group after a refused repair", fileSums(t, g.Dir), damaged)
		})
	}
}

// TestRepairRefusesLiveWAL: a WAL locked by etcd's own fcntl lock, by an
// flock, or opened for writing by etcd's wal package is refused before
// planning and before applying, and stays unchanged.
func TestRepairRefusesLiveWAL(t *testing.T) {
	ctx := context.Background()
	holders := []struct {
		name string
		hold func(t *testing.T, g inspect.Group) (path string, release func())
	}{
		{"etcd-fileutil", func(t *testing.T, g inspect.Group) (string, func()) {
			p := lastSegment(t, g)
			l, err := fileutilTryLock(p)
			if err != nil {
				t.Fatal(err)
			}
			return p, func() { l.Close() }
		}},
		{"flock", func(t *testing.T, g inspect.Group) (string, func()) {
			p := segPaths(t, g)[0]
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := flockEx(f); err != nil {
				t.Fatal(err)
			}
			return p, func() { f.Close() }
		}},
		{"etcd-wal-open", func(t *testing.T, g inspect.Group) (string, func()) {
			st := readAll(t, g.WALDir)
			w, err := wal.Open(zap.NewNop(), g.WALDir, st.Snap)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := w.ReadAll(); err != nil {
				t.Fatal(err)
			}
			return "", func() { w.Close() }
		}},
	}
	for _, h := range holders {
		t.Run(h.name, func(t *testing.T) {
			g, _ := writeGroup(t, baseSpec())
			addOrphanSnap(t, g)
			findings := detect(t, g)
			plan, err := PlanRepair(ctx, g, findings)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Empty() {
				t.Fatal("nothing planned")
			}
			before := fileSums(t, g.Dir)
			path, release := h.hold(t, g)
			defer release()
			var le *LockedError
			if _, err := PlanRepair(ctx, g, findings); !errors.As(err, &le) {
				t.Fatalf("PlanRepair on a locked WAL: %v", err)
			}
			if path != "" && le.Path != path {
				t.Fatalf("locked path %s, want %s", le.Path, path)
			}
			if _, err := PlanCompact(ctx, g, CompactOptions{KeepWAL: 1}); !errors.As(err, &le) {
				t.Fatalf("PlanCompact on a locked WAL: %v", err)
			}
			if _, err := Apply(ctx, plan, ApplyOptions{}); !errors.As(err, &le) {
				t.Fatalf("Apply on a locked WAL: %v", err)
			}
			release()
			sameSums(t, "locked group", fileSums(t, g.Dir), before)
			if _, err := os.Stat(filepath.Join(g.Dir, BackupDirName)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a backup directory was made: %v", err)
			}
			// Unlocked, it goes through.
			if _, err := Apply(ctx, plan, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestApplyStalePlan: a plan made before the group changed is refused.
func TestApplyStalePlan(t *testing.T) {
	ctx := context.Background()
	g, _ := writeGroup(t, baseSpec())
	tearLastRecord(t, g)
	plan, err := PlanRepair(ctx, g, detect(t, g))
	if err != nil {
		t.Fatal(err)
	}
	addOrphanSnap(t, g) // does not change the plan
	if _, err := Apply(ctx, plan, ApplyOptions{BackupDir: filepath.Join(t.TempDir(), "b1")}); err != nil {
		t.Fatal(err)
	}
	g2, _ := writeGroup(t, baseSpec())
	tearLastRecord(t, g2)
	plan2, err := PlanRepair(ctx, g2, detect(t, g2))
	if err != nil {
		t.Fatal(err)
	}
	last := lastSegment(t, g2)
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Truncate(last, fi.Size()-1); err != nil { // torn further
		t.Fatal(err)
	}
	before := fileSums(t, g2.Dir)
	var se *StaleError
	if _, err := Apply(ctx, plan2, ApplyOptions{}); !errors.As(err, &se) {
		t.Fatalf("stale plan applied: %v", err)
	}
	sameSums(t, "after a stale plan", fileSums(t, g2.Dir), before)
}

// TestRestoreRefusesChangedGroup: once etcd wrote to the repaired WAL,
// Restore refuses (what was written since would be lost) unless forced.
func TestRestoreRefusesChangedGroup(t *testing.T) {
	ctx := context.Background()
	g, _ := writeGroup(t, baseSpec())
	tearLastRecord(t, g)
	damaged := fileSums(t, g.Dir)
	plan, err := PlanRepair(ctx, g, detect(t, g))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(ctx, plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// etcd restarts and appends an entry.
	st := readAll(t, g.WALDir)
	w, err := wal.Open(zap.NewNop(), g.WALDir, st.Snap)
	if err != nil {
		t.Fatal(err)
	}
	_, hs, ents, err := w.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	next := ents[len(ents)-1].GetIndex() + 1
	if err := w.Save(hs, []*raftpb.Entry{{Index: proto.Uint64(next), Term: proto.Uint64(hs.GetTerm()), Type: raftpb.EntryNormal.Enum(), Data: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	after := fileSums(t, g.Dir)
	var ce *ChangedError
	if _, err := Restore(ctx, res.BackupDir); !errors.As(err, &ce) {
		t.Fatalf("restore over a changed group: %v", err)
	}
	sameSums(t, "after a refused restore", fileSums(t, g.Dir), after)
	if _, err := RestoreWith(ctx, res.BackupDir, RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	sameSums(t, "after a forced restore", fileSums(t, g.Dir), damaged)
}

// TestBackupDirOption: an explicit backup directory is used, and a
// non-empty one refused before anything changes.
func TestBackupDirOption(t *testing.T) {
	ctx := context.Background()
	g, _ := writeGroup(t, baseSpec())
	tearLastRecord(t, g)
	damaged := fileSums(t, g.Dir)
	plan, err := PlanRepair(ctx, g, detect(t, g))
	if err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, plan, ApplyOptions{BackupDir: full}); err == nil {
		t.Fatal("a non-empty backup directory was accepted")
	}
	sameSums(t, "after a refused backup directory", fileSums(t, g.Dir), damaged)
	bd := filepath.Join(t.TempDir(), "nested", "backup")
	res, err := Apply(ctx, plan, ApplyOptions{BackupDir: bd})
	if err != nil {
		t.Fatal(err)
	}
	if res.BackupDir != bd {
		t.Fatalf("backup dir %s, want %s", res.BackupDir, bd)
	}
	fi, err := os.Stat(bd)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("backup dir: %v %v", fi, err)
	}
	if _, err := Restore(ctx, bd); err != nil {
		t.Fatal(err)
	}
	sameSums(t, "after restore", fileSums(t, g.Dir), damaged)
}

// TestVerifyRepairVerify runs the round trip with raftctl's own verifier:
// verify finds, repair mends, verify is clean.
func TestVerifyRepairVerify(t *testing.T) {
	ctx := context.Background()
	g, _ := writeGroup(t, baseSpec())
	damageAll(t, g)
	g = discover(t, g.Dir)
	// Some conditions show only once others are mended (a torn tail in a
	// segment that sorts before a misnamed one): repair until clean.
	for round := 1; ; round++ {
		rep, err := inspect.Verify(ctx, g, inspect.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, f := range rep.Findings {
			if f.Severity != inspect.SeverityInfo {
				left = append(left, f.Code+": "+f.Message)
			}
		}
		if len(left) == 0 {
			if round == 1 {
				t.Fatal("verify finds nothing in the damaged group")
			}
			break
		}
		plan, err := PlanRepair(ctx, g, rep.Findings)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: verify %v; repair %v; refused %v", round, rep.Codes(), kinds(plan.Actions), plan.Refusals)
		if plan.Empty() || len(plan.Refusals) > 0 || round > 3 {
			t.Fatalf("round %d: repair does not converge; verify still finds:\n%s", round, strings.Join(left, "\n"))
		}
		if _, err := Apply(ctx, plan, ApplyOptions{BackupDir: filepath.Join(t.TempDir(), "b")}); err != nil {
			t.Fatal(err)
		}
		g = discover(t, g.Dir)
	}
}
