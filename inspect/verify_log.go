package inspect

import (
	"context"
	"fmt"
	"slices"
)

// readParts reads the log with ReadLog, resuming after every decode error
// at the next segment (whose crc record restarts the CRC chain) so that
// damage anywhere is found, not only the first.
func (v *verifier) readParts(ctx context.Context) error {
	v.chainBreaks = map[int]*DecodeError{}
	v.crcRecordDamaged = map[int]*DecodeError{}
	for start := 0; start < len(v.segs); {
		var onRead func(int)
		if f := v.opts.OnBytes; f != nil {
			onRead = func(n int) { f(int64(n)) }
		}
		ro := readOptions{onRead: onRead}
		if start == 0 && v.hash != nil {
			v.chain = newChainBuilder(v.hash.r, v.hash.redacted)
			ro.chain = v.chain
		}
		l, err := readLog(ctx, v.segs[start:], ro)
		if err != nil {
			return err
		}
		v.parts = append(v.parts, verifyPart{first: start, segs: v.segs[start:], log: l})
		st := l.Stop
		if st == nil {
			break
		}
		abs := start + st.Segment
		if st.Kind == KindIO {
			return &verifyNoVerdict{st}
		}
		last := abs == len(v.segs)-1
		if !(last && st.Kind == KindTorn) {
			v.hardErr = true
		}
		if _, ok := v.chainBreaks[abs]; ok && st.Segment == 0 && st.Kind == KindCRC && st.Offset == verifyFirstFrameEnd(v.segs[abs].Path) {
			// The record after the opening crc record fails against the
			// chain value it restarted from: the crc record itself is
			// damaged. Without a scanner that starts from a given CRC the
			// rest of this segment cannot be checked.
			v.crcRecordDamaged[abs] = st
		}
		if st.Kind == KindCRCChain && st.Offset == 0 && abs > start {
			// The crc record that opens segment abs does not continue
			// the chain: read on from it with a fresh chain.
			v.chainBreaks[abs] = st
			start = abs
			continue
		}
		if last {
			break
		}
		start = abs + 1
	}
	return nil
}

// verifyView merges the parts into one picture of the log.
type verifyView struct {
	hs               HardState
	hasHS            bool
	hsPart           int
	last, lastTerm   uint64
	first            uint64
	entryRecords     int64
	overwritten      int64
	snaps            []SnapshotRecordAt // Segment is absolute
	metadata         []byte
	metadataPart     int
	metadataSplit    bool
	metadataConflict int // part with an internal conflict, -1 if none
}

func (v *verifier) makeView() verifyView {
	w := verifyView{hsPart: -1, metadataConflict: -1, metadataPart: -1}
	for k, p := range v.parts {
		l := p.log
		if l.HasHardState {
			w.hs, w.hasHS, w.hsPart = l.HardState, true, k
		}
		if l.LastIndex > 0 {
			w.last, w.lastTerm = l.LastIndex, l.LastTerm
		}
		w.entryRecords += l.EntryRecords
		w.overwritten += l.Overwritten
		for _, s := range l.Snapshots {
			s.Segment += p.first
			w.snaps = append(w.snaps, s)
		}
		if l.MetadataConflict && w.metadataConflict < 0 {
			w.metadataConflict = k
		}
		if l.Metadata != nil {
			if w.metadata == nil {
				w.metadata, w.metadataPart = l.Metadata, k
			} else if string(w.metadata) != string(l.Metadata) && !w.metadataSplit {
				w.metadataSplit = true
				if w.metadataConflict < 0 {
					w.metadataConflict = k
				}
			}
		}
	}
	if len(v.parts) > 0 {
		w.first = v.parts[0].log.FirstIndex
	}
	return w
}

// termAt returns the term of the entry at i, asking the newest part first.
func (v *verifier) termAt(i uint64) (uint64, bool) {
	for k := len(v.parts) - 1; k >= 0; k-- {
		if t, ok := v.parts[k].log.TermAt(i); ok {
			return t, true
		}
	}
	return 0, false
}

func (v *verifier) checkLog(ctx context.Context) error {
	w := &v.view
	for k, p := range v.parts {
		for _, g := range p.log.Gaps {
			seg := v.segs[p.first+g.Segment]
			missing := fmt.Sprintf("entry %d is", g.After+1)
			if g.Next-g.After > 2 {
				missing = fmt.Sprintf("entries %d to %d are", g.After+1, g.Next-1)
			}
			v.add(CodeIndexGap, seg.Path, g.Offset, g.Next, fmt.Sprintf("segment %s: entry %d at offset %d follows entry %d: %s missing", seg.Name, g.Next, g.Offset, g.After, missing))
		}
		if n := p.log.GapsMore; n > 0 {
			v.add(CodeIndexGap, v.segs[p.first].Path, -1, 0, fmt.Sprintf("and %d more gaps after the %d listed", n, len(p.log.Gaps)))
		}
		regs, more := p.log.Regressions, p.log.RegressionsMore
		if v.needsReplay(k) {
			r, err := v.replay(ctx, k)
			if err != nil {
				return err
			}
			regs, more = r.regs, r.regsMore
		}
		for _, r := range regs {
			seg := v.segs[p.first+r.Segment]
			v.add(CodeTermRegression, seg.Path, r.Offset, r.Index, fmt.Sprintf("segment %s: entry %d at offset %d has term %d, lower than term %d of entry %d before it", seg.Name, r.Index, r.Offset, r.Term, r.PrevTerm, r.Index-1))
		}
		if more > 0 {
			v.add(CodeTermRegression, v.segs[p.first].Path, -1, 0, fmt.Sprintf("and %d more term regressions after the %d listed", more, len(regs)))
		}
	}
	if w.metadataConflict >= 0 {
		if err := v.reportMetadataConflict(ctx); err != nil {
			return err
		}
	}
	if w.hasHS && (w.hs.Commit > w.last || (w.hs.Term < w.lastTerm && v.torn < 0)) {
		file, off, err := v.lastStateRecord(ctx)
		if err != nil {
			return err
		}
		if w.hs.Commit > w.last {
			v.add(CodeCommitBeyondLast, file, off, w.hs.Commit, fmt.Sprintf("the HardState says entries up to %d are committed, but the log ends at %d: committed entries %d to %d are missing", w.hs.Commit, w.last, w.last+1, w.hs.Commit))
		}
		if w.hs.Term < w.lastTerm && v.torn < 0 {
			v.add(CodeHardStateTerm, file, off, w.last, fmt.Sprintf("the HardState's term %d is lower than term %d of the last entry %d: the HardState records written with those entries are missing", w.hs.Term, w.lastTerm, w.last))
		}
	}
	if w.hasHS && w.hs.Term < w.lastTerm && v.torn >= 0 {
		v.rep.Findings[v.torn].Message += fmt.Sprintf("; the last complete HardState (term %d) is older than the last entry's term %d: the write was cut between the entries and their HardState", w.hs.Term, w.lastTerm)
	}
	if !w.hasHS && w.entryRecords > 0 {
		v.add(CodeHardStateMissing, v.g.WALDir, -1, 0, fmt.Sprintf("the WAL holds %d entry records (up to index %d) but no HardState: raft would restart with term 0 and nothing committed", w.entryRecords, w.last))
	}
	if w.overwritten > 0 {
		v.add(CodeOverwrittenEntries, v.g.WALDir, -1, 0, fmt.Sprintf("%d entries were overwritten by a later leader and are superseded by later records (normal after leader changes)", w.overwritten))
	}
	return nil
}

// verifyReplay is what replaying a part's records with raft's semantics
// found.
type verifyReplay struct {
	regs []TermRegression
	// regsMore counts regressions beyond the first maxListed.
	regsMore int64
	// badSnaps are snapshot records that contradict a committed entry.
	badSnaps []verifyBadSnap
}

type verifyBadSnap struct {
	rec          SnapshotRecordAt // Segment relative to the part
	term, commit uint64
}

// needsReplay tells whether part k's Log may misjudge terms: it flags an
// overwrite with a lower term than the entry it replaces, which raft
// allows (a new leader may replicate an old entry over an uncommitted
// newer one, Figure 8 of the Raft paper), and it keeps the log across a
// snapshot record that disagrees with the entry at its index, where raft
// discarded the log for the snapshot received from the leader.
func (v *verifier) needsReplay(k int) bool {
	l := v.parts[k].log
	if slices.ContainsFunc(l.Regressions, func(r TermRegression) bool { return r.Overwriting }) {
		return true
	}
	return slices.ContainsFunc(l.Snapshots, func(s SnapshotRecordAt) bool {
		t, ok := l.TermAt(s.Index)
		return ok && t != s.Term
	})
}

// replay streams part k's records again and follows the log as raft
// does: an entry truncates the log at its index; a snapshot record for an
// index beyond the log, or whose term differs from the entry at its index,
// replaces the whole log (raft restores a snapshot only when its log does
// not already match it, and only beyond the commit index: a snapshot
// record contradicting an entry already committed is damage). It returns
// the true term regressions (an entry with a lower term than the entry
// before it when it was written) and such contradicting records.
func (v *verifier) replay(ctx context.Context, k int) (*verifyReplay, error) {
	if r := v.replays[k]; r != nil {
		return r, nil
	}
	p := v.parts[k]
	var (
		runs   []termRun
		last   uint64
		has    bool
		commit uint64
		e      Entry
		out    verifyReplay
	)
	termAt := func(i uint64) (uint64, bool) { return runAt(runs, i, last) }
	err := walkRecords(ctx, p.segs, p.log, func(r *Record) error {
		switch r.Type {
		case entryRecord:
			if parseEntry(r.Data, &e) != nil {
				return nil
			}
			i, t := e.Index, e.Term
			if (has || last != 0) && i <= last+1 {
				if prev, ok := termAt(i - 1); ok && t < prev {
					if len(out.regs) < maxListed {
						out.regs = append(out.regs, TermRegression{Index: i, Term: t, PrevTerm: prev, Overwriting: i <= last, Segment: r.Segment, Offset: r.Offset})
					} else {
						out.regsMore++
					}
				}
			}
			runs = setRun(runs, i, t)
			has, last = true, i
		case stateRecord:
			if hs, err := parseHardState(r.Data); err == nil {
				commit = hs.Commit
			}
		case snapshotRecord:
			s, err := parseWALSnapshot(r.Data)
			if err != nil {
				return nil
			}
			t, ok := termAt(s.Index)
			switch {
			case s.Index > last:
			case ok && t != s.Term:
				if commit >= s.Index {
					// raft ignores a snapshot at or below its commit
					// index, and so does ReadLog: report it, keep the log.
					out.badSnaps = append(out.badSnaps, verifyBadSnap{rec: SnapshotRecordAt{WALSnapshot: s, Segment: r.Segment, Offset: r.Offset}, term: t, commit: commit})
					return nil
				}
			default:
				return nil
			}
			runs = append(runs[:0], termRun{s.Index, s.Term})
			last, has = s.Index, false
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v.replays[k] = &out
	return &out, nil
}

// reportMetadataConflict finds the first metadata record that differs
// from the first one.
func (v *verifier) reportMetadataConflict(ctx context.Context) error {
	var first []byte
	found := false
	for _, p := range v.parts {
		err := walkRecords(ctx, p.segs, p.log, func(r *Record) error {
			if r.Type != metadataRecord || found {
				return nil
			}
			if first == nil {
				first = append([]byte{}, r.Data...)
				return nil
			}
			if string(first) != string(r.Data) {
				found = true
				seg := p.segs[r.Segment]
				v.add(CodeMetadataConflict, seg.Path, r.Offset, 0, fmt.Sprintf("segment %s: the metadata record at offset %d (%d bytes) differs from the WAL's first metadata record (%d bytes); etcd refuses to read a WAL whose metadata records differ", seg.Name, r.Offset, len(r.Data), len(first)))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !found {
		v.add(CodeMetadataConflict, v.g.WALDir, -1, 0, "the WAL's metadata records differ; etcd refuses to read it")
	}
	return nil
}

// lastStateRecord locates the HardState record the view holds.
func (v *verifier) lastStateRecord(ctx context.Context) (string, int64, error) {
	p := v.parts[v.view.hsPart]
	file, off := v.g.WALDir, int64(-1)
	err := walkRecords(ctx, p.segs, p.log, func(r *Record) error {
		if r.Type == stateRecord {
			file, off = p.segs[r.Segment].Path, r.Offset
		}
		return nil
	})
	return file, off, err
}
