package inspect

import (
	"context"
	"fmt"
	"testing"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestVerifyRaftClusterClean verifies, in default and deep mode, what real
// raft.RawNodes wrote through etcd's wal and snap packages (conf changes,
// a partitioned leader whose entries were overwritten, snapshots received
// from the leader, purged segments and snapshot files): no finding but
// info may appear.
func TestVerifyRaftClusterClean(t *testing.T) {
	if testing.Short() {
		t.Skip("runs raft clusters")
	}
	for _, opts := range []fixture.ClusterOptions{
		{},
		{Groups: 2, SnapshotEvery: 3, CatchUpEntries: 1, MaxSnapFiles: 2, Seed: 7},
		{Groups: 1, NoSnapshots: true, Layout: fixture.LayoutFlat},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			dir := t.TempDir()
			segSizeMu.Lock()
			_, err := fixture.RaftCluster(dir, opts)
			segSizeMu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			groups, err := Discover([]string{dir}, DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, deep := range []bool{false, true} {
				rep, err := VerifyAll(context.Background(), groups, VerifyOptions{Deep: deep})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Summary.OK != len(groups) {
					t.Errorf("deep=%v: summary %+v", deep, rep.Summary)
				}
				for _, g := range rep.Groups {
					checkReportShape(t, g)
					if g.Status != StatusOK {
						t.Errorf("deep=%v: group %s: %s\n%s", deep, g.Name, g.Status, dumpFindings(g))
					}
				}
			}
		})
	}
}

// TestVerifyEmbeddedEtcdClean verifies a real etcd server's data
// directory, snapshots and purges included.
func TestVerifyEmbeddedEtcdClean(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	dir := t.TempDir()
	keys := map[string]string{}
	for k := 0; k < 300; k++ {
		keys[fmt.Sprintf("/raftctl/key-%03d", k)] = fmt.Sprintf("value-%d-%0200d", k, k)
	}
	segSizeMu.Lock()
	err := fixture.EmbeddedEtcd(dir, keys, fixture.WithSnapshotCount(10), fixture.WithSnapshotCatchUpEntries(5), fixture.WithEtcdSegmentSize(8*1024), fixture.WithMaxFiles(3, 2))
	segSizeMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	groups, err := Discover([]string{dir}, DiscoverOptions{})
	if err != nil || len(groups) != 1 {
		t.Fatalf("discover: %v %v", groups, err)
	}
	for _, deep := range []bool{false, true} {
		rep, err := Verify(context.Background(), groups[0], VerifyOptions{Deep: deep})
		if err != nil {
			t.Fatal(err)
		}
		checkReportShape(t, rep)
		if rep.Status != StatusOK {
			t.Errorf("deep=%v: %s\n%s", deep, rep.Status, dumpFindings(rep))
		}
	}
	segs, _, _ := ListSegments(groups[0].WALDir)
	snaps, _ := ListSnapFiles(groups[0].SnapDir)
	if len(segs) < 3 || len(snaps) < 2 {
		t.Errorf("want several segments and snapshots: %d segments, %d snapshots", len(segs), len(snaps))
	}
}
