package inspect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// replicaDirs writes one group "g" per server under root with the given
// scripts and returns the server paths.
func replicaDirs(t *testing.T, scripts ...[]op) []string {
	t.Helper()
	root := t.TempDir()
	var servers []string
	for k, ops := range scripts {
		srv := filepath.Join(root, "node-"+string(rune('a'+k)))
		writeWAL(t, filepath.Join(srv, "g"), 64*1024, ops)
		servers = append(servers, srv)
	}
	return servers
}

func compareServers(t *testing.T, servers []string) *Comparison {
	t.Helper()
	var groups [][]Group
	for _, s := range servers {
		gs, err := Discover([]string{s}, DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, gs)
	}
	cs, err := CompareGroups(context.Background(), servers, groups, VerifyOptions{NoLockCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || len(cs[0].Replicas) != len(servers) {
		t.Fatalf("comparisons %+v", cs)
	}
	return cs[0]
}

func TestCompareInSync(t *testing.T) {
	ops := []op{{from: 1, to: 80, term: 2, size: 40, commit: 80}}
	c := compareServers(t, replicaDirs(t, ops, ops, ops))
	for _, p := range c.Pairs {
		if p.Index != 0 || p.IdenticalUpTo != 80 || p.CommittedConflict {
			t.Errorf("pair %+v", p)
		}
	}
	if c.ProvenCommit != 80 || len(c.Violations) != 0 || c.Recommended == "" {
		t.Errorf("comparison %+v", c)
	}
	for _, l := range c.Losses {
		if l.Committed != 0 || l.Uncommitted != 0 {
			t.Errorf("loss %+v", l)
		}
	}
}

func TestCompareDivergedTail(t *testing.T) {
	// a: the old leader kept appending at term 1 while partitioned; b: the
	// new leader wrote term 2 from 46 and committed it; c lags behind b.
	a := []op{{from: 1, to: 50, term: 1, size: 40, commit: 40}}
	b := []op{{from: 1, to: 45, term: 1, size: 40, commit: 40}, {from: 46, to: 60, term: 2, size: 40, commit: 55}}
	cc := []op{{from: 1, to: 45, term: 1, size: 40, commit: 40}, {from: 46, to: 52, term: 2, size: 40, commit: 50}}
	servers := replicaDirs(t, a, b, cc)
	c := compareServers(t, servers)
	ab := c.Pairs[0]
	if ab.Index != 46 || ab.TermA != 1 || ab.TermB != 2 || ab.IdenticalUpTo != 45 || ab.CommittedConflict {
		t.Errorf("a/b: %+v", ab)
	}
	bc := c.Pairs[2]
	if bc.Index != 0 || bc.IdenticalUpTo != 52 {
		t.Errorf("b/c: %+v", bc)
	}
	if c.Recommended != servers[1] {
		t.Errorf("recommended %s, want %s", c.Recommended, servers[1])
	}
	if c.ProvenCommit != 55 || c.ProvenTerm != 2 || c.ProvenBy != servers[1] || len(c.Violations) != 0 {
		t.Errorf("proven %d@%d by %s, violations %v", c.ProvenCommit, c.ProvenTerm, c.ProvenBy, c.Violations)
	}
	// a's uncommitted term-1 tail is replaced by b's committed entries; c
	// lacks 53..55 and gets them from b.
	for k, want := range []Candidate{
		{Server: servers[0], Eligible: true, Proven: 45, ForceKeep: 40, ForceDiscard: 10, ForceLoses: 15, RecoverKeep: 55, Donor: servers[1], AppendFrom: 46},
		{Server: servers[1], Eligible: true, Proven: 55, ForceKeep: 55, ForceDiscard: 5, RecoverKeep: 55},
		{Server: servers[2], Eligible: true, Proven: 52, ForceKeep: 50, ForceDiscard: 2, ForceLoses: 5, RecoverKeep: 55, Donor: servers[1], AppendFrom: 53},
	} {
		if got := c.Candidates[k]; got != want {
			t.Errorf("candidate %d:\n got %+v\nwant %+v", k, got, want)
		}
	}
	for _, l := range c.Losses {
		switch l.Server {
		case servers[0]:
			if l.From != 46 || l.Committed != 0 || l.Uncommitted != 5 {
				t.Errorf("a's loss %+v", l)
			}
		case servers[2]:
			if l.From != 0 || l.Committed+l.Uncommitted != 0 {
				t.Errorf("c's loss %+v", l)
			}
		}
	}
}

func TestCompareCommittedConflict(t *testing.T) {
	a := []op{{from: 1, to: 50, term: 1, size: 40, commit: 48}}
	b := []op{{from: 1, to: 45, term: 1, size: 40, commit: 40}, {from: 46, to: 60, term: 2, size: 40, commit: 55}}
	c := compareServers(t, replicaDirs(t, a, b))
	if len(c.Violations) != 1 || !c.Pairs[0].CommittedConflict {
		t.Fatalf("want a safety violation: %+v", c)
	}
	// No recovery keeps both committed histories: nothing is recommended.
	if c.Recommended != "" || !strings.Contains(c.Reason, "disagree") {
		t.Errorf("recommended %q (%s)", c.Recommended, c.Reason)
	}
}

func TestCompareBehindSnapshot(t *testing.T) {
	// b received a snapshot at 100 from the leader and continues after it.
	a := []op{{from: 1, to: 120, term: 3, size: 20, commit: 115}}
	b := []op{{from: 1, to: 10, term: 3, size: 20, commit: 10}, {snap: &[2]uint64{100, 3}}, {commit: 100}, {from: 101, to: 110, term: 3, size: 20, commit: 105}}
	servers := replicaDirs(t, a, b)
	c := compareServers(t, servers)
	p := c.Pairs[0]
	if p.Index != 0 || p.From != 100 || p.IdenticalUpTo != 110 {
		t.Errorf("pair %+v", p)
	}
	if c.Recommended != servers[0] {
		t.Errorf("recommended %s", c.Recommended)
	}
}

func TestCompareDamagedReplicaNotRecommended(t *testing.T) {
	a := []op{{from: 1, to: 60, term: 2, size: 40, commit: 60}}
	b := []op{{from: 1, to: 50, term: 2, size: 40, commit: 50}}
	servers := replicaDirs(t, a, b)
	// Damage a's log in the middle: its verify status becomes error.
	segs := listSegs(t, filepath.Join(servers[0], "g", "wal"))
	f, err := os.OpenFile(segs[0].Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xde, 0xad}, 900); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := compareServers(t, servers)
	if c.Replicas[0].Status != StatusError {
		t.Fatalf("damaged replica status %q", c.Replicas[0].Status)
	}
	if c.Recommended != servers[1] {
		t.Errorf("recommended %q, want the undamaged %q", c.Recommended, servers[1])
	}
}

// writeMember writes an etcd-like member directory <dir>/member/wal whose
// metadata names member and cluster, with the scripted entries.
func writeMember(t *testing.T, dir string, member, cluster uint64, ops []op) {
	t.Helper()
	md, err := fixture.Metadata(member, cluster)
	if err != nil {
		t.Fatal(err)
	}
	segSizeMu.Lock()
	defer segSizeMu.Unlock()
	w, err := wal.Create(zap.NewNop(), filepath.Join(dir, "member", "wal"), md)
	if err != nil {
		t.Fatal(err)
	}
	w.SetUnsafeNoFsync()
	var hs raftpb.HardState
	for _, o := range ops {
		var ents []*raftpb.Entry
		for i := o.from; i <= o.to && o.to != 0; i++ {
			ents = append(ents, &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(o.term), Type: raftpb.EntryNormal.Enum(), Data: []byte(fmt.Sprintf("entry %d", i))})
		}
		hs = raftpb.HardState{Term: proto.Uint64(max(o.term, hs.GetTerm())), Vote: proto.Uint64(member), Commit: proto.Uint64(max(o.commit, hs.GetCommit()))}
		if err := w.Save(&hs, ents); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestComparePairsEtcdMembersByClusterID: etcd data directories with
// different names are replicas of one group when their metadata names the
// same cluster; another cluster's member is never paired with them.
func TestComparePairsEtcdMembersByClusterID(t *testing.T) {
	root := t.TempDir()
	ops := []op{{from: 1, to: 20, term: 2, commit: 20}}
	servers := []string{filepath.Join(root, "infra1.etcd"), filepath.Join(root, "infra2.etcd"), filepath.Join(root, "infra3.etcd"), filepath.Join(root, "other.etcd")}
	writeMember(t, servers[0], 0x8e9e05c52164694d, 0xcdf818194e3a8c32, ops)
	writeMember(t, servers[1], 0x91bc3c398fb3c146, 0xcdf818194e3a8c32, ops)
	writeMember(t, servers[2], 0xfd422379fda50e48, 0xcdf818194e3a8c32, ops)
	writeMember(t, servers[3], 0x1, 0xabc, ops)
	cs := compareAll(t, servers)
	if len(cs) != 2 {
		t.Fatalf("want 2 comparisons, got %d", len(cs))
	}
	var three, one *Comparison
	for _, c := range cs {
		if len(c.Replicas) == 3 {
			three = c
		} else {
			one = c
		}
	}
	if three == nil || one == nil || three.ClusterID != "cdf818194e3a8c32" || three.Single || !one.Single || one.ClusterID != "abc" {
		t.Fatalf("comparisons %+v %+v", three, one)
	}
	if three.Replicas[0].MemberID != "8e9e05c52164694d" || three.Recommended == "" || three.ProvenCommit != 20 {
		t.Errorf("replica %+v, recommended %q", three.Replicas[0], three.Recommended)
	}
	if one.Recommended != "" || len(one.Notes) < 2 || !strings.Contains(strings.Join(one.Notes, "\n"), "cluster cdf818194e3a8c32") {
		t.Errorf("single: recommended %q notes %q", one.Recommended, one.Notes)
	}
	// Without etcd metadata, directories of different names are not
	// replicas of one group.
	plain := replicaDirs(t, ops, ops)
	if err := os.Rename(filepath.Join(plain[1], "g"), filepath.Join(plain[1], "h")); err != nil {
		t.Fatal(err)
	}
	if cs := compareAll(t, plain); len(cs) != 2 || !cs[0].Single || !cs[1].Single {
		t.Errorf("metadata-less groups of different names were paired: %+v", cs)
	}
}

func compareAll(t *testing.T, servers []string) []*Comparison {
	t.Helper()
	var groups [][]Group
	for _, s := range servers {
		gs, err := Discover([]string{s}, DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, gs)
	}
	cs, err := CompareGroups(context.Background(), servers, groups, VerifyOptions{NoLockCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestCompareElectionRuleLosesCommitted: the member that won the last
// election (its last entry has the newest term) had learnt a lower commit
// than another member: the election rule's choice with plain
// --force-new-cluster loses entries that the other's HardState proves
// committed; the recommendation keeps them.
func TestCompareElectionRuleLosesCommitted(t *testing.T) {
	// a: won term 3 and appended its first entry at 61, commit 50.
	a := []op{{from: 1, to: 60, term: 2, size: 30, commit: 50}, {from: 61, to: 61, term: 3, size: 30}}
	// b: the old leader's last heartbeat carried commit 58.
	b := []op{{from: 1, to: 60, term: 2, size: 30, commit: 58}}
	servers := replicaDirs(t, a, b)
	c := compareServers(t, servers)
	if c.ElectionChoice != servers[0] {
		t.Fatalf("election rule picks %s", c.ElectionChoice)
	}
	ea := c.Candidate(servers[0])
	if ea.ForceKeep != 50 || ea.ForceLoses != 8 || ea.RecoverKeep != 58 || ea.Donor != "" || ea.Proven != 58 {
		t.Errorf("a: %+v", ea)
	}
	if c.Recommended != servers[1] || c.ProvenCommit != 58 || c.Candidate(servers[1]).ForceLoses != 0 {
		t.Errorf("recommended %s, proven %d", c.Recommended, c.ProvenCommit)
	}
	if !strings.Contains(c.Reason, "election rule would pick "+servers[0]) || !strings.Contains(c.Reason, "loses 8 committed") {
		t.Errorf("reason %q", c.Reason)
	}
}

// TestCompareSwitchesFromDamagedMember: the member with the highest commit
// is damaged in the middle of its log; the recommendation moves to an
// undamaged one, raised to the highest commit the readable replicas prove.
func TestCompareSwitchesFromDamagedMember(t *testing.T) {
	a := []op{{from: 1, to: 60, term: 2, size: 40, commit: 50}}
	b := []op{{from: 1, to: 60, term: 2, size: 40, commit: 59}}
	cc := []op{{from: 1, to: 58, term: 2, size: 40, commit: 55}}
	servers := replicaDirs(t, a, b, cc)
	before := compareServers(t, servers)
	if before.Recommended != servers[1] {
		t.Fatalf("undamaged: recommended %s", before.Recommended)
	}
	segs := listSegs(t, filepath.Join(servers[1], "g", "wal"))
	f, err := os.OpenFile(segs[0].Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xde, 0xad}, 900); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := compareServers(t, servers)
	if c.Candidate(servers[1]).Eligible || c.Recommended == servers[1] || c.Recommended == "" {
		t.Fatalf("recommended %s, damaged candidate %+v", c.Recommended, c.Candidate(servers[1]))
	}
	if c.Recommended != servers[2] || c.ProvenCommit != 55 {
		t.Errorf("recommended %s (%s), proven %d", c.Recommended, c.Reason, c.ProvenCommit)
	}
	if ca := c.Candidate(servers[0]); ca.RecoverKeep != 55 || ca.Donor != "" {
		t.Errorf("a: %+v", ca)
	}
}
