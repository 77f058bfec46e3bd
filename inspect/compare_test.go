package inspect

import (
	"context"
	"os"
	"path/filepath"
	"testing"
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
	if c.AgreedCommit != 80 || len(c.Violations) != 0 || c.Recommended == "" {
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
	if c.AgreedCommit != 40 || len(c.Violations) != 0 {
		t.Errorf("agreed %d violations %v", c.AgreedCommit, c.Violations)
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
	// Recovering from b discards 3 committed (46..48) and 2 uncommitted entries of a.
	if l := c.Losses[0]; l.Committed != 3 || l.Uncommitted != 2 {
		t.Errorf("loss %+v", l)
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
