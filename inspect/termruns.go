package inspect

import (
	"context"
	"fmt"
	"slices"
	"sort"
)

// The term of every index of a log is kept as runs of one term (termRun:
// the index a run starts at and its term), so memory grows with leader
// changes, not with entries. These are the one place the rule of an entry
// record is coded: entry i of term t replaces the entries from i on.
// logBuilder (the effective log), verify's replay of a part of the log and
// EntryRuns (what etcd's ReadAll loads after a snapshot) keep their runs
// with them.

// setRun records entry i of term t in runs: the runs from i on are
// dropped and t continues or starts a run.
func setRun(runs []termRun, i, t uint64) []termRun {
	if n := len(runs); n > 0 && runs[n-1].start < i {
		if runs[n-1].term == t {
			// The common case: one more entry of the newest run.
			return runs
		}
		return append(runs, termRun{start: i, term: t})
	}
	k := sort.Search(len(runs), func(k int) bool { return runs[k].start >= i })
	runs = runs[:k]
	if len(runs) == 0 || runs[len(runs)-1].term != t {
		runs = append(runs, termRun{start: i, term: t})
	}
	return runs
}

// runAt returns the term runs give index i, for i from the first run's
// start up to last.
func runAt(runs []termRun, i, last uint64) (uint64, bool) {
	if len(runs) == 0 || i < runs[0].start || i > last {
		return 0, false
	}
	k := sort.Search(len(runs), func(k int) bool { return runs[k].start > i })
	return runs[k-1].term, true
}

// EntryRuns is the indexes and terms of the entries after an index (Base),
// as etcd's ReadAll assembles them when the WAL is opened at a snapshot
// there: ents = append(ents[:index-base-1], e), entry by entry.
type EntryRuns struct {
	Base uint64
	n    uint64
	runs []termRun
}

// Put adds entry index of term term the way etcd's ReadAll does, and
// fails on a gap.
func (r *EntryRuns) Put(index, term uint64) error {
	off := index - r.Base - 1
	if index <= r.Base || off > r.n {
		return fmt.Errorf("gap: entry %d does not follow the %d entries after index %d", index, r.n, r.Base)
	}
	r.runs = setRun(r.runs, index, term)
	r.n = off + 1
	return nil
}

// Equal tells whether r and o hold the same indexes with the same terms.
func (r *EntryRuns) Equal(o *EntryRuns) bool {
	return r.Base == o.Base && r.n == o.n && slices.Equal(r.runs, o.runs)
}

// EtcdEntriesAfter is what etcd's ReadAll returns when the WAL is opened
// at the snapshot at index snap: the indexes and terms of the entries
// after it. ReadAll reads from the last segment named at or below snap and
// lets an entry replace those at and after its index only when it is above
// snap, so an overwrite at or below the snapshot leaves the entries it
// superseded in what etcd loads, unlike the effective log (raft's rule).
// A gap is an error whose message starts with "gap:".
func EtcdEntriesAfter(ctx context.Context, segs []Segment, l *Log, snap uint64) (*EntryRuns, error) {
	start := 0
	for k, s := range segs {
		if s.Index <= snap {
			start = k
		}
	}
	ents := &EntryRuns{Base: snap}
	err := WalkRaw(ctx, segs, l, func(r *RawRecord) error {
		if r.Segment < start {
			return nil
		}
		if r.Err != nil {
			return r.Err
		}
		if e := r.Entry; e != nil && e.Index > snap {
			return ents.Put(e.Index, e.Term)
		}
		return nil
	})
	return ents, err
}
