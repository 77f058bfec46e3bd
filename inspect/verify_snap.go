package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// checkSnapshots compares the WAL's snapshot records, the .snap files and
// the log, and returns the snapshot etcd would restart from (nil for
// none). The steps, in the order their findings are reported:
//
//  1. indexSnapRecords: the records, and those beyond the commit index;
//  2. checkSnapRecordTerms: records contradicting a committed entry;
//  3. usableSnapshot and checkNewestSnapFile: what etcd restarts from,
//     and whether the newest usable record has its file;
//  4. checkUnrecordedSnapFiles: files no record refers to (term
//     mismatches, orphans, files beyond the log or newer than every
//     record, kept for judgeEnd);
//  5. checkCorruptSnapFiles: unreadable files;
//  6. checkSnapshotContinuity: does the log continue after the snapshot,
//     and can etcd find where to start reading.
func (v *verifier) checkSnapshots(ctx context.Context) (*SnapFile, error) {
	recs := v.indexSnapRecords()
	if err := v.checkSnapRecordTerms(ctx); err != nil {
		return nil, err
	}
	newest, usable := v.usableSnapshot()
	v.checkNewestSnapFile(newest, usable)
	v.checkUnrecordedSnapFiles(recs)
	v.checkCorruptSnapFiles(recs)
	v.checkSnapshotContinuity(usable)
	return usable, nil
}

// snapKey names a snapshot by index and term.
type snapKey struct{ index, term uint64 }

// snapRecords indexes the WAL's snapshot records (the initial empty one
// aside).
type snapRecords struct {
	// has holds every record's index and term; terms the distinct terms
	// recorded for each index.
	has   map[snapKey]bool
	terms map[uint64][]uint64
	// min and max bound the records' indexes, when any.
	min, max uint64
	any      bool
}

// indexSnapRecords indexes the WAL's snapshot records and reports those
// beyond the HardState's commit index.
func (v *verifier) indexSnapRecords() snapRecords {
	w := &v.view
	commit := w.hs.Commit
	rs := snapRecords{has: map[snapKey]bool{}, terms: map[uint64][]uint64{}}
	for _, r := range w.snaps {
		if r.Index == 0 {
			continue
		}
		if !rs.any || r.Index < rs.min {
			rs.min = r.Index
		}
		if !rs.any || r.Index > rs.max {
			rs.max = r.Index
		}
		rs.any = true
		k := snapKey{r.Index, r.Term}
		if rs.has[k] {
			continue
		}
		rs.has[k] = true
		rs.terms[r.Index] = append(rs.terms[r.Index], r.Term)
		seg := v.segs[r.Segment]
		if w.hasHS && r.Index > commit {
			v.add(CodeSnapshotBeyondCommit, seg.Path, r.Offset, r.Index, fmt.Sprintf("segment %s: the snapshot record at offset %d is for index %d, beyond the HardState's commit index %d; etcd ignores it (a crash between writing the snapshot and its HardState leaves this)", seg.Name, r.Offset, r.Index, commit))
		}
	}
	return rs
}

// checkSnapRecordTerms reports the snapshot records that contradict an
// entry committed when they were written (found by replaying the parts
// whose Log may misjudge them, see needsReplay).
func (v *verifier) checkSnapRecordTerms(ctx context.Context) error {
	for k, p := range v.parts {
		if !v.needsReplay(k) {
			continue
		}
		r, err := v.replay(ctx, k)
		if err != nil {
			return err
		}
		for _, b := range r.badSnaps {
			seg := p.segs[b.rec.Segment]
			v.add(CodeSnapshotTermMismatch, seg.Path, b.rec.Offset, b.rec.Index, fmt.Sprintf("segment %s: the snapshot record at offset %d is for index %d term %d, but entry %d, already committed then (commit %d), has term %d", seg.Name, b.rec.Offset, b.rec.Index, b.rec.Term, b.rec.Index, b.commit, b.term))
		}
	}
	return nil
}

// usableSnapshot returns the newest WAL snapshot record at or below the
// commit index (nil when only the initial one), and the snapshot etcd
// would restart from: the newest readable .snap file (by name, as etcd
// tries them) matching such a record (nil for none).
func (v *verifier) usableSnapshot() (newest *SnapshotRecordAt, usable *SnapFile) {
	w := &v.view
	valid := map[snapKey]bool{}
	for k := len(w.snaps) - 1; k >= 0; k-- {
		if r := w.snaps[k]; r.Index <= w.hs.Commit {
			if newest == nil && r.Index > 0 {
				newest = &w.snaps[k]
			}
			valid[snapKey{r.Index, r.Term}] = true
		}
	}
	for k := range v.snaps {
		s := &v.snaps[k]
		if s.NameOK && s.OK && s.Index == s.NameIndex && s.Term == s.NameTerm && valid[snapKey{s.Index, s.Term}] {
			return newest, s
		}
	}
	return newest, nil
}

// checkNewestSnapFile reports a newest usable snapshot record without
// its .snap file, and what etcd falls back to.
func (v *verifier) checkNewestSnapFile(newest *SnapshotRecordAt, usable *SnapFile) {
	if newest == nil {
		return
	}
	for _, s := range v.snaps {
		if s.NameOK && s.NameIndex == newest.Index && s.NameTerm == newest.Term {
			return
		}
	}
	seg := v.segs[newest.Segment]
	fallback := "no older snapshot file matches a record, so etcd would replay the log from index 1"
	if usable != nil {
		fallback = fmt.Sprintf("etcd falls back to %s (index %d)", usable.Name, usable.Index)
	}
	where := v.g.SnapDir
	if where == "" {
		where = "the group (it has no snap directory)"
	}
	v.add(CodeSnapshotFileMissing, seg.Path, newest.Offset, newest.Index, fmt.Sprintf("segment %s: the newest usable snapshot record (offset %d, index %d, term %d) has no file %s in %s; %s", seg.Name, newest.Offset, newest.Index, newest.Term, verifySnapFileName(newest.Term, newest.Index), where, fallback))
}

// checkUnrecordedSnapFiles judges the readable .snap files without a
// matching record: a term that contradicts the record or the committed
// log is reported; files beyond the log (v.beyond) and files newer than
// every record read (v.late) are left to judgeEnd; the others are
// orphans etcd never loads.
func (v *verifier) checkUnrecordedSnapFiles(rs snapRecords) {
	w := &v.view
	var beyond, orphans []*SnapFile
	for k := range v.snaps {
		s := &v.snaps[k]
		if !s.NameOK || !s.OK || s.Index != s.NameIndex || s.Term != s.NameTerm {
			continue
		}
		if rs.has[snapKey{s.Index, s.Term}] {
			continue
		}
		if terms := rs.terms[s.Index]; len(terms) > 0 {
			v.add(CodeSnapshotTermMismatch, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s is for index %d term %d, but the WAL's snapshot record for index %d has term %d", s.Name, s.Index, s.Term, s.Index, terms[0]))
			continue
		}
		if t, ok := v.termAt(s.Index); ok && t != s.Term && w.hasHS && s.Index <= w.hs.Commit {
			// Raft only takes a snapshot beyond its commit index: one for
			// a committed index must agree with the log. (Beyond it, a
			// snapshot from the leader may replace a divergent log; if
			// its WAL record is missing it is an orphan, below.)
			v.add(CodeSnapshotTermMismatch, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s is for index %d term %d, but the log's committed entry %d has term %d", s.Name, s.Index, s.Term, s.Index, t))
			continue
		}
		if v.hardErr {
			// Its record may be in the damaged part of the log.
			continue
		}
		if s.Index > w.last {
			beyond = append(beyond, s)
			continue
		}
		if v.segs[0].Seq == 0 || (rs.any && s.Index >= rs.min) {
			orphans = append(orphans, s)
		}
	}
	nBeyond := len(beyond)
	if nBeyond >= 2 {
		// The segments that held the records of the files beyond the log
		// may have held those of the newest files within it too.
		kept := orphans[:0]
		for _, s := range orphans {
			if !rs.any || s.Index > rs.max {
				beyond = append(beyond, s)
			} else {
				kept = append(kept, s)
			}
		}
		orphans = kept
	}
	for _, s := range orphans {
		if rs.any && s.Index > rs.max {
			// Newer than every snapshot record read: a write in progress
			// beside a live server, or evidence of a lost tail (judgeEnd).
			v.late = append(v.late, s)
			continue
		}
		v.add(CodeSnapshotOrphan, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s (index %d, term %d) has no matching snapshot record in the WAL; etcd never loads it", s.Name, s.Index, s.Term))
	}
	// Files beyond the log are evidence of a lost tail, weighed with the
	// end of the last segment by judgeEnd.
	v.beyond, v.nBeyond = beyond, nBeyond
}

// checkCorruptSnapFiles reports the unreadable .snap files (listed by
// checkSnapFiles), or notes them as writes in progress beside a live
// server when no record refers to them yet.
func (v *verifier) checkCorruptSnapFiles(rs snapRecords) {
	for _, s := range v.corrupt {
		recorded := rs.has[snapKey{s.NameIndex, s.NameTerm}]
		if (v.live || v.grew) && !recorded {
			v.inProgress = append(v.inProgress, fmt.Sprintf("snapshot file %s cannot be read yet (%s) and no WAL record refers to it", s.Name, s.Err))
			continue
		}
		what := "no WAL snapshot record refers to it, so etcd never loads it (a crash while it was being saved leaves this)"
		if recorded {
			what = "etcd renames it to .broken and falls back to an older snapshot"
		}
		v.add(CodeSnapshotCorrupt, s.Path, -1, s.NameIndex, fmt.Sprintf("snapshot file %s (index %d, term %d by its name) cannot be read: %s; %s", s.Name, s.NameIndex, s.NameTerm, s.Err, what))
	}
}

// checkSnapshotContinuity checks what etcd does with the snapshot it
// restarts from (usable, nil for none): the entries after it must follow
// at its index + 1, a segment must be named for an index at or below it,
// and the WAL must hold its snapshot record from that segment on.
func (v *verifier) checkSnapshotContinuity(usable *SnapFile) {
	var sIndex uint64
	what := "there is no usable snapshot, so etcd replays the log from index 1"
	if usable != nil {
		sIndex = usable.Index
		what = fmt.Sprintf("etcd restarts from snapshot %s (index %d)", usable.Name, usable.Index)
	}
	first := v.view.first
	if first == 0 && len(v.parts) > 0 {
		first = v.parts[0].log.LastIndex + 1
	}
	var problems []string
	if len(v.parts) > 0 && v.parts[0].log.LastIndex > sIndex && first > sIndex+1 {
		problems = append(problems, fmt.Sprintf("the log starts at index %d, so entries %d to %d are missing", first, sIndex+1, first-1))
	}
	if v.segs[0].Index > sIndex {
		problems = append(problems, fmt.Sprintf("no segment is named for an index at or below %d (the first is %s), so etcd cannot find where to start reading", sIndex, v.segs[0].Name))
	}
	if len(problems) > 0 {
		v.add(CodeSnapshotGap, v.segs[0].Path, -1, sIndex+1, fmt.Sprintf("%s, but %s", what, strings.Join(problems, "; and ")))
	}

	// etcd opens the WAL at the last segment named for an index at or
	// below the snapshot's and requires a snapshot record for it there or
	// later: for a restart from scratch, the empty record wal.Create
	// writes.
	startSeg := -1
	for k, s := range v.segs {
		if s.Index <= sIndex {
			startSeg = k
		}
	}
	if startSeg >= 0 && !v.hardErr && !slices.ContainsFunc(v.view.snaps, func(r SnapshotRecordAt) bool { return r.Segment >= startSeg && r.Index == sIndex }) {
		seg := v.segs[startSeg]
		v.add(CodeSnapshotRecordMissing, seg.Path, -1, sIndex, fmt.Sprintf("%s and looks for its snapshot record (index %d) from segment %s on, but the WAL holds none there: etcd refuses to read the WAL (wal: snapshot not found)", what, sIndex, seg.Name))
	}
}

func verifySnapFileName(term, index uint64) string {
	return fmt.Sprintf("%016x-%016x.snap", term, index)
}
