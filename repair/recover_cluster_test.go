//go:build unix

package repair

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestRecoverElectionRuleLoses: real raft nodes (fixture.RaftCluster,
// written by etcd's wal and snap packages) stopped at different points of
// the same run, as members of a cluster that lost its quorum are: one node
// is copied right after it persisted entries whose commit it had not
// learnt yet, another after it learnt a higher commit but when it held no
// more entries. Raft's election rule (last term, then last index) lets the
// first win; etcd's restart path on it keeps only its own commit,
// so plain --force-new-cluster there loses entries the other's HardState
// proves committed. raftctl's recommendation keeps them, and recover on
// the election rule's choice raises its commit so that it keeps them too.
func TestRecoverElectionRuleLoses(t *testing.T) {
	opts := fixture.ClusterOptions{Groups: 1, Proposals: 12, NoSnapshots: true}
	// Every node is copied after every Ready it persisted: what a crash
	// there leaves (a HardState whose commit alone changed is not flushed
	// by etcd's wal.Save, so the durable commit lags what the node knew).
	type point struct {
		seq  int
		node uint64
		dir  string
		s    *inspect.GroupSummary
	}
	root := t.TempDir()
	src := filepath.Join(root, "c")
	var points []*point
	var copyErr error
	opts.OnPersisted = func(p fixture.Persisted) {
		if p.Node > 3 || copyErr != nil {
			return
		}
		pt := &point{seq: len(points), node: p.Node, dir: filepath.Join(root, "points", fmt.Sprint(len(points)), fmt.Sprintf("node-%d", p.Node))}
		copyErr = fixture.CopyDir(filepath.Join(src, fmt.Sprintf("node-%d", p.Node), "group-1"), pt.dir)
		points = append(points, pt)
	}
	res, err := fixture.RaftCluster(src, opts)
	if err != nil || copyErr != nil {
		t.Fatal(err, copyErr)
	}
	ctx := context.Background()
	for _, pt := range points {
		g, err := inspect.Discover([]string{pt.dir}, inspect.DiscoverOptions{})
		if err != nil || len(g) != 1 {
			t.Fatal(err)
		}
		if pt.s, err = inspect.Summarize(ctx, g[0]); err != nil {
			t.Fatal(err)
		}
	}
	// The pair that shows it best: x taken by the election rule, y proving
	// the most committed entries x does not keep.
	var bx, by *point
	best := uint64(0)
	for _, x := range points {
		for _, y := range points {
			sx, sy := x.s, y.s
			if x.node == y.node {
				continue
			}
			// Same last term (no divergence between them), x at least as
			// long: the election rule takes x (ties go to the first
			// listed, as any of them may win a real election).
			prefer := sx.LastTerm == sy.LastTerm && sx.LastIndex >= sy.LastIndex
			if prefer && sy.HardState.Commit > sx.HardState.Commit && sy.HardState.Commit-sx.HardState.Commit > best {
				bx, by, best = x, y, sy.HardState.Commit-sx.HardState.Commit
			}
		}
	}
	if best == 0 {
		t.Fatal("no point of the run where the election rule's choice lacks a commit another node proves")
	}
	committed := res.Groups[0].Committed
	x, y := bx.dir, by.dir
	xc, yc := bx.s.HardState.Commit, by.s.HardState.Commit
	servers := []string{x, y}
	comps, err := inspect.CompareGroups(ctx, servers, recoverGroups(t, servers), inspect.VerifyOptions{NoLockCheck: true})
	if err != nil || len(comps) != 1 {
		t.Fatalf("compare: %d groups, %v", len(comps), err)
	}
	c := comps[0]
	cx := c.Candidate(x)
	if c.ElectionChoice != x || c.ProvenCommit != yc || cx.ForceKeep != xc || cx.ForceLoses != best {
		t.Fatalf("compare: election choice %s, proven commit %d, force-new-cluster on it keeps %d and loses %d; want %s, %d, %d, %d",
			c.ElectionChoice, c.ProvenCommit, cx.ForceKeep, cx.ForceLoses, x, yc, xc, best)
	}
	if len(c.Violations) != 0 {
		t.Fatalf("violations: %v", c.Violations)
	}
	// What etcd's restart path keeps on the election rule's choice.
	plain, err := fixture.EtcdRestart(filepath.Join(x, "wal"), filepath.Join(x, "snap"), fixture.RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Commit != xc {
		t.Fatalf("the election rule's choice restarts with commit %d, want %d", plain.Commit, xc)
	}
	// The entries it would discard were committed by the cluster.
	for i := plain.Commit + 1; i <= yc; i++ {
		e, ok := plain.Entry(i)
		if !ok || int(i) > len(committed) || committed[i-1].Index != i || e.Term != committed[i-1].Term || e.Hash != fixture.HashData(committed[i-1].Data) {
			t.Fatalf("entry %d is not the committed one", i)
		}
	}
	// raftctl's recommendation keeps every provably committed entry.
	rec := c.Candidate(c.Recommended)
	if rec.RecoverKeep != yc || rec.RecoverLoses != 0 {
		t.Fatalf("recommendation %s keeps %d, loses %d", c.Recommended, rec.RecoverKeep, rec.RecoverLoses)
	}
	// Recover on the election rule's choice raises its commit: a restart
	// then keeps the committed entries.
	p, err := PlanRecover(ctx, servers, recoverGroups(t, servers), RecoverOptions{Member: x})
	if err != nil || len(p.Refusals) != 0 || p.NewHardState.Commit != yc || p.Loses != 0 {
		t.Fatalf("recover plan on %s: %+v %v", x, p, err)
	}
	if _, err := ApplyRecover(ctx, p, ApplyOptions{BackupDir: filepath.Join(root, "backup")}); err != nil {
		t.Fatal(err)
	}
	after, err := fixture.EtcdRestart(filepath.Join(x, "wal"), filepath.Join(x, "snap"), fixture.RestartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Commit != yc {
		t.Fatalf("after recover: commit %d, want %d", after.Commit, yc)
	}
	for i := uint64(1); i <= after.Commit; i++ {
		if e, ok := after.Entry(i); ok && (e.Term != committed[i-1].Term || e.Hash != fixture.HashData(committed[i-1].Data)) {
			t.Fatalf("after recover: entry %d is not the committed one", i)
		}
	}
	recNode := bx.node
	if c.Recommended == y {
		recNode = by.node
	}
	t.Logf("node %d stopped at point %d (last %d@%d, commit %d) is the election rule's choice; node %d stopped at point %d (last %d@%d) proves commit %d: "+
		"plain --force-new-cluster on node %d keeps up to %d and loses %d committed entries; raftctl recommends node %d (keeps %d); recover on node %d raises its commit to %d and keeps them all",
		bx.node, bx.seq, bx.s.LastIndex, bx.s.LastTerm, xc, by.node, by.seq, by.s.LastIndex, by.s.LastTerm, yc,
		bx.node, plain.Commit, best, recNode, rec.RecoverKeep, bx.node, after.Commit)
}
