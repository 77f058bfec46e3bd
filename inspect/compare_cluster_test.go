package inspect

import (
	"path/filepath"
	"testing"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestCompareRealPartition compares replicas that real raft.RawNodes wrote
// while node 1, the old leader, was partitioned and kept accepting
// proposals it could not commit, and node 2 won term 3 and committed its
// own entries at the same indexes: compare must find the divergence at the
// first orphan, recommend a term-3 replica, and count the orphans as
// uncommitted losses of node 1 (nothing committed is lost). After the
// partition healed, the same replicas agree.
func TestCompareRealPartition(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "partitioned")
	const orphans = 4
	if _, err := fixture.RaftCluster(filepath.Join(dir, "healed"), fixture.ClusterOptions{Groups: 1, Orphans: orphans, PartitionCopy: part}); err != nil {
		t.Fatal(err)
	}
	servers := []string{filepath.Join(part, "node-1"), filepath.Join(part, "node-2"), filepath.Join(part, "node-3")}
	c := compareServers(t, servers)
	if len(c.Violations) != 0 {
		t.Fatalf("violations: %v", c.Violations)
	}
	p12 := c.Pairs[0]
	if p12.Index == 0 || p12.TermA != 2 || p12.TermB != 3 || p12.CommittedConflict {
		t.Fatalf("node-1 ~ node-2: %+v", p12)
	}
	if p23 := c.Pairs[2]; p23.Index != 0 {
		t.Errorf("node-2 ~ node-3 should agree: %+v", p23)
	}
	if c.Recommended != servers[1] && c.Recommended != servers[2] {
		t.Fatalf("recommended %s, want a term-3 replica", c.Recommended)
	}
	for _, l := range c.Losses {
		if l.Server == servers[0] {
			if l.Committed != 0 || l.Uncommitted != orphans || l.From != p12.Index {
				t.Errorf("node-1 loses %+v, want %d uncommitted from %d", l, orphans, p12.Index)
			}
		}
	}
	// Recovering from the recommended replica loses no committed entry: it
	// holds every index any replica committed, at the same term.
	var rec *Replica
	for _, r := range c.Replicas {
		if r.Server == c.Recommended {
			rec = r
		}
	}
	for _, r := range c.Replicas {
		for i := max(r.start(), rec.start()); i <= r.HardState.Commit; i++ {
			want, ok1 := r.log.TermAt(i)
			got, ok2 := rec.log.TermAt(i)
			if !ok1 || !ok2 || want != got {
				t.Fatalf("%s committed index %d (term %d); the recommended replica has term %d (%v)", r.Server, i, want, got, ok2)
			}
		}
	}
	// And raft itself restarts from it.
	deep, err := Verify(t.Context(), rec.Group, VerifyOptions{Deep: true, NoLockCheck: true})
	if err != nil || deep.Status == StatusError {
		t.Fatalf("deep verify of the recommended replica: %v %+v", err, deep)
	}
	// The proven commit is the term-3 leader's; node 1's orphaned term-2
	// tail is replaced by the committed term-3 entries if it is recovered.
	if c.ProvenTerm != 3 || c.ProvenCommit < p12.Index || c.ProvenCommit != max(c.Replicas[1].HardState.Commit, c.Replicas[2].HardState.Commit) {
		t.Errorf("proven commit %d@%d, divergence at %d", c.ProvenCommit, c.ProvenTerm, p12.Index)
	}
	if n1 := c.Candidates[0]; n1.RecoverKeep != c.ProvenCommit || n1.AppendFrom != p12.Index || n1.Donor == "" || n1.ForceKeep >= p12.Index {
		t.Errorf("node-1 candidate %+v", n1)
	}
	for _, r := range c.Replicas {
		if r.ClusterID == "" || r.MemberID == "" || r.ClusterID != c.ClusterID {
			t.Errorf("%s: member %q cluster %q (comparison %q)", r.Server, r.MemberID, r.ClusterID, c.ClusterID)
		}
	}

	healed := []string{filepath.Join(dir, "healed", "node-1"), filepath.Join(dir, "healed", "node-2"), filepath.Join(dir, "healed", "node-3")}
	h := compareServers(t, healed)
	for _, p := range h.Pairs {
		if p.Index != 0 {
			t.Errorf("healed replicas diverge: %+v", p)
		}
	}
}
