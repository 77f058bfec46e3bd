//go:build unix

package cmd_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestRepairFromLastSegment: real raft replicas (fixture.RaftCluster, with
// snapshots) whose member is damaged inside its last segment, with records,
// HardStates among them, after the damage (not a torn tail at the end of
// the log). raftctl repair --from mends it: afterwards etcd's restart path
// (ReadAll, fixture.LoadGroup) and a raft restart (fixture.EtcdRestart)
// succeed, every entry is byte-identical to the replica's, and the member's
// HardState is kept (term and vote unchanged, commit not lowered). Damage
// at the very end of the log, where the newest HardState may have been, is
// refused (exit 1) and changes nothing. Every .snap file is kept
// (MaxSnapFiles 1000) and the WAL is never purged: the rewritten WAL then
// starts at sequence 0 from the newest usable snapshot, and repair --from
// moves the older .snap files, of which it holds no record, into the
// backup, so that the member verifies clean (exit 0).
func TestRepairFromLastSegment(t *testing.T) {
	src := filepath.Join(t.TempDir(), "c")
	res, err := fixture.RaftCluster(src, fixture.ClusterOptions{Groups: 1, Proposals: 30, SegmentSize: 16 << 10,
		SnapshotEvery: 90, MaxWALFiles: 1000, MaxSnapFiles: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"crc-mismatch", "zeroed-sector", "zeroed-inside", "last-record"} {
		t.Run(kind, func(t *testing.T) {
			root := t.TempDir()
			if err := fixture.CopyDir(res.Dir, filepath.Join(root, "c")); err != nil {
				t.Fatal(err)
			}
			member, donor := filepath.Join(root, "c", "node-1"), filepath.Join(root, "c", "node-2")
			gdir, ddir := filepath.Join(member, "group-1"), filepath.Join(donor, "group-1")
			before, err := fixture.LoadGroup(gdir)
			if err != nil {
				t.Fatal(err)
			}
			segs, err := filepath.Glob(filepath.Join(gdir, "wal", "*.wal"))
			if err != nil || len(segs) == 0 {
				t.Fatalf("segments: %v %v", segs, err)
			}
			seg := segs[len(segs)-1]
			damageLastSegment(t, seg, kind)
			if kind == "last-record" {
				damaged := readFiles(t, gdir)
				out := run(t, 1, "repair", member, "--from", donor, "--backup-dir", filepath.Join(root, "backup"))
				if !strings.Contains(out, "newest HardState") {
					t.Fatalf("refusal does not say why:\n%s", out)
				}
				if got := readFiles(t, gdir); !equalFiles(got, damaged) {
					t.Fatal("a refused repair changed the member")
				}
				return
			}
			// etcd refuses, or drops the records after the damage.
			if l, err := fixture.LoadGroup(gdir); err == nil && proto.Equal(l.HardState, before.HardState) && len(l.Entries) == len(before.Entries) {
				t.Fatalf("%s: etcd still reads the whole log", kind)
			}
			run(t, 1, "repair", member, "--from", donor, "--dry-run")
			out := run(t, 0, "repair", member, "--from", donor, "--backup-dir", filepath.Join(root, "backup"))
			t.Logf("%s: %s", kind, strings.TrimSpace(out))
			after, err := fixture.LoadGroup(gdir)
			if err != nil {
				t.Fatalf("etcd's ReadAll after repair --from: %v", err)
			}
			ref, err := fixture.LoadGroup(ddir)
			if err != nil {
				t.Fatal(err)
			}
			hs, bh := after.HardState, before.HardState
			if hs.GetTerm() != bh.GetTerm() || hs.GetVote() != bh.GetVote() || hs.GetCommit() < bh.GetCommit() {
				t.Fatalf("HardState %v after, %v before", hs, bh)
			}
			got, err := fixture.EtcdRestart(filepath.Join(gdir, "wal"), filepath.Join(gdir, "snap"), fixture.RestartOptions{})
			if err != nil {
				t.Fatalf("raft restart after repair --from: %v", err)
			}
			if got.LastIndex != lastIndex(before) || got.Commit < bh.GetCommit() {
				t.Fatalf("restarted at last index %d, commit %d; before %d, %d", got.LastIndex, got.Commit, lastIndex(before), bh.GetCommit())
			}
			// Every entry, as etcd reads it, is the replica's.
			refAt := map[uint64]*entryBytes{}
			for _, e := range ref.Entries {
				b, err := proto.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				refAt[e.GetIndex()] = &entryBytes{b}
			}
			for _, e := range after.Entries {
				b, err := proto.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				r := refAt[e.GetIndex()]
				if r == nil || !bytes.Equal(r.b, b) {
					t.Fatalf("entry %d is not the replica's", e.GetIndex())
				}
			}
			if len(after.Entries) != len(before.Entries) {
				t.Fatalf("%d entries after, %d before", len(after.Entries), len(before.Entries))
			}
			run(t, 0, "verify", member)
		})
	}
}

type entryBytes struct{ b []byte }

func lastIndex(l *fixture.Loaded) uint64 {
	if n := len(l.Entries); n > 0 {
		return l.Entries[n-1].GetIndex()
	}
	return l.WALSnap.GetIndex()
}

// damageLastSegment damages seg, the last segment: in an entry record
// after its last snapshot record that a HardState, entries and a HardState
// follow (so the records after it are no torn tail), or, for
// "last-record", its last record.
func damageLastSegment(t *testing.T, seg, kind string) {
	t.Helper()
	recs, err := fixture.RecordOffsets(seg)
	if err != nil {
		t.Fatal(err)
	}
	if kind == "last-record" {
		r := recs[len(recs)-1]
		if err := fixture.FlipByte(seg, r.Offset+r.FrameLen-r.Pad-1); err != nil {
			t.Fatal(err)
		}
		return
	}
	var cands []int
	for k, r := range recs {
		if r.Type == 5 {
			cands = cands[:0]
		}
		if r.Type != 2 || k+3 >= len(recs) {
			continue
		}
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
		t.Fatalf("%s: no entry record to damage (%d records)", seg, len(recs))
	}
	r := recs[cands[len(cands)/2]]
	switch kind {
	case "crc-mismatch":
		err = fixture.FlipByte(seg, r.DataOffset()+r.DataLen-2)
	case "zeroed-sector":
		err = fixture.ZeroRange(seg, r.Offset, min(512, r.FrameLen+64))
	case "zeroed-inside":
		start := (r.DataOffset() + 8 + 511) &^ 511
		if start >= r.Offset+r.FrameLen {
			start = (r.DataOffset() + 8) &^ 511
		}
		err = fixture.ZeroRange(seg, start, 512)
	default:
		err = fmt.Errorf("unknown damage %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// readFiles reads every file under dir.
func readFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		m[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func equalFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
