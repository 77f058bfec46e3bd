//go:build unix

package repair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair/durable"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// span is a run of entries [from, to] at term, followed by a HardState
// with commit (0 keeps the previous one).
type span struct{ from, to, term, commit uint64 }

// writeMember writes <dir>/member/wal with etcd's wal package: a bootstrap
// conf change for voters 1..3 at index 1, then the spans. Entry data
// depends on index and term only, so equal (index, term) means equal bytes.
func writeMember(t *testing.T, dir string, id uint64, spans ...span) {
	t.Helper()
	md, err := fixture.Metadata(id, 0xc1)
	if err != nil {
		t.Fatal(err)
	}
	defer durable.LockSegmentSize(16 * 1024)()
	w, err := wal.Create(zap.NewNop(), filepath.Join(dir, "member", "wal"), md)
	if err != nil {
		t.Fatal(err)
	}
	w.SetUnsafeNoFsync()
	cc, _ := proto.Marshal(&raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{
		{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(1)},
		{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(2)},
		{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(3)}}})
	hs := &raftpb.HardState{Term: proto.Uint64(1), Vote: proto.Uint64(0), Commit: proto.Uint64(1)}
	if err := w.Save(hs, []*raftpb.Entry{{Index: proto.Uint64(1), Term: proto.Uint64(1), Type: raftpb.EntryConfChangeV2.Enum(), Data: cc}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range spans {
		var ents []*raftpb.Entry
		for i := s.from; i <= s.to; i++ {
			ents = append(ents, &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(s.term), Type: raftpb.EntryNormal.Enum(),
				Data: []byte(fmt.Sprintf("entry %d of term %d %0100d", i, s.term, i))})
		}
		hs = &raftpb.HardState{Term: proto.Uint64(max(s.term, hs.GetTerm())), Vote: proto.Uint64(2), Commit: proto.Uint64(max(s.commit, hs.GetCommit()))}
		if err := w.Save(hs, ents); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func recoverGroups(t *testing.T, servers []string) [][]inspect.Group {
	t.Helper()
	var gs [][]inspect.Group
	for _, s := range servers {
		g, err := inspect.Discover([]string{s}, inspect.DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	return gs
}

// TestRecoverAppendsCommittedEntries: a member whose uncommitted term-2
// tail conflicts with the term-3 entries another member's HardState proves
// committed is recovered: etcd's ReadAll then returns the donor's entries
// byte for byte up to the proven commit, with that commit, and the old
// term and vote kept or only raised; the backup restores the member.
func TestRecoverAppendsCommittedEntries(t *testing.T) {
	root := t.TempDir()
	a, b, c := filepath.Join(root, "infra1.etcd"), filepath.Join(root, "infra2.etcd"), filepath.Join(root, "infra3.etcd")
	writeMember(t, a, 1, span{2, 60, 2, 40})
	writeMember(t, b, 2, span{2, 45, 2, 40}, span{46, 80, 3, 75})
	writeMember(t, c, 3, span{2, 45, 2, 40}, span{46, 70, 3, 60})
	servers := []string{a, b, c}
	ctx := context.Background()
	p, err := PlanRecover(ctx, servers, recoverGroups(t, servers), RecoverOptions{Member: a})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Refusals) != 0 || p.Recommended != b || p.ProvenCommit != 75 || p.Donor != b || p.AppendFrom != 46 || p.AppendTo != 75 ||
		p.NewHardState != (inspect.HardState{Term: 3, Vote: 2, Commit: 75}) || p.ForceKeep != 40 || p.Keep != 75 || p.Loses != 0 {
		b, _ := json.MarshalIndent(p, "", " ")
		t.Fatalf("plan %s", b)
	}
	before := fileSums(t, a)
	// The plan survives a round trip through its JSON file.
	raw, _ := json.Marshal(p)
	var back RecoverPlan
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	res, err := ApplyRecover(ctx, &back, ApplyOptions{BackupDir: filepath.Join(root, "backup")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended != 30 || res.HardState.Commit != 75 {
		t.Fatalf("result %+v", res)
	}
	got := readAll(t, filepath.Join(a, "member", "wal"))
	donor := readAll(t, filepath.Join(b, "member", "wal"))
	if got.HS.GetCommit() != 75 || got.HS.GetTerm() != 3 || got.HS.GetVote() != 2 {
		t.Fatalf("HardState %v", got.HS)
	}
	if len(got.Ents) != 75 {
		t.Fatalf("%d entries", len(got.Ents))
	}
	for i, e := range got.Ents {
		if !proto.Equal(e, donor.Ents[i]) {
			t.Fatalf("entry %d differs from the donor's", e.GetIndex())
		}
	}
	// Planning again finds nothing to do.
	p2, err := PlanRecover(ctx, servers, recoverGroups(t, servers), RecoverOptions{Member: a})
	if err != nil || !p2.Empty() || p2.Keep != 75 {
		t.Fatalf("second plan %+v %v", p2, err)
	}
	// Restore puts the member back exactly. (It needs restore.go's undo
	// to treat Append as it treats Truncate: the segment rewritten in
	// place gets its backed-up content back.)
	if _, err := Restore(ctx, res.BackupDir); err != nil {
		t.Fatalf("restore after recover apply: %v", err)
	}
	sameSums(t, "restored member", fileSums(t, a), before)
	got = readAll(t, filepath.Join(a, "member", "wal"))
	if got.HS.GetCommit() != 40 || len(got.Ents) != 60 {
		t.Fatalf("restored member: commit %d, %d entries", got.HS.GetCommit(), len(got.Ents))
	}
}

// TestRecoverRaisesCommitOnly: the member that won the last election
// learnt a lower commit than another: recover raises its commit, appends
// nothing, and is stale-checked.
func TestRecoverRaisesCommitOnly(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	writeMember(t, a, 1, span{2, 60, 2, 50}, span{61, 61, 3, 0})
	writeMember(t, b, 2, span{2, 60, 2, 58})
	servers := []string{a, b}
	ctx := context.Background()
	p, err := PlanRecover(ctx, servers, recoverGroups(t, servers), RecoverOptions{Member: a})
	if err != nil {
		t.Fatal(err)
	}
	if p.Donor != "" || p.NewHardState.Commit != 58 || p.NewHardState.Term != 3 || p.ForceKeep != 50 || p.Keep != 58 {
		t.Fatalf("plan %+v", p)
	}
	// The group changes between plan and apply: stale.
	writeMember(t, filepath.Join(root, "c"), 3, span{2, 10, 2, 5})
	seg := p.Actions[0].Path
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.Stat(seg)
	f.Write([]byte{0})
	f.Close()
	var stale *StaleError
	if _, err := ApplyRecover(ctx, p, ApplyOptions{BackupDir: filepath.Join(root, "b1")}); !errors.As(err, &stale) {
		t.Fatalf("apply on a changed member: %v", err)
	}
	if err := os.Truncate(seg, orig.Size()); err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyRecover(ctx, p, ApplyOptions{BackupDir: filepath.Join(root, "b2")}); err != nil {
		t.Fatal(err)
	}
	st := readAll(t, filepath.Join(a, "member", "wal"))
	if st.HS.GetCommit() != 58 || st.HS.GetTerm() != 3 || len(st.Ents) != 61 {
		t.Fatalf("after: %v, %d entries", st.HS, len(st.Ents))
	}
}

// TestRecoverRefusesCommittedConflict: replicas that disagree on a
// committed entry are never combined.
func TestRecoverRefusesCommittedConflict(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	writeMember(t, a, 1, span{2, 50, 2, 48})
	writeMember(t, b, 2, span{2, 45, 2, 40}, span{46, 60, 3, 55})
	servers := []string{a, b}
	p, err := PlanRecover(context.Background(), servers, recoverGroups(t, servers), RecoverOptions{Member: a})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Refusals) == 0 || p.Refusals[0].Code != CodeCommittedConflict || !p.Empty() {
		t.Fatalf("plan %+v", p)
	}
	if _, err := ApplyRecover(context.Background(), p, ApplyOptions{}); !errors.Is(err, ErrRefused) {
		t.Fatalf("apply: %v", err)
	}
}
