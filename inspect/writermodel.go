package inspect

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The model of the writer: what etcd's wal and snap packages, driven by
// raft, can leave on disk after a crash at any point. Verify's verdicts
// are judged against it; a state outside it is damage.
//
// The writer (etcd v3.4 to v3.7 and the systems that embed its packages):
//
//   - wal.Create writes segment 0 in a temporary directory, preallocated
//     to SegmentSizeBytes (a zero tail), with a crc record, the metadata
//     record and an empty snapshot record, fsyncs and renames the
//     directory into place. A WAL directory therefore never holds a
//     half-made first segment.
//   - wal.Save writes the entries, then the HardState (none when it is
//     empty), in one buffered write, and fsyncs. When the segment has
//     reached SegmentSizeBytes it cuts: the segment is truncated at its
//     last record and fsynced; the next file comes from the file pipeline
//     (0.tmp or 1.tmp, preallocated), gets a crc record continuing the
//     chain, the metadata and the HardState, is fsynced and renamed to
//     %016x-%016x.wal, and the directory is fsynced. So every segment
//     but the last ends exactly at a record boundary at or beyond
//     SegmentSizeBytes, its final write starting below it
//     (SegmentSummary.FinalChunk), and the live last segment keeps a zero
//     tail up to its preallocated size.
//   - wal.SaveSnapshot writes a snapshot record and fsyncs; it never cuts.
//     raft persists a snapshot as: the .snap file (snap.SaveSnap, written
//     in place and fsynced, not atomically), then the WAL snapshot record,
//     then wal.Save of the HardState that commits it and the entries
//     after it. ReleaseLockTo and the purge remove old segments and .snap
//     files from the oldest on.
//   - Opening a WAL for writing (after a restart) zeroes everything after
//     the last record to the end of the last segment (ZeroToEnd); a torn
//     last record makes etcd's single wal.Repair truncate the segment at
//     its last record, keeping the original as <segment>.broken.
//
// What a crash can leave, and what the verdict is:
//
//   - A torn last record (unsynced sectors lost or zero) or non-record
//     bytes after the last record in the preallocated tail: torn-tail
//     (warning: etcd drops and zeroes them; nothing acknowledged is lost).
//     Beside a live server the same is a write in progress (info).
//   - A sector lost in the middle of the writes not yet synced (HardStates
//     whose commit alone changed, which wal.Save does not sync, then one
//     wal.Save): zeros, then the rest of those records up to the end of
//     the log: torn-tail too (unsyncedSuffix). Zeros followed by a second
//     synced write are damage (zeroed-region). repair zeroes a torn tail
//     only when what follows the torn record can be nothing else
//     (TornTailMendable).
//   - A .snap file without its WAL record: snapshot-orphan when it lies
//     within the log, snapshot-beyond-log when it lies beyond it (the
//     same state is what the loss of the newest segments leaves, so it is
//     evidence, never moved by repair). A .snap cut short by the crash
//     has no record either: snapshot-corrupt (warning; etcd never loads
//     it) or, beside a live server, a write in progress.
//   - A snapshot record not yet committed by a HardState:
//     snapshot-beyond-commit (info); if it lies beyond the log, the log
//     is not reset by it (Log.UnconfirmedSnapshot), as etcd's ReadAll
//     keeps the entries before it.
//   - A cut interrupted before the rename: the old segment ends at its
//     last record with no zero tail and the .tmp files of the pipeline
//     remain (nothing to report: etcd ignores .tmp files).
//   - Anything else at the end of the log: a last segment without its
//     zero tail and nothing that explains it, a last segment shorter than
//     its preallocation, .snap files beyond the log: newer segments are
//     missing. One such sign is log-tail-suspect or snapshot-beyond-log
//     (warning), several that corroborate each other log-tail-missing
//     (error); a last segment cut inside a record although it is shorter
//     than its preallocation is segment-truncated (error): no crash
//     shrinks a preallocated file, a partial copy does.
//   - Every other code describes damage no crash of a correct writer
//     leaves (error), or a fact (info).

// segSizeBounds is what the files say about the group's SegmentSizeBytes:
// it lies in (lo, hi]; exact when a file preallocated to it was found.
type segSizeBounds struct {
	lo, hi int64
	exact  bool
	known  bool
	// cutAt bounds SegmentSizeBytes from above (0 when unknown): the
	// wal.Save that cut a segment found it at least that full, and it
	// began no later than the segment's last record (unless it buffered
	// more than etcd's page writer holds, which those segments exclude).
	cutAt int64
}

// below reports whether size is certainly smaller than SegmentSizeBytes.
func (b segSizeBounds) below(size int64) bool {
	return b.known && size <= b.lo
}

// String describes the bounds for messages.
func (b segSizeBounds) String() string {
	switch {
	case b.exact:
		return fmt.Sprintf("%d bytes", b.hi)
	case b.known:
		return fmt.Sprintf("more than %d bytes", b.lo)
	}
	return "unknown"
}

// tmpFile is a file of etcd's file pipeline (0.tmp, 1.tmp) in the WAL
// directory.
type tmpFile struct {
	name string
	size int64
	// crc is the value of the crc record it opens with, when it opens
	// with one (a cut was writing the new segment); hasCRC tells.
	crc    uint32
	hasCRC bool
}

// tmpFiles reads the pipeline's files of the WAL directory.
func (v *verifier) tmpFiles() []tmpFile {
	entries, err := os.ReadDir(v.g.WALDir)
	if err != nil {
		return nil
	}
	var out []tmpFile
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tmp") || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(v.g.WALDir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		t := tmpFile{name: e.Name(), size: fi.Size()}
		t.crc, t.hasCRC = firstCRCRecord(p)
		out = append(out, t)
	}
	return out
}

// firstCRCRecord reads the crc record a file opens with, if it does.
func firstCRCRecord(path string) (uint32, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var b [64]byte
	n, _ := f.ReadAt(b[:], 0)
	if n < frameHeader {
		return 0, false
	}
	rec, pad := verifyFrameSize(binary.LittleEndian.Uint64(b[:]))
	if rec <= 0 || frameHeader+rec+pad > int64(n) {
		return 0, false
	}
	typ, crc, _, err := parseRecord(b[frameHeader : frameHeader+rec])
	if err != nil || typ != crcRecord {
		return 0, false
	}
	return crc, true
}

// sizeBounds derives the group's segment size from the pipeline's
// preallocated .tmp files (exactly), or else bounds it from below by the
// segments that were cut: the wal.Save before the one that cut a segment
// found it below SegmentSizeBytes (SegmentSummary.PrevSaveCheck).
func (v *verifier) sizeBounds(tmps []tmpFile, sums []SegmentSummary) segSizeBounds {
	var b segSizeBounds
	for _, t := range tmps {
		if t.size > 0 && t.size > b.hi {
			b = segSizeBounds{lo: t.size - 1, hi: t.size, exact: true, known: true}
		}
	}
	if b.exact {
		return b
	}
	for k := 0; k+1 < len(sums); k++ {
		s := sums[k]
		if !s.Read || s.End != s.Size || s.PrevSaveCheck <= 0 {
			continue
		}
		b.lo = max(b.lo, s.PrevSaveCheck)
		b.known = true
		if s.LastSave > 0 && s.End-s.LastSave < 64<<10 && (b.cutAt == 0 || s.LastRecord < b.cutAt) {
			b.cutAt = s.LastRecord
		}
	}
	return b
}

// summaries returns the segment summaries of the pass that read each
// segment (zero for a segment no pass read).
func (v *verifier) summaries() []SegmentSummary {
	states := v.segStates()
	out := make([]SegmentSummary, len(states))
	for k, st := range states {
		out[k] = st.sum
	}
	return out
}

// walGrew reports whether a segment newer than the last one listed
// appeared while the WAL was read: a live server cut a segment.
func (v *verifier) walGrew() bool {
	segs, _, err := ListSegments(v.g.WALDir)
	if err != nil || len(segs) == 0 || len(v.segs) == 0 {
		return false
	}
	return segs[len(segs)-1].Seq > v.segs[len(v.segs)-1].Seq
}

// judgeSegmentEnd looks at how the last segment, read to the end of its
// file without a zero tail, ends: the state a cut leaves, or a sign that
// newer segments are missing (v.tailSignal).
func (v *verifier) judgeSegmentEnd(sum SegmentSummary) {
	seg := sum.Segment
	if _, err := os.Stat(seg.Path + ".broken"); err == nil {
		// etcd's wal.Repair truncated this segment at its last record.
		return
	}
	tmps := v.tmpFiles()
	sums := v.summaries()
	bounds := v.sizeBounds(tmps, sums)
	var last *Log
	for _, p := range v.parts {
		last = p.log
	}
	for _, t := range tmps {
		if t.hasCRC && last != nil && last.Stop == nil && t.crc != last.FinalCRC {
			v.setTailSignal(seg.Path, sum.End, fmt.Sprintf("the pipeline file %s opens a segment whose crc record (%08x) does not continue the chain of %s (%08x): a newer segment existed", t.name, t.crc, seg.Name, last.FinalCRC))
			return
		}
	}
	if bounds.below(seg.Size) {
		v.setTailSignal(seg.Path, sum.End, fmt.Sprintf("the last segment %s ends at a record boundary after %d bytes with no preallocated zero space, shorter than the group's segment size (%s): etcd keeps its live segment preallocated and cuts one only past that size, so the file was cut short", seg.Name, seg.Size, bounds))
		return
	}
	if len(tmps) > 0 {
		// A cut interrupted before the new segment's rename.
		return
	}
	if !bounds.known || sum.LastSave < 0 || sum.LastSave <= bounds.lo {
		// Its last write began below the segment size and crossed it:
		// etcd cuts only at the next wal.Save.
		return
	}
	v.setTailSignal(seg.Path, sum.End, fmt.Sprintf("the last segment %s ends exactly at its last record (%d bytes) with no preallocated zero space, and its last write began at offset %d, past the size at which the writer had already found earlier segments not yet full (%d bytes), with no cut under way (no .tmp file of etcd's pipeline): etcd would have cut it, so newer segments were there", seg.Name, seg.Size, sum.LastSave, bounds.lo))
}

func (v *verifier) setTailSignal(file string, off int64, msg string) {
	v.tailSignal, v.tailFile, v.tailOffset = msg, file, off
}

// judgeEnd weighs the signs that the end of the log is gone: .snap files
// beyond the last entry without a record (v.beyond), .snap files newer
// than every snapshot record read (v.late), and how the last segment ends
// (v.tailSignal). Beside a live server they are writes in progress; one
// sign alone is a warning; signs that corroborate each other are an error.
func (v *verifier) judgeEnd() {
	var reasons []string
	var file string
	var off int64 = -1
	var idx uint64
	snapReason := func(what string, files []*SnapFile) {
		if len(files) == 0 {
			return
		}
		names := make([]string, len(files))
		for k, s := range files {
			names[k] = s.Name
		}
		sort.Strings(names)
		reasons = append(reasons, fmt.Sprintf("snapshot file(s) %s %s without a snapshot record in the WAL", strings.Join(names, ", "), what))
		if file == "" {
			file, idx = files[0].Path, files[0].Index
		}
	}
	snapReason(fmt.Sprintf("refer beyond the log's last entry %d", v.view.last), v.beyond)
	if v.live || v.grew || v.tailSignal != "" {
		snapReason("are newer than every snapshot record in the WAL", v.late)
	} else {
		for _, s := range v.late {
			v.add(CodeSnapshotOrphan, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s (index %d, term %d) has no matching snapshot record in the WAL; etcd never loads it", s.Name, s.Index, s.Term))
		}
	}
	if v.tailSignal != "" {
		reasons = append(reasons, v.tailSignal)
		if file == "" {
			file, off = v.tailFile, v.tailOffset
		}
	}
	if v.live || v.grew {
		reasons = append(reasons, v.inProgress...)
		if len(reasons) == 0 {
			return
		}
		who := "a live process holds the WAL's lock"
		if v.grew {
			who = "new segments appeared while the WAL was read"
		}
		if file == "" {
			file = v.g.SnapDir
		}
		v.add(CodeWriteInProgress, file, off, idx, fmt.Sprintf("%s: %s; this is the server at work, not a verdict", who, strings.Join(reasons, "; ")))
		return
	}
	if len(reasons) == 0 {
		return
	}
	signs := len(reasons)
	if v.nBeyond >= 2 {
		// Several .snap files beyond the log: a crash leaves at most the
		// one being saved when it struck.
		signs++
	}
	switch {
	case signs >= 2:
		v.add(CodeLogTailMissing, file, off, idx, fmt.Sprintf("%s: the newer segments holding the end of the log are gone", strings.Join(reasons, "; and ")))
	case len(v.beyond) > 0:
		s := v.beyond[0]
		v.add(CodeSnapshotBeyondLog, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s (index %d, term %d) is newer than the log's last entry %d and has no snapshot record in the WAL: etcd saves a snapshot received from the leader before its WAL record, so a crash in between leaves this; so does the loss of the newest segments, which would have lost committed entries", s.Name, s.Index, s.Term, v.view.last))
	default:
		v.add(CodeLogTailSuspect, v.tailFile, v.tailOffset, 0, v.tailSignal)
	}
}

// lastCutShort tells whether the last segment, stopped by a record that
// runs past the end of the file, is shorter than the size it was
// preallocated to: no crash leaves that (a torn write inside the
// preallocated space leaves zeros, not a short file), a partial copy
// does. It returns the finding's message, "" when it is not so.
func (v *verifier) lastCutShort(seg Segment, st *DecodeError) (string, error) {
	f, done, err := seg.openRead()
	if err != nil {
		return "", err
	}
	defer done()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := fi.Size()
	if w, ok := verifyPeekWord(f, st.Offset, size); ok {
		rec, pad := verifyFrameSize(w)
		if st.Offset+frameHeader+rec+pad <= size {
			return "", nil // torn inside the file: zeros, not a short file
		}
	}
	bounds := v.sizeBounds(v.tmpFiles(), v.summaries())
	if !bounds.below(size) {
		return "", nil
	}
	return fmt.Sprintf("segment %s ends inside the record at offset %d after %d bytes, shorter than the group's segment size (%s): etcd preallocates its live segment, so a crash leaves zeros there, never a short file; the file was cut short (a partial copy) and the records after offset %d are gone", seg.Name, st.Offset, size, bounds, st.Offset), nil
}

// verifyWordChanged tells whether the 8-byte word at off is no longer
// zero: a live writer appended where the log had ended.
func verifyWordChanged(seg Segment, off int64) bool {
	f, done, err := seg.openRead()
	if err != nil {
		return false
	}
	defer done()
	var b [frameHeader]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return false
	}
	return binary.LittleEndian.Uint64(b[:]) != 0
}

// unsyncedSuffix tells whether the records found at off after a run of
// zeros in the last segment can be the rest of the writes a crash left
// unsynced: a torn write loses sectors of the writes after the last fsync,
// which are HardStates that changed only the commit index (wal.Save does
// not sync those), then at most one wal.Save (entries, then a HardState)
// or one snapshot record, up to the end of the log. Records that hold a
// second write after that were synced before the crash: losing them is
// damage.
func unsyncedSuffix(seg Segment, off, size int64) bool {
	f, done, err := seg.openRead()
	if err != nil {
		return false
	}
	defer done()
	var (
		prev    uint32
		n       int
		buf     []byte
		phase   int // 0: HardStates, 1: entries, 2: ended by a HardState or a snapshot record
		hsTerm  uint64
		hsVote  uint64
		haveHS  bool
		lastEnd = off
	)
	for {
		w, ok := verifyPeekWord(f, off, size)
		if !ok || w == 0 {
			break
		}
		rec, pad := verifyFrameSize(w)
		if !verifyPlausibleLength(w, size-off) {
			return false
		}
		if int64(cap(buf)) < rec {
			buf = make([]byte, rec)
		}
		b := buf[:rec]
		if _, err := f.ReadAt(b, off+frameHeader); err != nil {
			return false
		}
		typ, crc, data, err := parseRecord(b)
		if err != nil {
			return false
		}
		if n > 0 && typ != crcRecord && crc != crc32.Update(prev, crcTable, data) {
			return false
		}
		prev = crc
		n++
		switch {
		case phase == 2:
			return false
		case typ == stateRecord:
			hs, err := parseHardState(data)
			if err != nil {
				return false
			}
			if phase == 1 {
				phase = 2
			} else if haveHS && (hs.Term != hsTerm || hs.Vote != hsVote) {
				// A changed term or vote is synced: it must be the last.
				phase = 2
			}
			hsTerm, hsVote, haveHS = hs.Term, hs.Vote, true
		case typ == entryRecord:
			phase = 1
		case typ == snapshotRecord:
			phase = 2
		default:
			return false
		}
		off += frameHeader + rec + pad
		lastEnd = off
	}
	return n > 0 && lastEnd <= size
}

// checkSegmentIndexes compares each segment's name with the name etcd
// gave it when it cut the segment before: the index after the last entry
// written (WAL.enti), read from the segments before it. The first segment
// listed has no such witness (older ones may be purged).
func (v *verifier) checkSegmentIndexes() {
	sums := v.summaries()
	for k := 1; k < len(v.segs); k++ {
		prev, seg := sums[k-1], v.segs[k]
		if _, brk := v.chainBreaks[k]; brk || !prev.Read || prev.End != prev.Size || prev.Records == 0 || !sums[k].Read || v.segs[k-1].Seq+1 != seg.Seq {
			continue
		}
		a, b := prev.Enti+1, prev.LastEntryWritten+1
		if seg.Index == a || seg.Index == b {
			continue
		}
		v.add(CodeSegmentIndex, seg.Path, -1, a, fmt.Sprintf("segment %s is named for index %d, but the last entry written before it is %d, so etcd named it %s when it cut it: the file was renamed", seg.Name, seg.Index, a-1, SegmentName(seg.Seq, a)))
	}
}

// judgeZeroTailSize looks at the size of a last segment that ends in
// zeros: etcd preallocates it to SegmentSizeBytes (a whole number of
// sectors), and neither a crash nor etcd's own ZeroToEnd shrinks it, so a
// smaller file is a partial copy, which may have lost newer segments too.
func (v *verifier) judgeZeroTailSize(sum SegmentSummary) {
	seg := sum.Segment
	bounds := v.sizeBounds(v.tmpFiles(), v.summaries())
	switch {
	case bounds.exact && seg.Size != bounds.hi, bounds.below(seg.Size):
		v.setTailSignal(seg.Path, seg.Size, fmt.Sprintf("the last segment %s is %d bytes, shorter than the size etcd preallocates it to (%s): the file was cut short, so newer segments may be missing too", seg.Name, seg.Size, bounds))
	case seg.Size%minSectorSize != 0 && (bounds.cutAt == 0 || seg.Size <= bounds.cutAt):
		// Not a size etcd preallocates to, and not clearly past it: a
		// file that grew past its preallocation by a write the crash
		// tore, then zeroed by etcd on reopening, can have any size,
		// but only beyond the segment size.
		v.setTailSignal(seg.Path, seg.Size, fmt.Sprintf("the last segment %s is %d bytes, not a whole number of %d-byte sectors, although etcd preallocates it to its segment size and nothing it does shrinks it: the file was cut short, so newer segments may be missing too", seg.Name, seg.Size, minSectorSize))
	}
}

// TornTailMendable tells whether the bytes after the torn record at off
// in the last segment (size bytes long) can all be dropped the way etcd
// drops them on restart without losing anything a crash did not: zeros,
// or records that can only be the rest of the writes the crash left
// unsynced. Non-record bytes after the torn record's end with no such
// records may be what remains of writes synced before the damage; a
// careful repair leaves them alone.
func TornTailMendable(path string, off, size int64) (bool, error) {
	return TornTailMendableSegment(Segment{Path: path}, off, size)
}

// TornTailMendableSegment is TornTailMendable for a listed segment: it reads
// through the file held for it (see HoldSegments), if any.
func TornTailMendableSegment(seg Segment, off, size int64) (bool, error) {
	fe := verifyFrameEnd(seg, off)
	if fe < 0 || fe >= size {
		return true, nil
	}
	t, err := verifyScanTail(seg, fe, size)
	if err != nil {
		return false, err
	}
	switch {
	case t.nonZero < 0:
		return true, nil
	case t.recAt >= 0:
		return unsyncedSuffix(seg, t.recAt, size), nil
	}
	return false, nil
}

// JudgeStop tells what the decode error that ended a pass over a group's
// WAL (l.Stop) means, by the same model Verify uses: the finding Verify
// would report for it (torn-tail and write-in-progress for what a crash
// or a live writer leaves at the end of the log; an error code for
// damage). It returns false when the pass ended cleanly. Reading commands
// ask it instead of judging the end of the log themselves.
func JudgeStop(g Group, l *Log) (Finding, bool, error) {
	if l == nil || l.Stop == nil || l.Stop.Segment >= len(l.Segments) {
		return Finding{}, false, nil
	}
	segs := make([]Segment, len(l.Segments))
	for k, s := range l.Segments {
		segs[k] = s.Segment
	}
	v := &verifier{g: g, rep: &GroupReport{}, segs: segs, parts: []verifyPart{{segs: segs, log: l}}, torn: -1, replays: map[int]*verifyReplay{}}
	if l.Stop.Kind == KindIO {
		return Finding{}, true, l.Stop
	}
	if err := v.classifyStop(l.Stop.Segment, l.Stop); err != nil {
		return Finding{}, true, err
	}
	if len(v.rep.Findings) == 0 {
		return Finding{}, false, nil
	}
	return v.rep.Findings[0], true, nil
}
