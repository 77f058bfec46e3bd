package cmd_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/cmd"
	"github.com/raftctl/raftctl/testdata/fixture"
)

func run(t *testing.T, want int, args ...string) string {
	t.Helper()
	streams, out, errOut := cmd.TestStreams()
	if code := cmd.Run(context.Background(), streams, args); code != want {
		t.Fatalf("raftctl %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out.String()
}

// TestEtcdRestartsAfterCompactAndRepair: an etcd data directory that
// raftctl compacted and repaired starts again and serves every key it had.
func TestEtcdRestartsAfterCompactAndRepair(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd twice")
	}
	dir := filepath.Join(t.TempDir(), "etcd")
	keys := map[string]string{}
	for k := 0; k < 300; k++ {
		keys[fmt.Sprintf("/k/%03d", k)] = strings.Repeat(fmt.Sprint(k%10), 100)
	}
	// Keep every segment and snapshot (no purge) so compaction has work.
	if err := fixture.EmbeddedEtcd(dir, keys, fixture.WithSnapshotCount(25), fixture.WithSnapshotCatchUpEntries(5),
		fixture.WithEtcdSegmentSize(16*1024), fixture.WithMaxFiles(0, 0)); err != nil {
		t.Fatal(err)
	}
	walDir := filepath.Join(dir, "member", "wal")
	segs, _ := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if len(segs) < 4 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	// Damage repair can mend: an empty next segment (a crash right after
	// creating it).
	var seq, idx uint64
	fmt.Sscanf(filepath.Base(segs[len(segs)-1]), "%016x-%016x.wal", &seq, &idx)
	if err := os.WriteFile(filepath.Join(walDir, fmt.Sprintf("%016x-%016x.wal", seq+1, idx+1000)), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, 0, "verify", dir, "--fail-on", "error")
	out := run(t, 1, "verify", dir, "--fail-on", "warning")
	if !strings.Contains(out, "empty-segment") {
		t.Fatalf("verify: %s", out)
	}
	run(t, 0, "repair", dir, "--backup-dir", filepath.Join(t.TempDir(), "repair-backup"))
	run(t, 0, "compact", dir, "--keep-wal", "1", "--keep-snapshots", "1", "--backup-dir", filepath.Join(t.TempDir(), "compact-backup"))
	run(t, 0, "verify", dir, "--fail-on", "warning")
	after, _ := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if len(after) >= len(segs) {
		t.Errorf("compaction removed nothing: %d segments before, %d after", len(segs), len(after))
	}

	// etcd restarts from what raftctl left and serves every key.
	got := map[string]string{}
	if err := fixture.EmbeddedEtcd(dir, map[string]string{"/after": "restart"}, fixture.WithReadBack(got)); err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(keys)
	want["/after"] = "restart"
	if !maps.Equal(got, want) {
		t.Fatalf("etcd serves %d keys, want %d", len(got), len(want))
	}
}
