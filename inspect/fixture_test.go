package inspect

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestRaftClusterAgreesWithReadAll reads what real raft.RawNodes wrote
// (a conf change, a partitioned leader whose entries were overwritten,
// snapshots, purged segments) and requires every group's summary and
// effective log to agree with etcd's ReadAll.
func TestRaftClusterAgreesWithReadAll(t *testing.T) {
	dir := t.TempDir()
	if _, err := fixture.RaftCluster(dir, fixture.ClusterOptions{}); err != nil {
		t.Fatal(err)
	}
	groups, err := Discover([]string{dir}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) < 12 {
		t.Fatalf("want 4 nodes x 3 groups, got %d groups", len(groups))
	}
	var overwritten int64
	for _, g := range groups {
		t.Run(g.Name, func(t *testing.T) {
			l := checkAgainstReadAll(t, g.WALDir)
			s, err := Summarize(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			if s.LastIndex != l.LastIndex || s.HardState != l.HardState || s.Segments < 3 || s.SnapFiles == 0 || s.Snapshot == nil {
				t.Errorf("summary %+v", s)
			}
			overwritten += l.Overwritten
		})
	}
	if overwritten == 0 {
		t.Error("the partitioned leader's overwritten entries were not seen")
	}
}

// TestEmbeddedEtcdAgreesWithReadAll reads a real etcd data directory.
func TestEmbeddedEtcdAgreesWithReadAll(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	dir := t.TempDir()
	keys := map[string]string{}
	for _, k := range []string{"alpha", "beta", "gamma"} {
		keys["/raftctl/"+k] = "value-of-" + k
	}
	if err := fixture.EmbeddedEtcd(dir, keys, fixture.WithSnapshotCount(5)); err != nil {
		t.Fatal(err)
	}
	groups, err := Discover([]string{dir}, DiscoverOptions{})
	if err != nil || len(groups) != 1 || groups[0].WALDir != filepath.Join(dir, "member", "wal") {
		t.Fatalf("discover etcd dir: %v %v", groups, err)
	}
	l := checkAgainstReadAll(t, groups[0].WALDir)
	found := 0
	err = EffectiveEntries(context.Background(), listSegs(t, groups[0].WALDir), l, func(e *Entry, r *Record) error {
		d := Describe(e, true)
		for k, v := range keys {
			if d == "" {
				continue
			}
			if strings.Contains(d, `key="`+k+`" value="`+v+`"`) {
				found++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != len(keys) {
		t.Errorf("found %d of %d puts decoded", found, len(keys))
	}
}
