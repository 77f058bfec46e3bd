//go:build unix

package repair

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// damage is one kind of damage in the middle of a log, done to the
// segment seg (neither the first nor the last).
type damage struct {
	name string
	do   func(t *testing.T, seg string)
}

// midEntry is the second entry record of a segment.
func midEntry(t *testing.T, seg string) fixture.RecordPos {
	t.Helper()
	recs, err := fixture.EntryRecords(seg)
	if err != nil || len(recs) < 2 {
		t.Fatalf("%s: %d entry records, %v", seg, len(recs), err)
	}
	return recs[1]
}

var midDamages = []damage{
	{"crc-mismatch", func(t *testing.T, seg string) {
		r := midEntry(t, seg)
		if err := fixture.FlipByte(seg, r.DataOffset()+r.DataLen-2); err != nil {
			t.Fatal(err)
		}
	}},
	{"zeroed-sector", func(t *testing.T, seg string) {
		r := midEntry(t, seg)
		if err := fixture.ZeroRange(seg, r.Offset, min(512, r.FrameLen+64)); err != nil {
			t.Fatal(err)
		}
	}},
	{"missing-segment", func(t *testing.T, seg string) {
		if err := os.Remove(seg); err != nil {
			t.Fatal(err)
		}
	}},
	{"truncated-segment", func(t *testing.T, seg string) {
		r := midEntry(t, seg)
		if err := fixture.Truncate(seg, r.Offset+12); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestRepairFromMidLogDamage damages a middle segment of real raft
// replicas' WALs (fixture.RaftCluster, with and without snapshots) in each
// way, and repairs the member from another replica: verify finds an error
// before; afterwards verify is clean, etcd's restart path (ReadAll, raft)
// succeeds, the member keeps its own HardState and every entry it restarts
// with is the donor's, byte for byte; planning again finds nothing to do,
// and restore puts the damaged member back exactly.
func TestRepairFromMidLogDamage(t *testing.T) {
	for _, snaps := range []bool{false, true} {
		src := t.TempDir()
		opts := fixture.ClusterOptions{Groups: 1, Proposals: 20, NoSnapshots: !snaps, MaxWALFiles: 1000, MaxSnapFiles: 1000}
		if snaps {
			opts.SnapshotEvery = 50
		}
		res, err := fixture.RaftCluster(filepath.Join(src, "c"), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, member := range []uint64{1, 3} {
			for _, d := range midDamages {
				t.Run(fmt.Sprintf("snapshots=%v/node-%d/%s", snaps, member, d.name), func(t *testing.T) {
					repairFromCase(t, res, member, 2, d)
				})
			}
		}
	}
}

func repairFromCase(t *testing.T, res *fixture.ClusterResult, member, donor uint64, d damage) {
	repairFromCaseAt(t, res, member, donor, d, false)
}

// repairFromCaseAt is repairFromCase; lastSeg damages the member's last
// segment instead of one in the middle of its log.
func repairFromCaseAt(t *testing.T, res *fixture.ClusterResult, member, donor uint64, d damage, lastSeg bool) *FromPlan {
	ctx := context.Background()
	root := t.TempDir()
	if err := fixture.CopyDir(res.Dir, filepath.Join(root, "c")); err != nil {
		t.Fatal(err)
	}
	mg := discover(t, filepath.Join(root, "c", fmt.Sprintf("node-%d", member)))
	dg := discover(t, filepath.Join(root, "c", fmt.Sprintf("node-%d", donor)))
	nr, _ := res.Groups[0].Node(member)
	segs := segPaths(t, mg)
	// A segment after the newest snapshot, in the middle of the log.
	k := len(segs) / 2
	if len(nr.Snapshots) > 0 {
		k = len(segs) - 3
	}
	if lastSeg {
		k = len(segs) - 1
	} else if k <= 0 || k >= len(segs)-1 {
		t.Fatalf("only %d segments", len(segs))
	}
	d.do(t, segs[k])
	if fs := verifyFindings(t, mg); !hasError(fs) {
		t.Fatalf("verify finds no error after %s: %v", d.name, codes(fs))
	}
	damaged := fileSums(t, mg.Dir)
	p, err := PlanRepairFrom(ctx, mg, dg)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Refusals) != 0 || len(p.Actions) == 0 || p.Actions[0].Kind != Replace {
		t.Fatalf("plan: refusals %+v, actions %v, damage %v", p.Refusals, kinds(p.Actions), p.Damage)
	}
	// After the WAL, the .snap files older than the snapshot it starts at
	// go to the backup: the new WAL starts at sequence 0 here (never
	// purged), so it would leave them as orphans.
	for _, a := range p.Actions[1:] {
		var term, index uint64
		_, err := fmt.Sscanf(filepath.Base(a.Path), "%016x-%016x.snap", &term, &index)
		if a.Kind != Remove || filepath.Dir(a.Path) != mg.SnapDir || err != nil || index >= p.Snapshot.Index {
			t.Fatalf("plan: action %s %s after the WAL's (snapshot %d): %v", a.Kind, a.Path, p.Snapshot.Index, err)
		}
	}
	want := inspect.HardState{Term: nr.HardState.GetTerm(), Vote: nr.HardState.GetVote(), Commit: nr.HardState.GetCommit()}
	if p.HardState != want || p.LastIndex != nr.LastIndex {
		t.Fatalf("plan keeps HardState %+v and last index %d, want %+v and %d", p.HardState, p.LastIndex, want, nr.LastIndex)
	}
	t.Logf("%s: %s", d.name, p.Actions[0].Message)
	r, err := ApplyRepairFrom(ctx, p, ApplyOptions{BackupDir: filepath.Join(root, "backup")})
	if err != nil {
		t.Fatal(err)
	}
	if fs := verifyFindings(t, mg); hasError(fs) || slices.Contains(codes(fs), inspect.CodeSnapshotOrphan) {
		t.Fatalf("verify after: %v", codes(fs))
	}
	got, err := fixture.EtcdRestart(mg.WALDir, mg.SnapDir, fixture.RestartOptions{})
	if err != nil {
		t.Fatalf("etcd restart of the repaired member: %v", err)
	}
	ref, err := fixture.EtcdRestart(dg.WALDir, dg.SnapDir, fixture.RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.HardState, nr.HardState) || got.Commit != want.Commit || got.LastIndex != nr.LastIndex {
		t.Fatalf("restarted with HardState %v, commit %d, last %d; want %v, %d", got.HardState, got.Commit, got.LastIndex, nr.HardState, nr.LastIndex)
	}
	if got.NodeID != member {
		t.Fatalf("restarted as node %d, want %d (the member's metadata)", got.NodeID, member)
	}
	for i := got.SnapIndex + 1; i <= got.LastIndex; i++ {
		e, ok1 := got.Entry(i)
		f, ok2 := ref.Entry(i)
		if !ok1 || !ok2 || e != f {
			t.Fatalf("entry %d: %+v, the donor's %+v (%v %v)", i, e, f, ok1, ok2)
		}
	}
	// The committed log the cluster applied, where the restart holds it.
	for _, c := range res.Groups[0].Committed {
		if e, ok := got.Entry(c.Index); ok && (e.Term != c.Term || e.Hash != fixture.HashData(c.Data)) {
			t.Fatalf("entry %d is not the committed one", c.Index)
		}
	}
	// Nothing left to do.
	p2, err := PlanRepairFrom(ctx, mg, dg)
	if err != nil || !p2.Empty() || len(p2.Refusals) != 0 {
		t.Fatalf("second plan: %+v %v", p2, err)
	}
	// Restore puts the damaged member back exactly.
	if _, err := Restore(ctx, r.BackupDir); err != nil {
		t.Fatal(err)
	}
	sameSums(t, "restored member", fileSums(t, mg.Dir), damaged)
	return p
}

func verifyFindings(t *testing.T, g inspect.Group) []inspect.Finding {
	t.Helper()
	rep, err := inspect.Verify(context.Background(), g, inspect.VerifyOptions{Deep: true, NoLockCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Findings
}

func hasError(fs []inspect.Finding) bool {
	for _, f := range fs {
		if f.Severity.AtLeast(inspect.SeverityError) {
			return true
		}
	}
	return false
}

// TestRepairFromRefuses: a replica that does not prove the lost entries
// committed, or holds other entries, is refused, and nothing changes.
func TestRepairFromRefuses(t *testing.T) {
	root := t.TempDir()
	a, short, other, same := filepath.Join(root, "a"), filepath.Join(root, "short"), filepath.Join(root, "other"), filepath.Join(root, "same")
	writeMember(t, a, 1, chunks(2, 600, 2)...)
	writeMember(t, short, 2, chunks(2, 120, 2)...)
	writeMember(t, other, 3, chunks(2, 600, 3)...)
	writeMember(t, same, 2, chunks(2, 600, 2)...)
	ctx := context.Background()
	mg := discover(t, a)
	segs := segPaths(t, mg)
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	// Damage a segment whose entries lie past 120.
	k := len(segs) - 2
	midDamages[0].do(t, segs[k])
	before := fileSums(t, a)
	for _, c := range []struct {
		donor, code string
	}{
		{short, CodeFromUnprovable},
		{other, CodeFromConflict},
	} {
		p, err := PlanRepairFrom(ctx, mg, discover(t, c.donor))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Refusals) != 1 || p.Refusals[0].Code != c.code || !p.Empty() {
			t.Fatalf("%s: plan %+v", filepath.Base(c.donor), p.Plan)
		}
		t.Logf("%s refused: %s", filepath.Base(c.donor), p.Refusals[0].Message)
		if _, err := ApplyRepairFrom(ctx, p, ApplyOptions{}); !errors.Is(err, ErrRefused) {
			t.Fatalf("apply: %v", err)
		}
	}
	sameSums(t, "refused member", fileSums(t, a), before)
	// The member itself is no replica.
	if _, err := PlanRepairFrom(ctx, mg, mg); err == nil {
		t.Fatal("the member as its own replica was accepted")
	}
	// Damage to the last record of the log (its newest HardState), and a
	// zeroed region that only one record follows: nothing after the
	// damage can be checked, so the newest HardState is unknown.
	for _, c := range []struct {
		name string
		do   func(t *testing.T, seg string)
	}{
		{"last-record", func(t *testing.T, seg string) {
			r := lastRecord(t, seg)
			if err := fixture.FlipByte(seg, r.Offset+r.FrameLen-r.Pad-1); err != nil {
				t.Fatal(err)
			}
		}},
		{"one-record-after", func(t *testing.T, seg string) {
			recs, err := fixture.RecordOffsets(seg)
			if err != nil || len(recs) < 4 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			a, b := recs[len(recs)-3], recs[len(recs)-1]
			if err := fixture.ZeroRange(seg, a.Offset, b.Offset-a.Offset); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		last := filepath.Join(root, "last-"+c.name)
		writeMember(t, last, 1, chunks(2, 600, 2)...)
		lg := discover(t, last)
		ls := segPaths(t, lg)
		c.do(t, ls[len(ls)-1])
		lastBefore := fileSums(t, last)
		p, err := PlanRepairFrom(ctx, lg, discover(t, same))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Refusals) != 1 || p.Refusals[0].Code != CodeFromCannot || !strings.Contains(p.Refusals[0].Message, "newest HardState") {
			t.Fatalf("%s: damage at the end of the last segment: %+v", c.name, p.Plan)
		}
		t.Logf("%s refused: %s", c.name, p.Refusals[0].Message)
		sameSums(t, c.name, fileSums(t, last), lastBefore)
	}
	// A member and replica written alike: the repair works, and the
	// entries are the same bytes.
	p, err := PlanRepairFrom(ctx, mg, discover(t, same))
	if err != nil || len(p.Refusals) != 0 {
		t.Fatalf("plan %+v %v", p, err)
	}
	if _, err := ApplyRepairFrom(ctx, p, ApplyOptions{BackupDir: filepath.Join(root, "b")}); err != nil {
		t.Fatal(err)
	}
	sameEtcdState(t, "repaired member", readAll(t, mg.WALDir), readAll(t, filepath.Join(same, "member", "wal")))
}

// chunks writes entries from..to at term in saves of 20, each committing
// the save before it, so that the WAL is cut into several segments.
func chunks(from, to, term uint64) []span {
	var out []span
	for i := from; i <= to; i += 20 {
		out = append(out, span{i, min(i+19, to), term, max(i, 2) - 1})
	}
	return out
}

// TestRepairFromStaleAndLocked: a plan whose member changed since is
// refused with *StaleError, a live (locked) member or replica with
// *LockedError; nothing is changed either way.
func TestRepairFromStaleAndLocked(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	writeMember(t, a, 1, chunks(2, 600, 2)...)
	writeMember(t, b, 2, chunks(2, 600, 2)...)
	ctx := context.Background()
	mg, dg := discover(t, a), discover(t, b)
	segs := segPaths(t, mg)
	midDamages[0].do(t, segs[len(segs)/2])
	p, err := PlanRepairFrom(ctx, mg, dg)
	if err != nil || len(p.Refusals) != 0 || p.Empty() {
		t.Fatalf("plan %+v %v", p, err)
	}
	before := fileSums(t, a)
	// The replica is locked by a live process.
	f, err := fileutilTryLock(segPaths(t, dg)[0])
	if err != nil {
		t.Fatal(err)
	}
	var le *LockedError
	if _, err := PlanRepairFrom(ctx, mg, dg); !errors.As(err, &le) {
		t.Fatalf("plan with a locked replica: %v", err)
	}
	if _, err := ApplyRepairFrom(ctx, p, ApplyOptions{BackupDir: filepath.Join(root, "b0")}); !errors.As(err, &le) {
		t.Fatalf("apply with a locked replica: %v", err)
	}
	f.Close()
	// Another segment of the member is damaged after the plan.
	midDamages[0].do(t, segs[len(segs)/2+1])
	damaged := fileSums(t, a)
	var se *StaleError
	if _, err := ApplyRepairFrom(ctx, p, ApplyOptions{BackupDir: filepath.Join(root, "b1")}); !errors.As(err, &se) {
		t.Fatalf("apply on a changed member: %v", err)
	}
	sameSums(t, "member after refused applies", fileSums(t, a), damaged)
	if len(before) != len(damaged) {
		t.Fatal("files appeared")
	}
	if _, err := os.Stat(filepath.Join(root, "b1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a stale apply left its backup directory: %v", err)
	}
}

// lastRecord is the last record of a segment.
func lastRecord(t *testing.T, seg string) fixture.RecordPos {
	t.Helper()
	recs, err := fixture.RecordOffsets(seg)
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: %d records, %v", seg, len(recs), err)
	}
	return recs[len(recs)-1]
}

// lastSegEntry is an entry record of the last segment, after its last
// snapshot record, with a HardState, entries and a HardState after it
// (from the third record on); the middle one of those when there are
// several.
func lastSegEntry(t *testing.T, seg string) fixture.RecordPos {
	t.Helper()
	recs, err := fixture.RecordOffsets(seg)
	if err != nil {
		t.Fatal(err)
	}
	var cands []int
	for k, r := range recs {
		if r.Type == 5 {
			cands = cands[:0]
		}
		if r.Type != 2 || k+3 >= len(recs) {
			continue
		}
		// A HardState, then entries, then a HardState: a later wal.Save
		// follows the damaged one, so the records after the damage are
		// not the unsynced rest of the last write (a torn tail).
		want := []int64{3, 2, 3}
		for _, a := range recs[k+3:] {
			if len(want) > 0 && a.Type == want[0] {
				want = want[1:]
			}
		}
		if len(want) == 0 {
			cands = append(cands, k)
		}
	}
	if len(cands) == 0 {
		t.Fatalf("%s: no entry record after the last snapshot record with a later wal.Save after it (%d records)", seg, len(recs))
	}
	return recs[cands[len(cands)/2]]
}

// lastDamages is damage inside the last segment that records, HardStates
// among them, follow: not the end of the log.
var lastDamages = []damage{
	{"crc-mismatch", func(t *testing.T, seg string) {
		r := lastSegEntry(t, seg)
		if err := fixture.FlipByte(seg, r.DataOffset()+r.DataLen-2); err != nil {
			t.Fatal(err)
		}
	}},
	{"crc-field", func(t *testing.T, seg string) {
		// The record's stored CRC, not its data: the chain cannot be
		// continued from it.
		r := lastSegEntry(t, seg)
		if err := fixture.FlipByte(seg, r.DataOffset()+3); err != nil {
			t.Fatal(err)
		}
	}},
	{"zeroed-sector", func(t *testing.T, seg string) {
		// From a length word on: the log seems to end at a zero word.
		r := lastSegEntry(t, seg)
		if err := fixture.ZeroRange(seg, r.Offset, min(512, r.FrameLen+64)); err != nil {
			t.Fatal(err)
		}
	}},
	{"zeroed-inside", func(t *testing.T, seg string) {
		// A whole sector inside a record: etcd takes it for a torn write.
		r := lastSegEntry(t, seg)
		start := (r.DataOffset() + 8 + 511) &^ 511
		if start >= r.Offset+r.FrameLen {
			start = (r.DataOffset() + 8) &^ 511
		}
		if err := fixture.ZeroRange(seg, start, 512); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestRepairFromLastSegmentDamage damages the last segment of real raft
// replicas' WALs where records, HardStates among them, follow the damage
// (not a torn tail at the end of the log), and repairs the member from a
// replica: the newest HardState is read past the damage and kept, and the
// result is what repairFromCase checks (verify clean, etcd's restart path
// and raft succeed, entries byte-identical to the donor's, restore puts
// the damage back).
func TestRepairFromLastSegmentDamage(t *testing.T) {
	for _, snaps := range []bool{false, true} {
		src := t.TempDir()
		opts := fixture.ClusterOptions{Groups: 1, Proposals: 30, SegmentSize: 16 << 10, MaxWALFiles: 1000, MaxSnapFiles: 1000, NoSnapshots: !snaps, SnapshotEvery: 90}
		res, err := fixture.RaftCluster(filepath.Join(src, "c"), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, member := range []uint64{1, 3} {
			for _, d := range lastDamages {
				t.Run(fmt.Sprintf("snapshots=%v/node-%d/%s", snaps, member, d.name), func(t *testing.T) {
					var hit fixture.RecordPos
					dd := damage{d.name, func(t *testing.T, seg string) {
						hit = lastSegEntry(t, seg)
						d.do(t, seg)
					}}
					p := repairFromCaseAt(t, res, member, 2, dd, true)
					// The damaged entry came from the donor, and the
					// HardState was read past the damage.
					if hit.Index <= p.Snapshot.Index || hit.Index > p.CopyTo {
						t.Fatalf("damaged entry %d is not among those copied (%d..%d)", hit.Index, p.Snapshot.Index+1, p.CopyTo)
					}
					if !strings.Contains(strings.Join(p.Notes, "\n"), "read past the damage in its last segment") {
						t.Fatalf("plan notes: %q", p.Notes)
					}
					t.Logf("damage: %q", p.Damage)
				})
			}
		}
	}
}

// TestRepairFromTornTailIsNotDamage: a sector lost inside the last write
// (zeros, then the rest of that wal.Save up to the end of the log) is a
// torn tail a crash leaves: plain repair's, not read past by repair
// --from, which finds nothing to do from a replica.
func TestRepairFromTornTailIsNotDamage(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	writeMember(t, a, 1, chunks(2, 600, 2)...)
	writeMember(t, b, 2, chunks(2, 600, 2)...)
	mg := discover(t, a)
	segs := segPaths(t, mg)
	last := segs[len(segs)-1]
	recs, err := fixture.EntryRecords(last)
	if err != nil || len(recs) < 10 {
		t.Fatalf("%d entry records, %v", len(recs), err)
	}
	r := recs[len(recs)-6]
	start := (r.Offset + 511) &^ 511
	if err := fixture.ZeroRange(last, start, 512); err != nil {
		t.Fatal(err)
	}
	fs := verifyFindings(t, mg)
	if !slices.Contains(codes(fs), inspect.CodeTornTail) || hasError(fs) {
		t.Fatalf("verify: %v, want a torn tail and no error", codes(fs))
	}
	p, err := PlanRepairFrom(context.Background(), mg, discover(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Refusals) != 0 || !p.Empty() || !strings.Contains(strings.Join(p.Notes, "\n"), "nothing to repair from a replica") {
		t.Fatalf("plan: %+v", p.Plan)
	}
}

// TestRepairFromNoEntryAfterDamage: damage to the last entry record of the
// last segment, followed only by HardStates: the damaged bytes may have
// held entries the member acknowledged, so its last index is unknown, and
// repair --from refuses (precisely), changing nothing.
func TestRepairFromNoEntryAfterDamage(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	spans := append(chunks(2, 600, 2), span{601, 600, 2, 590}, span{601, 600, 2, 595}, span{601, 600, 2, 600})
	writeMember(t, a, 1, spans...)
	writeMember(t, b, 2, spans...)
	mg := discover(t, a)
	segs := segPaths(t, mg)
	last := segs[len(segs)-1]
	recs, err := fixture.EntryRecords(last)
	if err != nil || len(recs) == 0 {
		t.Fatalf("%d entry records, %v", len(recs), err)
	}
	r := recs[len(recs)-1]
	if err := fixture.FlipByte(last, r.DataOffset()+r.DataLen-2); err != nil {
		t.Fatal(err)
	}
	before := fileSums(t, a)
	p, err := PlanRepairFrom(context.Background(), mg, discover(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Refusals) != 1 || p.Refusals[0].Code != CodeFromCannot || !strings.Contains(p.Refusals[0].Message, "its last index is unknown") {
		t.Fatalf("plan: %+v", p.Plan)
	}
	t.Logf("refused: %s", p.Refusals[0].Message)
	sameSums(t, "refused member", fileSums(t, a), before)
}

// TestResumedHardStateDoubt: a HardState read past damage is refused as
// the member's newest when an earlier HardState or entry contradicts
// Raft's order (term and commit never fall, the vote changes only with the
// term, no earlier entry has a higher term).
func TestResumedHardStateDoubt(t *testing.T) {
	earlier := func(hs inspect.HardState, lastTerm uint64) []logPart {
		return []logPart{{log: &inspect.Log{HardState: hs, HasHardState: true, LastIndex: 50, LastTerm: lastTerm}}, {log: &inspect.Log{}}}
	}
	hs := inspect.HardState{Term: 5, Vote: 2, Commit: 40}
	for _, c := range []struct {
		name  string
		parts []logPart
		doubt bool
	}{
		{"consistent", earlier(inspect.HardState{Term: 4, Vote: 1, Commit: 30}, 4), false},
		{"same term and vote", earlier(inspect.HardState{Term: 5, Vote: 2, Commit: 40}, 5), false},
		{"no vote yet", earlier(inspect.HardState{Term: 5, Vote: 0, Commit: 35}, 5), false},
		{"higher term", earlier(inspect.HardState{Term: 6, Vote: 2, Commit: 30}, 5), true},
		{"higher commit", earlier(inspect.HardState{Term: 5, Vote: 2, Commit: 41}, 5), true},
		{"other vote", earlier(inspect.HardState{Term: 5, Vote: 3, Commit: 30}, 5), true},
		{"entry of a higher term", earlier(inspect.HardState{Term: 4, Vote: 1, Commit: 30}, 6), true},
	} {
		if why := resumedHardStateDoubt(c.parts, hs); (why != "") != c.doubt {
			t.Errorf("%s: %q", c.name, why)
		}
	}
}
