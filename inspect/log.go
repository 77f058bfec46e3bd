package inspect

import (
	"bytes"
	"context"
)

// SegmentSummary is what one pass over the log learned about a segment.
type SegmentSummary struct {
	Segment
	// Records is the number of complete records read from the segment.
	Records int64 `json:"records"`
	// Entries is the number of entry records (overwritten ones included).
	Entries int64 `json:"entries"`
	// FirstEntry and LastEntry are the indexes of the first and last entry
	// records as written (0 when the segment holds none).
	FirstEntry uint64 `json:"first_entry"`
	LastEntry  uint64 `json:"last_entry"`
	// End is the offset just past the last complete record.
	End int64 `json:"end"`
	// ZeroTail is the number of bytes after End when a zero length word
	// ended the segment (preallocated space); 0 otherwise.
	ZeroTail int64 `json:"zero_tail"`
	// Read is false for a segment the scan never reached (it stopped on an
	// error in an earlier one).
	Read bool `json:"read"`
	// LastSave is the offset where the segment's last wal.Save began (-1
	// when it holds none), and PrevSaveCheck the offset up to which the
	// writer had certainly flushed the segment when the wal.Save before
	// that one checked its size (-1 when unknown). wal.Save cuts once the
	// flushed size has reached SegmentSizeBytes, so for a segment that was
	// cut PrevSaveCheck < SegmentSizeBytes (see sizeBounds); both follow
	// from the records' order and which writes etcd syncs (saveTracker).
	LastSave      int64 `json:"-"`
	PrevSaveCheck int64 `json:"-"`
	// Enti is the writer's last written index after the segment's last
	// record (etcd's WAL.enti: the last entry record's index, raised by a
	// snapshot record ahead of it), and LastEntryWritten the index of the
	// last entry record at or before this segment, 0 when none: etcd
	// names the segment it cuts next for Enti+1, or, after a restart
	// (ReadAll sets enti from entry records only), LastEntryWritten+1.
	Enti             uint64 `json:"-"`
	LastEntryWritten uint64 `json:"-"`
	// Opening holds the types of the segment's first two records (etcd
	// writes a crc record, then the metadata record).
	Opening [2]RecordType `json:"-"`
	// LastRecord is the offset of the segment's last complete record.
	LastRecord int64 `json:"-"`
}

// Gap is a place where the log skips indexes.
type Gap struct {
	// After is the last index before the gap, Next the index that follows.
	After, Next uint64
	Segment     int
	Offset      int64
}

// TermRegression is an entry whose term is lower than the log allows.
type TermRegression struct {
	Index       uint64
	Term        uint64
	PrevTerm    uint64
	Overwriting bool
	Segment     int
	Offset      int64
}

// SnapshotRecordAt is a WAL snapshot record with its position.
type SnapshotRecordAt struct {
	WALSnapshot
	Segment int
	Offset  int64
}

type truncation struct {
	seq   int64
	index uint64
}

type termRun struct {
	start, term uint64
}

// Log is the result of one pass over a group's WAL: the effective log's
// bounds, the final HardState and everything verification needs, in memory
// that grows with the number of leader changes and snapshots, not with the
// size of the log.
type Log struct {
	Segments []SegmentSummary
	// Records counts complete records read.
	Records int64
	// EntryRecords counts entry records, overwritten ones included.
	EntryRecords int64
	// FirstIndex is the first index of the effective log (overwrites
	// resolved), 0 when it holds no entry. LastIndex and LastTerm are what
	// raft would report as its last index and term: the last entry's, or a
	// snapshot record's when the log restarted from a snapshot ahead of it.
	FirstIndex, LastIndex, LastTerm uint64
	// HardState is the last state record; HasHardState is false when there
	// is none.
	HardState    HardState
	HasHardState bool
	// Snapshots lists the WAL's snapshot records in order, the initial
	// empty one included.
	Snapshots []SnapshotRecordAt
	// Metadata is the first metadata record's data (copied).
	Metadata []byte
	// MetadataConflict is set when a later metadata record differs.
	MetadataConflict bool
	// Overwritten counts entries that a later record replaced.
	Overwritten int64
	// Gaps and Regressions are index gaps and term regressions met, the
	// first 1000 of each; GapsMore and RegressionsMore count the others.
	Gaps            []Gap
	Regressions     []TermRegression
	GapsMore        int64
	RegressionsMore int64
	// Odd is the first length word with bits etcd's encoder never sets.
	Odd OddFrame
	// FinalCRC is the running CRC after the last record read: the value
	// the crc record of the next segment must carry.
	FinalCRC uint32
	// UnconfirmedSnapshot is the index of a snapshot record ahead of the
	// log that no later HardState commits and no entry follows: what a
	// crash between wal.SaveSnapshot and wal.Save leaves. etcd ignores
	// such a record, and so does the effective log; 0 when there is none.
	UnconfirmedSnapshot uint64
	// Stop is the decode error that ended the scan, nil at a clean end. A
	// torn write on the last segment (Kind KindTorn) is how a crash during
	// append looks; it is the end of the log for etcd.
	Stop *DecodeError

	truncs []truncation
	runs   []termRun
	// resume is where a pass that resumed after damage started reading
	// (ResumeAfterDamage); nil for a pass from the start of its segments.
	resume *resumePoint
	// pending is the log as it was before the newest reset by a snapshot
	// record, while no later HardState has committed that snapshot (see
	// logBuilder.resetForSnapshot); nil otherwise.
	pending *logCheckpoint
}

// logCheckpoint is what a snapshot record's reset of the log replaced.
type logCheckpoint struct {
	snapIndex                       uint64
	firstIndex, lastIndex, lastTerm uint64
	hasEntries                      bool
	truncs                          []truncation
	runs                            []termRun
	// entriesAfter is set once an entry record follows the snapshot
	// record: the reset then shapes what etcd reads, confirmed or not.
	entriesAfter bool
}

// TermAt returns the term of the effective entry at index i and whether the
// log holds it (or a snapshot record that the log restarted from).
func (l *Log) TermAt(i uint64) (uint64, bool) {
	if t, ok := runAt(l.runs, i, l.LastIndex); ok && t != holeTerm {
		return t, true
	}
	return 0, false
}

// LatestSnapshot returns the newest WAL snapshot record at or below the
// HardState's commit (what etcd restarts from), and false when there is
// none but the initial empty one.
func (l *Log) LatestSnapshot() (SnapshotRecordAt, bool) {
	for k := len(l.Snapshots) - 1; k >= 0; k-- {
		s := l.Snapshots[k]
		if s.Index <= l.HardState.Commit {
			if s.Index == 0 {
				return s, false
			}
			return s, true
		}
	}
	return SnapshotRecordAt{}, false
}

// maxListed caps Gaps and Regressions (hostile input could make one per
// record); GapsMore and RegressionsMore count the rest.
const maxListed = 1000

// logBuilder folds records into a Log.
type logBuilder struct {
	l          *Log
	hasEntries bool
	e          Entry
	save       saveTracker
	// enti and lastEnt follow SegmentSummary.Enti and LastEntryWritten.
	enti, lastEnt uint64
	// chain, if set, follows the effective log's entries as they are
	// read, for the content hashes (see chainBuilder).
	chain *chainBuilder
}

// saveTracker follows which writes of etcd's wal.Save, wal.SaveSnapshot
// and cut a segment's records come from, and which of them etcd flushed
// and synced (entries and a changed term or vote sync; a HardState whose
// only change is the commit index stays in the page buffer; snapshot
// records and cuts sync), for SegmentSummary.LastSave and PrevSaveCheck.
// Records of two consecutive saves can look like one; every offset it
// reports errs on the side of less flushed data.
type saveTracker struct {
	seg                int
	synced, batchEnd   int64
	inBatch, afterMeta bool
	lastCheck          int64
	hsTerm, hsVote     uint64
}

func (t *saveTracker) record(r *Record, ss *SegmentSummary, hs *HardState) {
	if r.Segment != t.seg || ss.Records == 1 {
		t.seg, t.synced, t.inBatch, t.lastCheck = r.Segment, 0, false, -1
		ss.LastSave, ss.PrevSaveCheck = -1, -1
	}
	end := r.Offset + r.FrameSize
	afterMeta := t.afterMeta
	t.afterMeta = false
	switch r.Type {
	case entryRecord:
		if !t.inBatch {
			t.begin(r.Offset, ss)
			t.inBatch = true
		}
		t.batchEnd = end
	case stateRecord:
		changed := hs != nil && (hs.Term != t.hsTerm || hs.Vote != t.hsVote)
		switch {
		case t.inBatch:
			// One wal.Save of entries and this HardState, synced to its
			// end; or a wal.Save of entries alone (synced) and one of a
			// HardState whose commit alone changed (not synced): the
			// records cannot tell, so count only the entries as synced
			// unless the term or vote changed.
			t.synced, t.inBatch = r.Offset, false
			if changed {
				t.synced = end
			}
		case afterMeta:
			t.synced = end // the HardState a cut copies, then syncs
		default:
			t.begin(r.Offset, ss)
			if changed {
				t.synced = end
			}
		}
		if hs != nil {
			t.hsTerm, t.hsVote = hs.Term, hs.Vote
		}
	case snapshotRecord:
		t.close()
		t.synced = end
	case metadataRecord:
		t.close()
		t.afterMeta = true
	default:
		t.close()
	}
}

func (t *saveTracker) begin(off int64, ss *SegmentSummary) {
	ss.PrevSaveCheck = t.lastCheck
	t.lastCheck = t.synced
	ss.LastSave = off
}

func (t *saveTracker) close() {
	if t.inBatch {
		t.synced, t.inBatch = t.batchEnd, false
	}
}

func (b *logBuilder) termAt(i uint64) (uint64, bool) { return b.l.TermAt(i) }

// prevTerm is termAt(i-1) for an entry i that extends the log: the last
// entry's term when i follows it (the common case, without a search).
func (b *logBuilder) prevTerm(i uint64) (uint64, bool) {
	if b.hasEntries && i == b.l.LastIndex+1 {
		return b.l.LastTerm, true
	}
	return b.termAt(i - 1)
}

func (b *logBuilder) regression(r TermRegression) {
	if len(b.l.Regressions) < maxListed {
		b.l.Regressions = append(b.l.Regressions, r)
	} else {
		b.l.RegressionsMore++
	}
}

// truncate records that record seq replaced every entry at index i or
// above. Earlier truncations at i or above are implied by it (they only
// supersede records before them, at indexes this one covers too), so the
// list stays increasing in index and, for raft's logs, tiny.
func (b *logBuilder) truncate(seq int64, i uint64) {
	t := b.l.truncs
	for len(t) > 0 && t[len(t)-1].index >= i {
		t = t[:len(t)-1]
	}
	b.l.truncs = append(t, truncation{seq: seq, index: i})
}

// hole marks indexes [from, to) as missing from the log, so that TermAt
// does not report them held.
func (b *logBuilder) hole(from, to uint64) {
	if from < to {
		b.setTerm(from, holeTerm)
	}
}

// holeTerm marks a run of indexes the log does not hold.
const holeTerm = ^uint64(0)

func (b *logBuilder) setTerm(i, t uint64) { b.l.runs = setRun(b.l.runs, i, t) }

func (b *logBuilder) fail(r *Record, segPath string, msg string, err error) {
	b.l.Stop = &DecodeError{Path: segPath, Segment: r.Segment, Offset: r.Offset, Kind: KindMalformed, Msg: msg, Err: err}
}

// add folds one record; it returns false when the record cannot be
// understood (the Log's Stop says why).
func (b *logBuilder) add(r *Record, segPath string) bool {
	l := b.l
	l.Records++
	ss := &l.Segments[r.Segment]
	ss.Records++
	ss.LastRecord = r.Offset
	if ss.Records <= 2 {
		ss.Opening[ss.Records-1] = r.Type
		if ss.Records == 1 {
			ss.Enti, ss.LastEntryWritten = b.enti, b.lastEnt
		}
	}
	if r.Type == entryRecord && b.save.inBatch && r.Segment == b.save.seg {
		// The hot path: one more entry of the same wal.Save.
		b.save.batchEnd = r.Offset + r.FrameSize
	} else if r.Type != stateRecord {
		b.save.record(r, ss, nil)
	}
	switch r.Type {
	case entryRecord:
		return b.entry(r, ss, segPath)
	case stateRecord:
		return b.state(r, ss, segPath)
	case snapshotRecord:
		return b.snapshot(r, ss, segPath)
	case metadataRecord:
		if l.Metadata == nil {
			l.Metadata = append([]byte{}, r.Data...)
		} else if !bytes.Equal(l.Metadata, r.Data) {
			l.MetadataConflict = true
		}
	case crcRecord:
	default:
		b.fail(r, segPath, "unexpected record type "+r.Type.String(), nil)
		return false
	}
	return true
}

// entry adds an entry record: it extends the log, overwrites its tail
// from a lower index (raft's rule: a later record at an index replaces
// the entries from there on), or leaves a gap.
func (b *logBuilder) entry(r *Record, ss *SegmentSummary, segPath string) bool {
	l := b.l
	if err := parseEntry(r.Data, &b.e); err != nil {
		b.fail(r, segPath, "entry record does not decode as raftpb.Entry: "+err.Error(), err)
		if b.chain != nil {
			b.chain.bad(&DecodeError{Path: segPath, Segment: r.Segment, Offset: r.Offset, Kind: KindMalformed, Msg: err.Error(), Err: err})
		}
		return false
	}
	i, t := b.e.Index, b.e.Term
	b.enti, b.lastEnt = i, i
	ss.Enti, ss.LastEntryWritten = i, i
	if l.pending != nil {
		l.pending.entriesAfter = true
	}
	l.EntryRecords++
	ss.Entries++
	if ss.FirstEntry == 0 {
		ss.FirstEntry = i
	}
	ss.LastEntry = i
	switch {
	case !b.hasEntries && l.FirstIndex == 0 && l.LastIndex == 0:
		// The first entry of what is present (older segments may be
		// purged): anything goes.
		l.FirstIndex = i
	case i <= l.LastIndex:
		b.overwrite(r, i, t)
	default:
		if i > l.LastIndex+1 {
			if len(l.Gaps) < maxListed {
				l.Gaps = append(l.Gaps, Gap{After: l.LastIndex, Next: i, Segment: r.Segment, Offset: r.Offset})
			} else {
				l.GapsMore++
			}
			b.hole(l.LastIndex+1, i)
		} else if prev, ok := b.prevTerm(i); ok && t < prev {
			b.regression(TermRegression{Index: i, Term: t, PrevTerm: prev, Segment: r.Segment, Offset: r.Offset})
		}
		if l.FirstIndex == 0 {
			l.FirstIndex = i
		}
	}
	b.hasEntries = true
	l.LastIndex, l.LastTerm = i, t
	b.setTerm(i, t)
	if b.chain != nil {
		b.chain.entry(&b.e)
	}
	return true
}

// overwrite takes entry i of term t, at or below the last index: the
// entries from i on are replaced.
func (b *logBuilder) overwrite(r *Record, i, t uint64) {
	l := b.l
	if l.FirstIndex != 0 && i <= l.LastIndex {
		from := max(i, l.FirstIndex)
		l.Overwritten += int64(l.LastIndex - from + 1)
	}
	// An overwrite may carry a lower term than the entry it replaces (a
	// leader elected with an older tail), but never a lower term than the
	// entry before it.
	if prev, ok := b.termAt(i - 1); ok && t < prev {
		b.regression(TermRegression{Index: i, Term: t, PrevTerm: prev, Overwriting: true, Segment: r.Segment, Offset: r.Offset})
	}
	b.truncate(r.Seq, i)
	if l.FirstIndex == 0 || i < l.FirstIndex {
		l.FirstIndex = i
	}
}

// state adds a HardState record: the newest is the log's, and one that
// commits a pending snapshot reset confirms it.
func (b *logBuilder) state(r *Record, ss *SegmentSummary, segPath string) bool {
	l := b.l
	hs, err := parseHardState(r.Data)
	if err != nil {
		b.fail(r, segPath, "state record does not decode as raftpb.HardState: "+err.Error(), err)
		return false
	}
	l.HardState, l.HasHardState = hs, true
	b.save.record(r, ss, &hs)
	if l.pending != nil && hs.Commit >= l.pending.snapIndex {
		l.pending = nil
		if b.chain != nil {
			b.chain.drop()
		}
	}
	if b.chain != nil {
		b.chain.commit(hs.Commit)
	}
	return true
}

// snapshot adds a snapshot record; one ahead of the log, or contradicting
// its uncommitted tail, resets the log (see checkpoint).
func (b *logBuilder) snapshot(r *Record, ss *SegmentSummary, segPath string) bool {
	l := b.l
	s, err := parseWALSnapshot(r.Data)
	if err != nil {
		b.fail(r, segPath, "snapshot record does not decode as walpb.Snapshot: "+err.Error(), err)
		return false
	}
	l.Snapshots = append(l.Snapshots, SnapshotRecordAt{WALSnapshot: s, Segment: r.Segment, Offset: r.Offset})
	b.enti = max(b.enti, s.Index)
	ss.Enti, ss.LastEntryWritten = b.enti, b.lastEnt
	if t, ok := b.termAt(s.Index); s.Index > l.LastIndex || (ok && t != s.Term && s.Index > l.HardState.Commit) {
		// A snapshot ahead of the log, or one that contradicts its
		// uncommitted tail (sent by a leader): raft's restore drops the
		// whole log and continues after the snapshot. (raft ignores a
		// snapshot at or below its commit index, so a contradiction there
		// is damage, which verify reports.)
		b.checkpoint(s.Index)
		if b.hasEntries {
			b.truncate(r.Seq, 0)
		}
		l.FirstIndex, l.LastIndex, l.LastTerm = 0, s.Index, s.Term
		l.runs = append(l.runs[:0], termRun{start: s.Index, term: s.Term})
		b.hasEntries = false
	}
	return true
}

// checkpoint remembers the log before a snapshot record at index resets
// it. raft writes the snapshot record (wal.SaveSnapshot) before the
// HardState that commits it (wal.Save), so a crash in between leaves a
// record that etcd ignores on restart (wal.ValidSnapshotEntries keeps only
// records at or below the last HardState's commit) while its ReadAll keeps
// the entries before it: the reset takes effect only once a HardState
// commits it, or once entries are written after it.
func (b *logBuilder) checkpoint(index uint64) {
	l := b.l
	l.pending = &logCheckpoint{
		snapIndex:  index,
		firstIndex: l.FirstIndex, lastIndex: l.LastIndex, lastTerm: l.LastTerm,
		hasEntries: b.hasEntries,
		truncs:     append([]truncation(nil), l.truncs...),
		runs:       append([]termRun(nil), l.runs...),
	}
	if b.chain != nil {
		b.chain.checkpoint()
	}
}

// finish undoes a reset by a snapshot record that nothing after it
// confirmed (see checkpoint).
func (b *logBuilder) finish() {
	l := b.l
	c := l.pending
	if c == nil {
		return
	}
	l.pending = nil
	if c.entriesAfter || (l.HasHardState && l.HardState.Commit >= c.snapIndex) {
		if b.chain != nil {
			b.chain.drop()
		}
		return
	}
	if b.chain != nil {
		b.chain.restore()
	}
	l.FirstIndex, l.LastIndex, l.LastTerm = c.firstIndex, c.lastIndex, c.lastTerm
	l.truncs, l.runs = c.truncs, c.runs
	b.hasEntries = c.hasEntries
	l.UnconfirmedSnapshot = c.snapIndex
}

// ReadLog reads the segments once and returns what they hold. It returns
// an error only when ctx is cancelled; decode problems end the scan and are
// reported in Log.Stop.
func ReadLog(ctx context.Context, segs []Segment) (*Log, error) {
	return readLog(ctx, segs, readOptions{})
}

// readOptions are what readLog's callers inside the package add to the
// pass.
type readOptions struct {
	// onRead, if set, is told how many bytes the pass read, as it reads.
	onRead func(int)
	// chain, if set, is fed the entries as they are read, for the content
	// hashes (see chainBuilder): the pass is then the only one.
	chain *chainBuilder
	// resume, if set, starts the pass there instead of at the start of
	// its first segment (see ResumeAfterDamage).
	resume *resumePoint
}

// readLog is ReadLog with opts.
func readLog(ctx context.Context, segs []Segment, opts readOptions) (*Log, error) {
	l := &Log{Segments: make([]SegmentSummary, len(segs)), resume: opts.resume}
	for k, s := range segs {
		l.Segments[k].Segment = s
	}
	b := &logBuilder{l: l, chain: opts.chain}
	var sc *scanner
	sc = newScanner(segs, scanOptions{OnRead: traceReads(opts.onRead, &sc), OnSegmentEnd: func(e segmentEnd) {
		ss := &l.Segments[e.Segment]
		ss.Read, ss.End = true, e.Offset
		if e.ZeroWord {
			ss.ZeroTail = e.Size - e.Offset
		}
	}})
	defer sc.Close()
	sc.resumeAt(opts.resume)
	n := 0
	for sc.Next() {
		r := sc.Record()
		if !b.add(r, segs[r.Segment].Path) {
			break
		}
		if n++; n&0xffff == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if err := sc.Err(); err != nil && l.Stop == nil {
		l.Stop, _ = AsDecodeError(err)
	}
	b.finish()
	l.FinalCRC = sc.CRC()
	l.Odd = sc.Odd()
	if l.Stop != nil && l.Stop.Segment < len(l.Segments) {
		ss := &l.Segments[l.Stop.Segment]
		ss.Read, ss.End = true, l.Stop.Offset
	}
	return l, nil
}

// supersession tells, record by record in log order, whether an entry
// record is replaced by a later one. Use one per pass; ask in increasing
// record order.
type supersession struct {
	truncs    []truncation
	suffixMin []uint64
	k         int
}

// newSupersession prepares a supersession for a second pass over l.
func (l *Log) newSupersession() *supersession {
	m := make([]uint64, len(l.truncs)+1)
	m[len(l.truncs)] = ^uint64(0)
	for k := len(l.truncs) - 1; k >= 0; k-- {
		m[k] = min(m[k+1], l.truncs[k].index)
	}
	return &supersession{truncs: l.truncs, suffixMin: m}
}

// superseded reports whether the entry with index i in record seq is
// replaced by a later record (overwritten at the same or a lower index, or
// dropped for a snapshot ahead of it).
func (s *supersession) superseded(seq int64, i uint64) bool {
	for s.k < len(s.truncs) && s.truncs[s.k].seq <= seq {
		s.k++
	}
	return i >= s.suffixMin[s.k]
}

// EffectiveEntries streams the entries of the effective log in index order
// (overwritten records skipped), reading the segments a second time. It
// uses what ReadLog learned, so it visits exactly the records ReadLog
// read. fn's Entry aliases the read buffer and is valid during the call.
func EffectiveEntries(ctx context.Context, segs []Segment, l *Log, fn func(e *Entry, r *Record) error) error {
	sup := l.newSupersession()
	var e Entry
	return walkRecords(ctx, segs, l, func(r *Record) error {
		if r.Type != entryRecord {
			return nil
		}
		if err := parseEntry(r.Data, &e); err != nil {
			return &DecodeError{Path: segs[r.Segment].Path, Segment: r.Segment, Offset: r.Offset, Kind: KindMalformed, Msg: err.Error(), Err: err}
		}
		if sup.superseded(r.Seq, e.Index) {
			return nil
		}
		return fn(&e, r)
	})
}

// walkRecords streams every record ReadLog read, in order, and stops where
// ReadLog stopped (so a log that grew in between reads the same).
func walkRecords(ctx context.Context, segs []Segment, l *Log, fn func(r *Record) error) error {
	var sc *scanner
	sc = newScanner(segs, scanOptions{OnRead: traceReads(nil, &sc)})
	defer sc.Close()
	sc.resumeAt(l.resume)
	for n := int64(0); n < l.Records && sc.Next(); n++ {
		if err := fn(sc.Record()); err != nil {
			return err
		}
		if n&0xffff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := sc.Err(); err != nil {
		if de, ok := AsDecodeError(err); ok && l.Stop != nil && de.Segment == l.Stop.Segment && de.Offset == l.Stop.Offset {
			return nil
		}
		return err
	}
	return nil
}

// segmentReadTrace, when set (by tests), is told of every read a pass over
// the segments (readLog, Records) makes: the pass's scanner, the segment's
// path and the bytes read. A pass reads each segment from its start, in
// order.
var segmentReadTrace func(pass *scanner, path string, n int)

// traceReads returns onRead, or onRead and segmentReadTrace both when a
// test set the latter.
func traceReads(onRead func(int), sc **scanner) func(int) {
	trace := segmentReadTrace
	if trace == nil {
		return onRead
	}
	return func(n int) {
		s := *sc
		trace(s, s.segs[s.si].Path, n)
		if onRead != nil {
			onRead(n)
		}
	}
}
