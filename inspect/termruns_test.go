package inspect

import (
	"slices"
	"strings"
	"testing"
)

// TestSetRun: entry i of term t replaces the runs from i on and continues
// or starts a run, whether it extends the log, overwrites its tail or
// overwrites it from inside the first run.
func TestSetRun(t *testing.T) {
	var runs []termRun
	for _, e := range [][2]uint64{{5, 1}, {6, 1}, {7, 2}, {8, 2}, {9, 3}, {8, 4}, {9, 4}, {6, 5}} {
		runs = setRun(runs, e[0], e[1])
	}
	want := []termRun{{5, 1}, {6, 5}}
	if !slices.Equal(runs, want) {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	for _, c := range []struct {
		i, term uint64
		ok      bool
	}{{4, 0, false}, {5, 1, true}, {6, 5, true}, {7, 0, false}} {
		got, ok := runAt(runs, c.i, 6)
		if got != c.term || ok != c.ok {
			t.Errorf("runAt(%d) = %d %v, want %d %v", c.i, got, ok, c.term, c.ok)
		}
	}
}

// TestEtcdEntriesAfterKeepsWhatAnOldOverwriteLeft: an overwrite at or
// below the snapshot truncates the effective log (raft's rule), but etcd's
// ReadAll, opened at that snapshot, ignores entries at or below it, so it
// still loads the entries the overwrite superseded. EtcdEntriesAfter must
// show the difference that compact --rewrite refuses on.
func TestEtcdEntriesAfterKeepsWhatAnOldOverwriteLeft(t *testing.T) {
	walDir := writeWAL(t, t.TempDir(), 64*1024, []op{
		{from: 1, to: 20, term: 1, size: 40, commit: 15},
		{snap: &[2]uint64{15, 1}},
		{from: 10, to: 12, term: 2, size: 40, commit: 15},
	})
	segs := listSegs(t, walDir)
	l, err := ReadLog(t.Context(), segs)
	if err != nil || l.Stop != nil {
		t.Fatalf("%v %v", err, l.Stop)
	}
	etcd, err := EtcdEntriesAfter(t.Context(), segs, l, 15)
	if err != nil {
		t.Fatal(err)
	}
	eff := EntryRuns{Base: 15}
	if err := EffectiveEntries(t.Context(), segs, l, func(e *Entry, _ *Record) error {
		if e.Index > 15 {
			return eff.Put(e.Index, e.Term)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if etcd.n != 5 || !slices.Equal(etcd.runs, []termRun{{16, 1}}) || eff.n != 0 || etcd.Equal(&eff) {
		t.Fatalf("etcd loads %d entries %v, the effective log %d %v: they must differ", etcd.n, etcd.runs, eff.n, eff.runs)
	}
	// Without the overwrite both agree.
	walDir = writeWAL(t, t.TempDir(), 64*1024, []op{
		{from: 1, to: 20, term: 1, size: 40, commit: 15},
		{snap: &[2]uint64{15, 1}},
		{from: 18, to: 22, term: 2, size: 40, commit: 15},
	})
	segs = listSegs(t, walDir)
	if l, err = ReadLog(t.Context(), segs); err != nil {
		t.Fatal(err)
	}
	if etcd, err = EtcdEntriesAfter(t.Context(), segs, l, 15); err != nil {
		t.Fatal(err)
	}
	eff = EntryRuns{Base: 15}
	if err := EffectiveEntries(t.Context(), segs, l, func(e *Entry, _ *Record) error {
		if e.Index > 15 {
			return eff.Put(e.Index, e.Term)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !etcd.Equal(&eff) || etcd.n != 7 {
		t.Fatalf("etcd %d %v, effective %d %v", etcd.n, etcd.runs, eff.n, eff.runs)
	}
	// A gap is an error that says so.
	r := EntryRuns{Base: 3}
	if err := r.Put(5, 1); err == nil || !strings.HasPrefix(err.Error(), "gap:") {
		t.Fatalf("Put across a gap: %v", err)
	}
}
