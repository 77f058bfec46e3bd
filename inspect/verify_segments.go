package inspect

import (
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
)

// segState is what the last pass that read a segment learned about it.
type segState struct {
	sum  SegmentSummary
	stop *DecodeError
}

func (v *verifier) segStates() []segState {
	st := make([]segState, len(v.segs))
	for _, p := range v.parts {
		for rel, ss := range p.log.Segments {
			if !ss.Read {
				continue
			}
			abs := p.first + rel
			st[abs] = segState{sum: ss}
			if p.log.Stop != nil && p.log.Stop.Segment == rel {
				st[abs].stop = p.log.Stop
			}
		}
	}
	return st
}

// checkSegments classifies how each segment ends: cleanly at the end of
// the file or at preallocated zeros, at a torn write, or at damage; and
// what lies beyond the log's end.
func (v *verifier) checkSegments() error {
	states := v.segStates()
	explained := map[int]bool{}
	for abs := range v.segs {
		if err := v.checkSegmentEnd(abs, states[abs], explained); err != nil {
			return err
		}
	}
	v.checkSegmentHeaders(states)
	v.reportChainBreaks(explained)
	return nil
}

// checkSegmentEnd classifies how segment abs ends (st is what the pass
// that read it learned): at a decode error (classifyStop), at the end of
// the file, or at a zero length word, where judgeZeroTail looks at what
// lies beyond. explained collects the segments whose broken CRC chain a
// finding here explains.
func (v *verifier) checkSegmentEnd(abs int, st segState, explained map[int]bool) error {
	seg := v.segs[abs]
	isLast := abs == len(v.segs)-1
	if st.stop != nil && v.crcRecordDamaged[abs] == st.stop {
		return nil
	}
	if st.stop != nil && !(st.stop.Kind == KindCRCChain && v.chainBreaks[abs] == st.stop) {
		return v.classifyStop(abs, st.stop)
	}
	if !st.sum.Read {
		return nil
	}
	size, end := seg.Size, st.sum.End
	if size == 0 {
		v.add(CodeEmptySegment, seg.Path, -1, 0, fmt.Sprintf("segment %s is empty (0 bytes)", seg.Name))
		return nil
	}
	_, nextBreaks := v.chainBreaks[abs+1]
	if end >= size && isLast {
		v.judgeSegmentEnd(st.sum)
		return nil
	}
	if end >= size {
		if !isLast && nextBreaks && !verifyCutLooksComplete(st.sum, v.segs[abs+1]) {
			explained[abs+1] = true
			v.add(CodeSegmentTruncated, seg.Path, end, verifyNextIndex(st.sum), fmt.Sprintf("segment %s ends at offset %d after entry %d, but the next segment %s is named for index %d and its opening crc record does not continue the CRC chain: records at the end of %s are missing", seg.Name, end, st.sum.LastEntry, v.segs[abs+1].Name, v.segs[abs+1].Index, seg.Name))
		}
		return nil
	}
	tail, err := v.scanTail(abs, end+frameHeader, size)
	if err != nil {
		return &verifyNoVerdict{err}
	}
	if isLast && tail.nonZero < 0 && st.sum.Records > 0 {
		v.judgeZeroTailSize(st.sum)
	}
	v.judgeZeroTail(abs, st.sum, tail, nextBreaks, explained)
	return nil
}

// tailAhead is the scan of the last segment's tail from from to size,
// started as soon as the reading ended (see scanTailAhead).
type tailAhead struct {
	seg        int
	from, size int64
	done       chan struct{}
	t          verifyTail
	err        error
}

// scanTailAhead starts scanning what lies past the log in the last
// segment, where checkSegmentEnd will look, so that the scan runs while
// the lock check after the reading waits on the kernel. It returns what
// waits for the scan to end, for run to defer before the held segments
// are released.
func (v *verifier) scanTailAhead() func() {
	last := len(v.segs) - 1
	st := v.segStates()[last]
	seg := v.segs[last]
	if !st.sum.Read || st.stop != nil || seg.Size == 0 || st.sum.End >= seg.Size {
		return func() {}
	}
	a := &tailAhead{seg: last, from: st.sum.End + frameHeader, size: seg.Size, done: make(chan struct{})}
	go func() {
		a.t, a.err = verifyScanTail(seg, a.from, a.size)
		close(a.done)
	}()
	v.ahead = a
	return func() { <-a.done }
}

// scanTail is verifyScanTail on segment abs, taken from the scan started
// ahead when it is the same one.
func (v *verifier) scanTail(abs int, from, size int64) (verifyTail, error) {
	if a := v.ahead; a != nil && a.seg == abs && a.from == from && a.size == size {
		<-a.done
		return a.t, a.err
	}
	return verifyScanTail(v.segs[abs], from, size)
}

// judgeZeroTail judges what follows the zero length word that ends the
// log of segment abs (sum) at sum.End: nothing but zeros, records (a
// zeroed region, a torn tail or a write in progress), or other bytes.
func (v *verifier) judgeZeroTail(abs int, sum SegmentSummary, tail verifyTail, nextBreaks bool, explained map[int]bool) {
	seg := v.segs[abs]
	isLast := abs == len(v.segs)-1
	size, end := seg.Size, sum.End
	switch {
	case sum.Records == 0 && tail.nonZero < 0:
		v.add(CodeEmptySegment, seg.Path, -1, 0, fmt.Sprintf("segment %s holds no record: all its %d bytes are zero", seg.Name, size))
	case tail.recAt >= 0 && isLast && (v.live || verifyWordChanged(seg, end)):
		v.add(CodeWriteInProgress, seg.Path, end, verifyNextIndex(sum), fmt.Sprintf("segment %s: the log read ended at offset %d, and records were appended there while it was read (a live server at work)", seg.Name, end))
	case tail.recAt >= 0 && isLast && tail.nonZero >= (end/minSectorSize+1)*minSectorSize && unsyncedSuffix(seg, tail.recAt, size):
		// Whole sectors lost from the last write: see writermodel.go.
		v.torn = v.add(CodeTornTail, seg.Path, end, 0, fmt.Sprintf("segment %s: the log ends at a zero length word at offset %d, and %s at offset %d up to the end of the log: the rest of the last write, of which the crash lost a sector before it was synced (etcd stops at the zeros and zeroes what follows when it next opens the WAL for writing)", seg.Name, end, verifyRecordsPhrase(tail), tail.recAt))
	case tail.recAt >= 0:
		msg := fmt.Sprintf("segment %s: a zero length word at offset %d ends the log in this segment, but %s at offset %d: the records in between were zeroed", seg.Name, end, verifyRecordsPhrase(tail), tail.recAt)
		if nextBreaks {
			explained[abs+1] = true
			msg += ", and the next segment's crc record does not continue the CRC chain"
		}
		if isLast {
			msg += "; etcd would stop at the zeros and drop everything after them"
		}
		v.add(CodeZeroedRegion, seg.Path, end, verifyNextIndex(sum), msg)
	case !isLast && nextBreaks:
		explained[abs+1] = true
		v.add(CodeZeroedRegion, seg.Path, end, verifyNextIndex(sum), fmt.Sprintf("segment %s ends early: zeros from offset %d to its end (%d bytes), and the next segment %s does not continue the CRC chain, so records at the end of %s were lost", seg.Name, end, size-end, v.segs[abs+1].Name, seg.Name))
	case isLast && tail.nonZero >= 0 && v.live:
		v.add(CodeWriteInProgress, seg.Path, end, verifyNextIndex(sum), fmt.Sprintf("segment %s: the log ends at offset %d and bytes that are not yet a record follow at offset %d while a live process holds the WAL: a write in progress", seg.Name, end, tail.nonZero))
	case isLast && tail.nonZero >= 0:
		v.torn = v.add(CodeTornTail, seg.Path, end, 0, fmt.Sprintf("segment %s: the log ends at offset %d, but non-zero bytes follow at offset %d that do not decode as records: the residue of a torn write (etcd zeroes it when it next opens the WAL for writing)", seg.Name, end, tail.nonZero))
	}
}

// checkSegmentHeaders reports segments that do not open with the crc
// record and the metadata record etcd writes at the start of each.
func (v *verifier) checkSegmentHeaders(states []segState) {
	for abs, st := range states {
		if !st.sum.Read || st.sum.Records == 0 || (st.stop != nil && st.stop.Offset == 0) || v.chainBreaks[abs] != nil {
			continue
		}
		seg := v.segs[abs]
		if typ := st.sum.Opening[0]; typ != crcRecord {
			v.add(CodeSegmentHeader, seg.Path, 0, 0, fmt.Sprintf("segment %s opens with a %s record, not the crc record etcd writes at the start of every segment: read on its own, as etcd reads it to restart from a snapshot recorded in it, its first record fails the CRC check", seg.Name, typ))
		} else if typ := st.sum.Opening[1]; st.sum.Records >= 2 && typ != metadataRecord {
			// The type is outside the CRC: a damaged type byte turns the
			// metadata record into another record whose CRC still holds.
			v.add(CodeRecordMalformed, seg.Path, -1, 0, fmt.Sprintf("segment %s: its second record is a %s record, not the metadata record etcd writes after the crc record of every segment (a record's type is not covered by its CRC, so a damaged type byte reads like this)", seg.Name, typ))
		}
	}
}

// reportChainBreaks reports the crc records that do not continue the CRC
// chain and that no other finding explains.
func (v *verifier) reportChainBreaks(explained map[int]bool) {
	// In segment order, so that runs report the same (the map's order
	// is random).
	for _, abs := range slices.Sorted(maps.Keys(v.chainBreaks)) {
		st := v.chainBreaks[abs]
		if explained[abs] {
			continue
		}
		seg := v.segs[abs]
		if d := v.crcRecordDamaged[abs]; d != nil {
			v.add(CodeCRCMismatch, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the crc record at offset %d is damaged: it does not continue the CRC chain of the segment before it (%s), and the record after it, at offset %d, fails against the value it holds; the rest of %s could not be checked", seg.Name, st.Offset, st.Msg, d.Offset, seg.Name))
			continue
		}
		v.add(CodeCRCMismatch, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the crc record at offset %d does not continue the CRC chain of the segment before it (%s)", seg.Name, st.Offset, st.Msg))
	}
}

// verifyCutLooksComplete tells whether a segment that ends at the end of
// its file still holds every entry written before the next segment was
// cut: etcd names the next segment after the index following the last
// entry written.
func verifyCutLooksComplete(sum SegmentSummary, next Segment) bool {
	return sum.LastEntry > 0 && sum.LastEntry+1 == next.Index
}

func verifyRecordsPhrase(t verifyTail) string {
	if t.recs == 1 {
		return "a valid record follows"
	}
	return fmt.Sprintf("%d or more valid records with a consistent CRC chain follow", t.recs)
}

// classifyStop turns the decode error that stopped a pass into a finding.
func (v *verifier) classifyStop(abs int, st *DecodeError) error {
	seg := v.segs[abs]
	isLast := abs == len(v.segs)-1
	later := len(v.segs) - 1 - abs
	switch st.Kind {
	case KindTorn:
		if isLast && v.live {
			v.add(CodeWriteInProgress, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the record at offset %d is not complete yet (%s) while a live process holds the WAL: a write in progress", seg.Name, st.Offset, st.Msg))
			return nil
		}
		if st.Offset == 0 && isLast {
			v.add(CodeRecordMalformed, seg.Path, 0, 0, fmt.Sprintf("segment %s cannot be framed as records from its start (%s): every segment etcd writes opens with a complete crc record, so this is not a torn write", seg.Name, st.Msg))
			return nil
		}
		if isLast {
			if cut, err := v.lastCutShort(seg, st); err != nil || cut != "" {
				if err != nil {
					return &verifyNoVerdict{err}
				}
				v.add(CodeSegmentTruncated, seg.Path, st.Offset, 0, cut)
				return nil
			}
		}
		zero := false
		if isLast {
			var err error
			if zero, err = verifyFrameHasZeroSector(seg, st.Offset, seg.Size); err != nil {
				return &verifyNoVerdict{err}
			}
		}
		tail, err := verifyScanTail(seg, st.Offset+frameHeader, seg.Size)
		if err != nil {
			return &verifyNoVerdict{err}
		}
		lose := "etcd would take it for a torn write and lose the records after it"
		if !isLast {
			lose = fmt.Sprintf("etcd takes this for the end of the log and ignores the rest of the segment and the %d later segment(s)", later)
		}
		switch {
		case tail.recAt >= 0 && zero && unsyncedSuffix(seg, tail.recAt, seg.Size):
			v.torn = v.add(CodeTornTail, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the record at offset %d holds an all-zero sector (%s), and %s at offset %d up to the end of the log: the rest of the last write, of which the crash lost a sector before it was synced (etcd drops them when it restarts)", seg.Name, st.Offset, st.Msg, verifyRecordsPhrase(tail), tail.recAt))
		case tail.recAt >= 0 && zero:
			v.add(CodeZeroedRegion, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the record at offset %d holds an all-zero 512-byte sector, yet %s at offset %d: a zeroed region inside the log, not a torn write at its end (etcd would truncate the log here and lose them)", seg.Name, st.Offset, verifyRecordsPhrase(tail), tail.recAt))
		case tail.recAt >= 0:
			v.add(CodeRecordMalformed, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: %s at offset %d, yet %s at offset %d: the length word is damaged (%s)", seg.Name, st.Msg, st.Offset, verifyRecordsPhrase(tail), tail.recAt, lose))
		case !isLast:
			v.add(CodeSegmentTruncated, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s is cut short: %s at offset %d; %s", seg.Name, st.Msg, st.Offset, lose))
		default:
			v.torn = v.add(CodeTornTail, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the last record, at offset %d, is incomplete (%s): a write was interrupted; etcd drops it when it restarts", seg.Name, st.Offset, st.Msg))
		}
		return nil
	case KindCRCChain:
		v.add(CodeCRCMismatch, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: %s at offset %d", seg.Name, st.Msg, st.Offset))
		return nil
	case KindCRC, KindMalformed:
		zero, err := verifyFrameHasZeroSector(seg, st.Offset, seg.Size)
		if err != nil {
			return &verifyNoVerdict{err}
		}
		after := ""
		if later > 0 {
			after = "; reading resumed at the next segment"
		}
		switch {
		case zero:
			v.add(CodeZeroedRegion, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the record at offset %d holds an all-zero 512-byte sector (%s): data in the middle of the log was zeroed%s", seg.Name, st.Offset, st.Msg, after))
		case st.Kind == KindCRC:
			v.add(CodeCRCMismatch, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the record at offset %d fails its CRC check (%s)%s", seg.Name, st.Offset, st.Msg, after))
		default:
			v.add(CodeRecordMalformed, seg.Path, st.Offset, 0, fmt.Sprintf("segment %s: the record at offset %d is malformed: %s%s", seg.Name, st.Offset, st.Msg, after))
		}
		return nil
	}
	return &verifyNoVerdict{st}
}

// verifyNextIndex is the index after a segment's last entry, 0 when it
// holds none.
func verifyNextIndex(s SegmentSummary) uint64 {
	if s.LastEntry == 0 {
		return 0
	}
	return s.LastEntry + 1
}

// verifyFirstFrameEnd returns the end of a segment's first frame, -1 if
// it cannot be read.
func verifyFirstFrameEnd(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	w, ok := verifyPeekWord(f, 0, math.MaxInt64)
	if !ok {
		return -1
	}
	rec, pad := verifyFrameSize(w)
	return frameHeader + rec + pad
}
