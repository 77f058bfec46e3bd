package inspect

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
)

// resumePoint is where a pass that resumed after damage starts: an offset
// in its first segment and the CRC chain value before the record there.
type resumePoint struct {
	off int64
	crc uint32
}

// resumeAt makes a scanner that has read nothing yet start at rp instead
// of the start of its first segment (nothing when rp is nil).
func (s *scanner) resumeAt(rp *resumePoint) {
	if rp == nil || s.done || s.f != nil || len(s.segs) == 0 {
		return
	}
	if !s.open() {
		return
	}
	s.off, s.pos, s.crc = rp.off, rp.off, rp.crc
}

// Resumed is a pass over the rest of a segment past damage that stopped an
// earlier pass in it (see ResumeAfterDamage).
type Resumed struct {
	// Log is the pass: its one segment is Segment, its offsets the file's.
	// Read its records again with Records or EffectiveEntries over
	// []Segment{Segment}.
	Log     *Log
	Segment Segment
	// Damage is the offset where the earlier pass stopped; Found the
	// offset of the first record found after it; Offset where Log starts:
	// Found, or the record after it when nothing checks Found's bytes.
	Damage, Found, Offset int64
	// Framed is true when the damaged record's length word gave Found (the
	// framing survived the damage), false when Found was found by a scan
	// for a run of records.
	Framed bool
}

// ResumeAfterDamage judges how the pass l over g's WAL ended in its last
// segment and, when it ended at damage that readable records follow, reads
// the rest of that segment from the first record that can be checked.
//
// It returns:
//   - nil, nil: the log ends there as the writer leaves it (the end of its
//     records, a torn tail a crash leaves, a write in progress; see the
//     writer model), or the pass stopped before its last segment;
//   - nil, f: damage (f, the finding Verify reports for it) after which no
//     run of records can be checked: what was written after it is unknown;
//   - r, f: damage f, and the records after it in r.Log.
//
// Damage is a decode error that the writer model does not explain (a CRC
// mismatch, a malformed record, an all-zero sector inside the log), or a
// zero length word that records written and synced later follow (a
// zeroed region).
//
// How the records after the damage are proven genuine: etcd's CRC is a
// running chain, so the crc field of the first record after the damage
// continues values the damage destroyed, and its own bytes cannot be
// checked by it. They can when the damaged record's length word and crc
// field survived (only its data changed): the chain then continues from
// that crc field, and the first record is read from there. Otherwise the
// first record is counted as damaged, and the pass starts at the record
// after it, with the chain value the first record's crc field holds: every
// record the pass reads is checked against the one before it, as etcd's
// reader checks them. A run of fewer than two chained records proves
// nothing and is not read.
func ResumeAfterDamage(ctx context.Context, g Group, l *Log) (*Resumed, *Finding, error) {
	if l == nil || len(l.Segments) == 0 {
		return nil, nil, nil
	}
	last := len(l.Segments) - 1
	ss := l.Segments[last]
	seg := ss.Segment
	var from int64
	var f Finding
	stop := l.Stop
	switch {
	case stop != nil && stop.Segment != last:
		return nil, nil, nil
	case stop != nil:
		fd, ok, err := JudgeStop(g, l)
		if err != nil {
			return nil, nil, err
		}
		if !ok || fd.Code == CodeTornTail || fd.Code == CodeWriteInProgress {
			return nil, nil, nil
		}
		from, f = stop.Offset, fd
	default:
		if !ss.Read || ss.End >= seg.Size {
			return nil, nil, nil
		}
		end := ss.End
		tail, err := verifyScanTail(seg, end+frameHeader, seg.Size)
		if err != nil {
			return nil, nil, err
		}
		if tail.recAt < 0 || (tail.nonZero >= (end/minSectorSize+1)*minSectorSize && unsyncedSuffix(seg, tail.recAt, seg.Size)) {
			return nil, nil, nil
		}
		if verifyWordChanged(seg, end) {
			return nil, nil, fmt.Errorf("%s: records were appended at offset %d while it was read", seg.Path, end)
		}
		v := &verifier{g: g, rep: &GroupReport{}}
		v.add(CodeZeroedRegion, seg.Path, end, 0, fmt.Sprintf("segment %s: a zero length word at offset %d ends the log in this segment, but %s at offset %d: the records in between were zeroed", seg.Name, end, verifyRecordsPhrase(tail), tail.recAt))
		from, f = end, v.rep.Findings[0]
	}
	r, err := resumeAt(ctx, seg, from, stop != nil)
	if err != nil || r == nil {
		return nil, &f, err
	}
	return r, &f, nil
}

// resumeAt finds the first run of at least two chained records after the
// damage at from in seg and reads the segment from there (nil when there
// is none). framed says whether a record starts at from (a decode error),
// as opposed to a zero length word.
func resumeAt(ctx context.Context, seg Segment, from int64, framed bool) (*Resumed, error) {
	fh, err := os.Open(seg.Path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	r := &Resumed{Segment: seg, Damage: from, Found: -1}
	var seed uint32
	haveSeed := false
	if framed {
		if w, ok := verifyPeekWord(fh, from, size); ok && verifyPlausibleLength(w, size-from) {
			rec, pad := verifyFrameSize(w)
			next := from + frameHeader + rec + pad
			if verifyTryRecords(fh, next, size) >= 2 {
				r.Found, r.Framed = next, true
				b := make([]byte, rec)
				if _, err := fh.ReadAt(b, from+frameHeader); err == nil {
					if typ, crc, _, err := parseRecord(b); err == nil && typ != crcRecord {
						seed, haveSeed = crc, true
					}
				}
			}
		}
	}
	if r.Found < 0 {
		t, err := verifyScanTail(seg, from+frameHeader, size)
		if err != nil {
			return nil, err
		}
		if t.recAt < 0 || t.recs < 2 {
			return nil, nil
		}
		r.Found = t.recAt
	}
	w, ok := verifyPeekWord(fh, r.Found, size)
	if !ok {
		return nil, nil
	}
	rec, pad := verifyFrameSize(w)
	b := make([]byte, rec)
	if _, err := fh.ReadAt(b, r.Found+frameHeader); err != nil {
		return nil, err
	}
	_, c1, d1, err := parseRecord(b)
	if err != nil {
		return nil, nil
	}
	rp := &resumePoint{off: r.Found + frameHeader + rec + pad, crc: c1}
	if haveSeed && crc32.Update(seed, crcTable, d1) == c1 {
		rp = &resumePoint{off: r.Found, crc: seed}
	}
	r.Offset = rp.off
	if r.Log, err = readLog(ctx, []Segment{seg}, readOptions{resume: rp}); err != nil {
		return nil, err
	}
	return r, nil
}
