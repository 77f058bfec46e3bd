package inspect

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"
)

// checkAgainstReadAll requires ReadLog and EffectiveEntries to agree with
// etcd's ReadAll opened at the newest valid snapshot: the HardState, the
// last index and term, and every entry after the snapshot.
func checkAgainstReadAll(t *testing.T, walDir string) *Log {
	t.Helper()
	lg := zap.NewNop()
	snaps, err := wal.ValidSnapshotEntries(lg, walDir)
	if err != nil {
		t.Fatal(err)
	}
	start := &walpb.Snapshot{}
	if len(snaps) > 0 {
		start = snaps[len(snaps)-1]
	}
	w, err := wal.OpenForRead(lg, walDir, start)
	if err != nil {
		t.Fatal(err)
	}
	_, hs, ents, err := w.ReadAll()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	segs := listSegs(t, walDir)
	l, err := ReadLog(context.Background(), segs)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stop != nil {
		t.Fatalf("unexpected stop: %v", l.Stop)
	}
	if l.HardState != (HardState{hs.GetTerm(), hs.GetVote(), hs.GetCommit()}) {
		t.Errorf("hard state %+v, etcd %v", l.HardState, hs)
	}
	if n := len(ents); n > 0 {
		if l.LastIndex != ents[n-1].GetIndex() || l.LastTerm != ents[n-1].GetTerm() {
			t.Errorf("last %d/%d, etcd %d/%d", l.LastIndex, l.LastTerm, ents[n-1].GetIndex(), ents[n-1].GetTerm())
		}
	}
	if s, ok := l.LatestSnapshot(); ok != (start.GetIndex() != 0) || s.Index != start.GetIndex() || s.Term != start.GetTerm() {
		t.Errorf("latest snapshot %+v (%v), etcd %v", s, ok, start)
	}
	k := 0
	var prev uint64
	err = EffectiveEntries(context.Background(), segs, l, func(e *Entry, r *Record) error {
		if prev != 0 && e.Index != prev+1 {
			t.Errorf("effective entries not contiguous: %d after %d", e.Index, prev)
		}
		prev = e.Index
		if e.Index <= start.GetIndex() {
			return nil
		}
		if k >= len(ents) {
			t.Fatalf("extra entry %d", e.Index)
		}
		x := ents[k]
		if e.Index != x.GetIndex() || e.Term != x.GetTerm() || EntryType(x.GetType()) != e.Type || !bytes.Equal(e.Data, x.Data) {
			t.Fatalf("entry %d/%d differs from etcd's %d/%d", e.Index, e.Term, x.GetIndex(), x.GetTerm())
		}
		k++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if k != len(ents) {
		t.Fatalf("%d entries after the snapshot, etcd %d", k, len(ents))
	}
	if l.FirstIndex != 0 && prev != l.LastIndex {
		t.Errorf("last effective entry %d, LastIndex %d", prev, l.LastIndex)
	}
	return l
}

func TestReadLogMatchesReadAll(t *testing.T) {
	cases := []struct {
		name        string
		ops         []op
		overwritten int64
		first       uint64
	}{
		{"plain", []op{{from: 1, to: 300, term: 1, size: 64, commit: 300}}, 0, 1},
		{"overwrite tail", []op{
			{from: 1, to: 50, term: 1, size: 64, commit: 40},
			{from: 45, to: 60, term: 2, size: 10, commit: 55},
		}, 6, 1},
		{"two overwrites and a snapshot", []op{
			{from: 1, to: 100, term: 1, size: 300, commit: 90},
			{snap: &[2]uint64{80, 1}},
			{from: 95, to: 120, term: 3, size: 30, commit: 100},
			{from: 110, to: 111, term: 4, size: 30, commit: 110},
			{from: 112, to: 200, term: 4, size: 30, commit: 190},
		}, 6 + 11, 1},
		{"snapshot ahead of the log", []op{
			{from: 1, to: 20, term: 1, size: 10, commit: 20},
			{snap: &[2]uint64{500, 3}},
			{from: 0, to: 0, term: 3, commit: 500},
			{from: 501, to: 510, term: 3, size: 10, commit: 505},
		}, 0, 501},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := checkAgainstReadAll(t, writeWAL(t, t.TempDir(), 8*1024, c.ops))
			if l.Overwritten != c.overwritten {
				t.Errorf("overwritten %d, want %d", l.Overwritten, c.overwritten)
			}
			if l.FirstIndex != c.first {
				t.Errorf("first index %d, want %d", l.FirstIndex, c.first)
			}
			if len(l.Gaps) != 0 || len(l.Regressions) != 0 {
				t.Errorf("gaps %v regressions %v", l.Gaps, l.Regressions)
			}
		})
	}
}

// TestReadLogRaftSemantics covers what raft allows and etcd's ReadAll does
// not model: an overwrite at a lower term than the entry it replaces (a
// leader elected with an older tail), and a snapshot from a leader that
// contradicts the uncommitted tail (raft's restore drops the log).
func TestReadLogRaftSemantics(t *testing.T) {
	lower := writeWAL(t, t.TempDir(), 64*1024, []op{
		{from: 1, to: 10, term: 2, size: 8, commit: 5},
		{from: 11, to: 12, term: 3, size: 8, commit: 5},
		{from: 11, to: 15, term: 2, size: 8, commit: 5},
	})
	l, err := ReadLog(context.Background(), listSegs(t, lower))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Regressions) != 0 || l.Overwritten != 2 || l.LastIndex != 15 || l.LastTerm != 2 {
		t.Errorf("lower-term overwrite: regressions %v overwritten %d last %d/%d", l.Regressions, l.Overwritten, l.LastIndex, l.LastTerm)
	}

	reset := writeWAL(t, t.TempDir(), 64*1024, []op{
		{from: 1, to: 40, term: 1, size: 8, commit: 20},
		{snap: &[2]uint64{30, 4}},
		{from: 31, to: 33, term: 4, size: 8, commit: 33},
	})
	segs := listSegs(t, reset)
	l, err = ReadLog(context.Background(), segs)
	if err != nil {
		t.Fatal(err)
	}
	if l.FirstIndex != 31 || l.LastIndex != 33 || l.LastTerm != 4 {
		t.Errorf("snapshot reset: first %d last %d/%d", l.FirstIndex, l.LastIndex, l.LastTerm)
	}
	if term, ok := l.TermAt(30); !ok || term != 4 {
		t.Errorf("term at the snapshot: %d %v", term, ok)
	}
	var got []uint64
	if err := EffectiveEntries(context.Background(), segs, l, func(e *Entry, _ *Record) error {
		got = append(got, e.Index)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 31 {
		t.Errorf("effective entries %v, want 31..33", got)
	}
}

// TestHostileGapsBounded: a log that skips every other index is described
// in bounded memory, and verify lists at most 1000 gaps, then a count.
func TestHostileGapsBounded(t *testing.T) {
	var ops []op
	for i := uint64(1); i <= 2*(maxListed+300); i += 2 {
		ops = append(ops, op{from: i, to: i, term: 1, size: 1, commit: 1})
	}
	walDir := writeWAL(t, t.TempDir(), 1<<20, ops)
	l, err := ReadLog(context.Background(), listSegs(t, walDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Gaps) != maxListed || l.GapsMore != 299 {
		t.Fatalf("gaps listed %d, more %d", len(l.Gaps), l.GapsMore)
	}
	rep, err := Verify(context.Background(), Group{Name: "g", Dir: filepath.Dir(walDir), WALDir: walDir}, VerifyOptions{NoLockCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range rep.Findings {
		if f.Code == CodeIndexGap {
			n++
		}
	}
	if n != maxListed+1 {
		t.Errorf("%d index-gap findings, want %d", n, maxListed+1)
	}
}
