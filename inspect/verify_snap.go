package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// checkSnapshots compares the WAL's snapshot records, the .snap files and
// the log, and returns the snapshot etcd would restart from (nil for
// none).
func (v *verifier) checkSnapshots(ctx context.Context) (*SnapFile, error) {
	w := &v.view
	commit := w.hs.Commit
	type key struct{ index, term uint64 }
	recs := map[key]bool{}
	recTerms := map[uint64][]uint64{}
	var minRec, maxRec uint64
	haveRec := false
	for _, r := range w.snaps {
		if r.Index == 0 {
			continue
		}
		if !haveRec || r.Index < minRec {
			minRec = r.Index
		}
		if !haveRec || r.Index > maxRec {
			maxRec = r.Index
		}
		haveRec = true
		k := key{r.Index, r.Term}
		if recs[k] {
			continue
		}
		recs[k] = true
		recTerms[r.Index] = append(recTerms[r.Index], r.Term)
		seg := v.segs[r.Segment]
		if w.hasHS && r.Index > commit {
			v.add(CodeSnapshotBeyondCommit, seg.Path, r.Offset, r.Index, fmt.Sprintf("segment %s: the snapshot record at offset %d is for index %d, beyond the HardState's commit index %d; etcd ignores it (a crash between writing the snapshot and its HardState leaves this)", seg.Name, r.Offset, r.Index, commit))
		}
	}

	for k, p := range v.parts {
		if !v.needsReplay(k) {
			continue
		}
		r, err := v.replay(ctx, k)
		if err != nil {
			return nil, err
		}
		for _, b := range r.badSnaps {
			seg := p.segs[b.rec.Segment]
			v.add(CodeSnapshotTermMismatch, seg.Path, b.rec.Offset, b.rec.Index, fmt.Sprintf("segment %s: the snapshot record at offset %d is for index %d term %d, but entry %d, already committed then (commit %d), has term %d", seg.Name, b.rec.Offset, b.rec.Index, b.rec.Term, b.rec.Index, b.commit, b.term))
		}
	}

	// The newest WAL snapshot record at or below the commit index, and
	// the snapshot etcd would restart from: the newest readable .snap file
	// (by name, as etcd tries them) matching such a record.
	var newest *SnapshotRecordAt
	valid := map[key]bool{}
	for k := len(w.snaps) - 1; k >= 0; k-- {
		if r := w.snaps[k]; r.Index <= commit {
			if newest == nil && r.Index > 0 {
				newest = &w.snaps[k]
			}
			valid[key{r.Index, r.Term}] = true
		}
	}
	var usable *SnapFile
	for k := range v.snaps {
		s := &v.snaps[k]
		if s.NameOK && s.OK && s.Index == s.NameIndex && s.Term == s.NameTerm && valid[key{s.Index, s.Term}] {
			usable = s
			break
		}
	}
	if newest != nil {
		found := false
		for _, s := range v.snaps {
			if s.NameOK && s.NameIndex == newest.Index && s.NameTerm == newest.Term {
				found = true
			}
		}
		if !found {
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
	}

	// Snapshot files without a matching record.
	var beyond, orphans []*SnapFile
	for k := range v.snaps {
		s := &v.snaps[k]
		if !s.NameOK || !s.OK || s.Index != s.NameIndex || s.Term != s.NameTerm {
			continue
		}
		k := key{s.Index, s.Term}
		if recs[k] {
			continue
		}
		if terms := recTerms[s.Index]; len(terms) > 0 {
			v.add(CodeSnapshotTermMismatch, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s is for index %d term %d, but the WAL's snapshot record for index %d has term %d", s.Name, s.Index, s.Term, s.Index, terms[0]))
			continue
		}
		if t, ok := v.termAt(s.Index); ok && t != s.Term && w.hasHS && s.Index <= commit {
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
		if v.segs[0].Seq == 0 || (haveRec && s.Index >= minRec) {
			orphans = append(orphans, s)
		}
	}
	nBeyond := len(beyond)
	if nBeyond >= 2 {
		// The segments that held the records of the files beyond the log
		// may have held those of the newest files within it too.
		kept := orphans[:0]
		for _, s := range orphans {
			if !haveRec || s.Index > maxRec {
				beyond = append(beyond, s)
			} else {
				kept = append(kept, s)
			}
		}
		orphans = kept
	}
	for _, s := range orphans {
		if haveRec && s.Index > maxRec {
			// Newer than every snapshot record read: a write in progress
			// beside a live server, or evidence of a lost tail (judgeEnd).
			v.late = append(v.late, s)
			continue
		}
		v.add(CodeSnapshotOrphan, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s (index %d, term %d) has no matching snapshot record in the WAL; etcd never loads it", s.Name, s.Index, s.Term))
	}
	for _, s := range v.corrupt {
		if (v.live || v.grew) && !recs[key{s.NameIndex, s.NameTerm}] {
			v.inProgress = append(v.inProgress, fmt.Sprintf("snapshot file %s cannot be read yet (%s) and no WAL record refers to it", s.Name, s.Err))
			continue
		}
		what := "no WAL snapshot record refers to it, so etcd never loads it (a crash while it was being saved leaves this)"
		if recs[key{s.NameIndex, s.NameTerm}] {
			what = "etcd renames it to .broken and falls back to an older snapshot"
		}
		v.add(CodeSnapshotCorrupt, s.Path, -1, s.NameIndex, fmt.Sprintf("snapshot file %s (index %d, term %d by its name) cannot be read: %s; %s", s.Name, s.NameIndex, s.NameTerm, s.Err, what))
	}
	// Files beyond the log are evidence of a lost tail, weighed with the
	// end of the last segment by judgeEnd.
	v.beyond, v.nBeyond = beyond, nBeyond

	// Do the entries after the usable snapshot continue at its index + 1?
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
	if startSeg >= 0 && !v.hardErr && !slices.ContainsFunc(w.snaps, func(r SnapshotRecordAt) bool { return r.Segment >= startSeg && r.Index == sIndex }) {
		seg := v.segs[startSeg]
		v.add(CodeSnapshotRecordMissing, seg.Path, -1, sIndex, fmt.Sprintf("%s and looks for its snapshot record (index %d) from segment %s on, but the WAL holds none there: etcd refuses to read the WAL (wal: snapshot not found)", what, sIndex, seg.Name))
	}
	return usable, nil
}

func verifySnapFileName(term, index uint64) string {
	return fmt.Sprintf("%016x-%016x.snap", term, index)
}
