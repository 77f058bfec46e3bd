//go:build unix

package repair

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// realGroup is a group written by a real writer, and the segment size it
// was written with.
type realGroup struct {
	name    string
	g       inspect.Group
	segSize int64
}

// realGroups writes the groups compaction is tried on: etcd's wal and
// snap packages with small and with etcd's default 64 MB segments (a
// leader change overwrote entries in both), a node of a raft.RawNode
// cluster, and an embedded etcd server's member (no purge, so that
// compaction has work).
func realGroups(t *testing.T) []realGroup {
	t.Helper()
	root := t.TempDir()
	var out []realGroup
	small := compactSpec()
	small.Dir = filepath.Join(root, "small")
	small.Overwrite = []fixture.Overwrite{{FromIndex: 395, Term: 2, Count: 4}}
	g, _ := writeGroup(t, small)
	out = append(out, realGroup{"writegroup-4KiB", g, small.SegmentSize})

	big := fixture.GroupSpec{Dir: filepath.Join(root, "big"), Entries: 3000, EntrySize: 1000, SegmentSize: 64 * 1000 * 1000,
		SnapshotEvery: 400, Seed: 9, Bootstrap: true, Overwrite: []fixture.Overwrite{{FromIndex: 2990, Term: 2, Count: 5}}}
	g, _ = writeGroup(t, big)
	out = append(out, realGroup{"writegroup-64MB", g, big.SegmentSize})

	c, err := fixture.RaftCluster(filepath.Join(root, "cluster"), fixture.ClusterOptions{Groups: 1, Proposals: 120, SegmentSize: 8 << 10,
		SnapshotEvery: 20, MaxWALFiles: 1000, MaxSnapFiles: 1000, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	n := c.Groups[0].Nodes[0]
	out = append(out, realGroup{"raftcluster", discover(t, n.Dir), 8 << 10})

	if !testing.Short() {
		dir := filepath.Join(root, "etcd")
		if err := fixture.EmbeddedEtcd(dir, etcdKeys(), fixture.WithSnapshotCount(25), fixture.WithSnapshotCatchUpEntries(5),
			fixture.WithEtcdSegmentSize(16*1024), fixture.WithMaxFiles(0, 0)); err != nil {
			t.Fatal(err)
		}
		out = append(out, realGroup{"embedded-etcd", discover(t, filepath.Join(dir, "member")), 16 * 1024})
	}
	return out
}

func etcdKeys() map[string]string {
	keys := map[string]string{}
	for k := 0; k < 300; k++ {
		keys[fmt.Sprintf("/k/%03d", k)] = strings.Repeat(fmt.Sprint(k%10), 100)
	}
	return keys
}

// TestCompactRealGroupsVerifyOK: on groups written by real writers,
// compaction (etcd's purge, and a rewrite) leaves a group that verify
// calls ok, that etcd's ReadAll and etcd's restart path read exactly as
// before, and whose rewritten WAL has the group's own segment size; an
// embedded etcd restarts from it and serves every key.
func TestCompactRealGroupsVerifyOK(t *testing.T) {
	ctx := context.Background()
	for _, rg := range realGroups(t) {
		rep, err := inspect.Verify(ctx, rg.g, inspect.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Status != inspect.StatusOK {
			t.Fatalf("%s: the fixture verifies %s: %v", rg.name, rep.Status, codes(rep.Findings))
		}
		for _, tc := range []struct {
			name string
			opts CompactOptions
		}{
			{"defaults", CompactOptions{KeepWAL: DefaultKeepWAL, KeepSnapshots: DefaultKeepSnapshots}},
			{"keep-one", CompactOptions{KeepWAL: 1, KeepSnapshots: 1}},
			{"rewrite", CompactOptions{KeepSnapshots: DefaultKeepSnapshots, Rewrite: true}},
		} {
			t.Run(rg.name+"/"+tc.name, func(t *testing.T) {
				g := copyGroup(t, rg.g, filepath.Join(t.TempDir(), "g"))
				if rg.name == "embedded-etcd" {
					g = copyEtcd(t, rg.g)
				}
				etcdBefore := readAll(t, g.WALDir)
				restartBefore, err := fixture.EtcdRestart(g.WALDir, g.SnapDir, fixture.RestartOptions{})
				if err != nil {
					t.Fatal(err)
				}
				out, err := Compact(ctx, g, RunOptions{Compact: tc.opts, BackupDir: func(int) string { return filepath.Join(t.TempDir(), "backup") }})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Rounds) == 0 {
					t.Fatalf("nothing compacted: notes %v refusals %+v", out.Plan.Notes, out.Plan.Refusals)
				}
				if out.Problem || out.StatusAfter != inspect.StatusOK {
					t.Fatalf("compact: problem %v, status after %s, findings %v", out.Problem, out.StatusAfter, out.FindingsLeft)
				}
				rep, err := inspect.Verify(ctx, g, inspect.VerifyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Status != inspect.StatusOK {
					t.Fatalf("verify after compaction: %s %+v", rep.Status, rep.Findings)
				}
				sameEtcdState(t, "etcd ReadAll after compaction", readAll(t, g.WALDir), etcdBefore)
				restartAfter, err := fixture.EtcdRestart(g.WALDir, g.SnapDir, fixture.RestartOptions{})
				if err != nil {
					t.Fatalf("etcd restart after compaction: %v", err)
				}
				if restartAfter.SnapIndex != restartBefore.SnapIndex || restartAfter.Commit != restartBefore.Commit ||
					restartAfter.LastIndex != restartBefore.LastIndex || !slices.Equal(restartAfter.Entries, restartBefore.Entries) {
					t.Fatalf("etcd restarts at snapshot %d, commit %d, last %d, %d entries; before: %d, %d, %d, %d",
						restartAfter.SnapIndex, restartAfter.Commit, restartAfter.LastIndex, len(restartAfter.Entries),
						restartBefore.SnapIndex, restartBefore.Commit, restartBefore.LastIndex, len(restartBefore.Entries))
				}
				if tc.opts.Rewrite {
					if got := out.Rounds[0].Actions[0]; got.Kind != Replace {
						t.Fatalf("first action %s", got.Kind)
					}
					segs := segPaths(t, g)
					fi, err := os.Stat(segs[len(segs)-1])
					if err != nil {
						t.Fatal(err)
					}
					if fi.Size() != rg.segSize {
						t.Fatalf("the rewritten WAL's last segment is %d bytes, the group's segments %d", fi.Size(), rg.segSize)
					}
				}
				if rg.name == "embedded-etcd" {
					got := map[string]string{}
					if err := fixture.EmbeddedEtcd(filepath.Dir(g.Dir), map[string]string{"/after": "restart"}, fixture.WithReadBack(got),
						fixture.WithEtcdSegmentSize(16*1024)); err != nil {
						t.Fatal(err)
					}
					want := etcdKeys()
					want["/after"] = "restart"
					if !maps.Equal(got, want) {
						t.Fatalf("etcd serves %d keys, want %d", len(got), len(want))
					}
				}
			})
		}
	}
}

// copyEtcd copies an embedded etcd's data directory (the member's parent)
// and returns its member group.
func copyEtcd(t *testing.T, member inspect.Group) inspect.Group {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "etcd")
	if err := fixture.CopyDir(filepath.Dir(member.Dir), dst); err != nil {
		t.Fatal(err)
	}
	return discover(t, filepath.Join(dst, "member"))
}

// TestBackupMovesWholeFiles: a file an operation removes or replaces
// whole goes into the backup as the very same file (a hard link, no byte
// copied), and restore still gives back every byte.
func TestBackupMovesWholeFiles(t *testing.T) {
	ctx := context.Background()
	stats := func(t *testing.T, paths []string) map[string]os.FileInfo {
		t.Helper()
		out := map[string]os.FileInfo{}
		for _, p := range paths {
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = fi
		}
		return out
	}
	check := func(t *testing.T, g inspect.Group, plan *Plan) {
		t.Helper()
		before := fileSums(t, g.Dir)
		var paths []string
		for _, f := range plan.Files {
			paths = append(paths, f.Path)
		}
		if len(paths) == 0 {
			t.Fatalf("plan %v backs up nothing", kinds(plan.Actions))
		}
		old := stats(t, paths)
		bd := filepath.Join(t.TempDir(), "backup")
		if _, err := Apply(ctx, plan, ApplyOptions{BackupDir: bd}); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(bd)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			ap, err := filepath.Abs(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(m.Root, ap)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(filepath.Join(bd, rel))
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(fi, old[p]) {
				t.Errorf("%s was copied into the backup, not moved", rel)
			}
		}
		if _, err := Restore(ctx, bd); err != nil {
			t.Fatal(err)
		}
		sameSums(t, "after restore", fileSums(t, g.Dir), before)
	}
	t.Run("compact", func(t *testing.T) {
		g, _ := writeGroup(t, compactSpec())
		plan, err := PlanCompact(ctx, g, CompactOptions{KeepWAL: 1, KeepSnapshots: 1})
		if err != nil {
			t.Fatal(err)
		}
		check(t, g, plan)
	})
	t.Run("rewrite", func(t *testing.T) {
		g, _ := writeGroup(t, compactSpec())
		plan, err := PlanCompact(ctx, g, CompactOptions{Rewrite: true})
		if err != nil {
			t.Fatal(err)
		}
		check(t, g, plan)
	})
	t.Run("torn-tail", func(t *testing.T) {
		g, _ := writeGroup(t, baseSpec())
		zeroLastSector(t, g)
		plan, err := PlanRepair(ctx, g, detect(t, g))
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Actions) != 1 || plan.Actions[0].Kind != Truncate {
			t.Fatalf("plan %v", kinds(plan.Actions))
		}
		check(t, g, plan)
	})
}
