package inspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// VerifyOptions tune Verify and VerifyAll.
type VerifyOptions struct {
	// Deep restarts each group in memory with the raft library (a
	// MemoryStorage holding the newest usable snapshot, the HardState and
	// every entry after the snapshot, then raft.NewRawNode and one Ready)
	// and reports raft-restart when raft refuses. Deep mode holds the
	// entries after the snapshot in memory; the default mode uses memory
	// that does not grow with the log.
	Deep bool
	// Parallel is how many groups VerifyAll checks at once
	// (runtime.NumCPU() when 0 or less).
	Parallel int
	// Progress, if set, is called by VerifyAll before the first group and
	// after each group; calls never overlap.
	Progress func(Progress)
	// NoLockCheck skips the in-use check.
	NoLockCheck bool
	// Held maps segment paths to files the caller has open (repair's
	// locks): Verify reads those segments through them instead of opening
	// them again, and leaves them open.
	Held map[string]*os.File
	// OnBytes, if set, is told how many WAL bytes Verify's pass over the
	// log read, as it reads them (VerifyAll uses it to report progress
	// within a group).
	OnBytes func(n int64)
}

// Progress is what VerifyAll reports as it goes.
type Progress struct {
	// Groups is the number of groups to check, GroupsDone those done.
	Groups     int `json:"groups"`
	GroupsDone int `json:"groups_done"`
	// BytesTotal is the size of all their WAL segments, BytesRead the size
	// of those of the groups done.
	BytesTotal int64 `json:"bytes_total"`
	BytesRead  int64 `json:"bytes_read"`
}

// VerifyAll verifies groups, opts.Parallel at a time, and returns their
// reports in the order of groups. It returns an error only when ctx is
// cancelled; a group without a verdict has status "unknown" and its Err
// set.
func VerifyAll(ctx context.Context, groups []Group, opts VerifyOptions) (*Report, error) {
	par := opts.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	par = max(1, min(par, len(groups)))
	rep := &Report{SchemaVersion: ReportSchemaVersion, Groups: make([]*GroupReport, len(groups))}
	sizes := make([]int64, len(groups))
	var prog Progress
	prog.Groups = len(groups)
	for k, g := range groups {
		sizes[k] = verifyWALBytes(g)
		prog.BytesTotal += sizes[k]
	}
	var mu sync.Mutex
	partial := make([]int64, len(groups)) // bytes read of unfinished groups
	var lastDrawn int64
	report := func(k int) {
		if opts.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if k >= 0 {
			prog.GroupsDone++
			prog.BytesRead += sizes[k] - partial[k]
			partial[k] = 0
		}
		opts.Progress(prog)
	}
	// progressWithin reports the bytes read inside group k, every 16 MiB.
	progressWithin := func(k int) func(int64) {
		if opts.Progress == nil {
			return nil
		}
		return func(n int64) {
			mu.Lock()
			defer mu.Unlock()
			if partial[k]+n > sizes[k] {
				n = max(sizes[k]-partial[k], 0)
			}
			partial[k] += n
			prog.BytesRead += n
			if prog.BytesRead-lastDrawn >= 16<<20 {
				lastDrawn = prog.BytesRead
				opts.Progress(prog)
			}
		}
	}
	report(-1)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				gopts := opts
				gopts.OnBytes = progressWithin(k)
				gr, err := Verify(ctx, groups[k], gopts)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					continue
				}
				rep.Groups[k] = gr
				report(k)
			}
		}()
	}
feed:
	for k := range groups {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.summarize()
	return rep, nil
}

// verifyWALBytes sums the sizes of a group's segments (0 when they cannot
// be listed: Verify will say why).
func verifyWALBytes(g Group) int64 {
	segs, _, err := ListSegments(g.WALDir)
	if err != nil {
		return 0
	}
	var n int64
	for _, s := range segs {
		n += s.Size
	}
	return n
}

// verifyNoVerdict is an error that stops the checks of one group: an I/O
// or permission problem, not a finding.
type verifyNoVerdict struct{ err error }

func (e *verifyNoVerdict) Error() string { return e.err.Error() }
func (e *verifyNoVerdict) Unwrap() error { return e.err }

// Verify checks one group: segment names and sequence, every record of
// every segment (CRCs and the CRC chain, framing, payloads), what lies
// beyond the end of the log in each segment, the effective log (gaps, term
// regressions, overwrites), the HardState against the log, the snapshot
// files against the WAL's snapshot records and the log, and whether a live
// process holds the WAL's locks. It reads each segment once for the log and
// once more only past the log's end, to classify the tail; the memory it
// uses grows with the number of leader changes and snapshots, not with the
// log (unless opts.Deep).
//
// Verify never writes, never takes a lock (see verifyLockHolders) and never
// renames a broken snapshot. It returns an error only when ctx is
// cancelled; an I/O or permission error yields a report with status
// "unknown" and Err set.
func Verify(ctx context.Context, g Group, opts VerifyOptions) (*GroupReport, error) {
	var v *verifier
	var err error
	for try := 0; ; try++ {
		v = &verifier{g: g, opts: opts, rep: &GroupReport{Name: g.Name, WALDir: g.WALDir, SnapDir: g.SnapDir}, replays: map[int]*verifyReplay{}, torn: -1}
		err = v.run(ctx)
		// A live server purges old segments and snapshot files: one
		// listed but gone when opened is read again from a new listing.
		if try < verifyRetries && err != nil && errors.Is(err, fs.ErrNotExist) && ctx.Err() == nil {
			// etcd purges in bursts (every 30 s, file after file):
			// wait for the burst to end.
			time.Sleep(min(time.Duration(try+1)*10*time.Millisecond, 100*time.Millisecond))
			continue
		}
		break
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		var nv *verifyNoVerdict
		if !errors.As(err, &nv) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return nil, err
		}
		v.rep.Err = err.Error()
	}
	v.rep.finish()
	if len(v.parts) == 1 && v.parts[0].first == 0 && len(v.parts[0].segs) == len(v.segs) {
		// One pass read the whole WAL: what ReadLog would return.
		v.rep.log, v.rep.segs = v.parts[0].log, v.segs
	}
	return v.rep, nil
}

// listSegmentsStable lists the WAL directory until two listings in a row
// agree: a directory read beside a live server that cuts and purges
// segments can miss a file renamed into place while it ran.
func listSegmentsStable(walDir string) ([]Segment, []string, error) {
	segs, ignored, err := ListSegments(walDir)
	for try := 0; err == nil && try < verifyRetries; try++ {
		again, ign2, err2 := ListSegments(walDir)
		if err2 != nil {
			return nil, nil, err2
		}
		if slices.EqualFunc(segs, again, func(a, b Segment) bool { return a.Name == b.Name }) {
			return segs, ignored, nil
		}
		segs, ignored = again, ign2
	}
	return segs, ignored, err
}

// verifyRetries is how many times Verify starts again when a file it
// listed vanished before it was read (a purge beside a live server).
const verifyRetries = 20

// verifyPart is a stretch of segments read in one ReadLog pass. The log
// is split into several parts only when a decode error stops a pass
// before the last segment: reading resumes at the next segment.
type verifyPart struct {
	first int
	segs  []Segment
	log   *Log
}

type verifier struct {
	g     Group
	opts  VerifyOptions
	rep   *GroupReport
	segs  []Segment
	snaps []SnapFile
	parts []verifyPart
	// hardErr is set when a decode error other than a torn tail stopped
	// a pass: the log past it is not what etcd would read.
	hardErr bool
	// torn is the index of the torn-tail finding, -1 if none.
	torn int
	// chainBreaks maps a segment to the chain error at its first record.
	chainBreaks map[int]*DecodeError
	// crcRecordDamaged maps a segment with a chain break to the CRC error
	// of the record after its crc record, when reading it afresh fails
	// there: the crc record is what is damaged.
	crcRecordDamaged map[int]*DecodeError
	view             verifyView
	replays          map[int]*verifyReplay
	// live is set when a live process holds a lock on the group: what
	// looks unfinished at the end of the log is a write in progress.
	live bool
	// grew is set when segments newer than the last one listed appeared
	// while the WAL was read.
	grew bool
	// beyond lists the .snap files newer than the log's last entry with
	// no WAL record (see checkSnapshots), and tailSignal what the end of
	// the last segment says about newer segments (see judgeSegmentEnd):
	// judgeEnd weighs them together.
	beyond  []*SnapFile
	nBeyond int
	// late lists .snap files within the log but newer than every WAL
	// snapshot record read, corrupt the unreadable .snap files, and
	// inProgress what looked unfinished beside a live server.
	late       []*SnapFile
	corrupt    []*SnapFile
	inProgress []string
	tailSignal string
	tailFile   string
	tailOffset int64
}

// add appends a finding and returns its position in the report.
func (v *verifier) add(code, file string, off int64, idx uint64, msg string) int {
	ci, ok := LookupCode(code)
	if !ok {
		panic("inspect: finding code not in the catalogue: " + code)
	}
	v.rep.Findings = append(v.rep.Findings, Finding{Code: code, Severity: ci.Severity, File: file, Offset: off, Index: idx, Message: msg, Hint: ci.Hint})
	return len(v.rep.Findings) - 1
}

func (v *verifier) run(ctx context.Context) error {
	var segs []Segment
	var ignored []string
	if fi, err := os.Stat(v.g.WALDir); err == nil && fi.IsDir() {
		if segs, ignored, err = listSegmentsStable(v.g.WALDir); err != nil {
			return &verifyNoVerdict{err}
		}
	} else if err != nil && !isNotExist(err) && !errors.Is(err, syscall.ENOTDIR) {
		return &verifyNoVerdict{err}
	}
	release, err := openSegmentsHeld(segs, v.opts.Held)
	if err != nil {
		return &verifyNoVerdict{err}
	}
	defer release()
	v.segs = segs
	v.checkIgnored(ignored)
	if len(segs) == 0 {
		if err := v.listSnaps(); err != nil {
			return err
		}
		where := v.g.WALDir
		if where == "" {
			where = v.g.Dir
		}
		v.add(CodeWALMissing, where, -1, 0, fmt.Sprintf("no WAL segment in %s: the group's log is gone", where))
		return nil
	}
	v.checkSegmentNames()
	if !v.opts.NoLockCheck {
		v.checkLocks()
	}
	if err := v.readParts(ctx); err != nil {
		return err
	}
	if !v.opts.NoLockCheck {
		v.checkLocks()
	}
	// The writer saves a .snap file before the WAL record that refers to
	// it: listing the snapshot directory after the WAL was read sees every
	// file a record read refers to, even beside a live server.
	if err := v.listSnaps(); err != nil {
		return err
	}
	v.grew = v.walGrew()
	if err := v.checkSegments(); err != nil {
		return err
	}
	v.checkSegmentIndexes()
	for _, p := range v.parts {
		if o := p.log.Odd; o.Word != 0 {
			seg := v.segs[p.first+o.Segment]
			v.add(CodeRecordMalformed, seg.Path, o.Offset, 0, fmt.Sprintf("segment %s: the length word at offset %d is %016x: its top byte %02x is not one etcd writes (0, or 0x80 with a padding count of 1 to 7); etcd reads past it, but the bytes were changed after they were written", seg.Name, o.Offset, o.Word, o.Word>>56))
		}
	}
	v.view = v.makeView()
	if err := v.checkLog(ctx); err != nil {
		return err
	}
	usable, err := v.checkSnapshots(ctx)
	if err != nil {
		return err
	}
	v.judgeEnd()
	if v.opts.Deep && !v.hardErr {
		if err := v.deep(ctx, usable); err != nil {
			return err
		}
	}
	return nil
}

// checkIgnored reports the files of the WAL directory that etcd ignores,
// except the .tmp files of its file pipeline (see writermodel.go).
func (v *verifier) checkIgnored(ignored []string) {
	for _, name := range ignored {
		if strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".wal.broken") {
			// etcd's preallocated next segment or a leftover of a cut;
			// the copy etcd's wal.Repair keeps of a segment it truncated.
			continue
		}
		p := filepath.Join(v.g.WALDir, name)
		what := "not a WAL segment name"
		if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
			what = "not a regular file"
		}
		v.add(CodeUnknownFile, p, -1, 0, fmt.Sprintf("%s in the WAL directory is %s; etcd ignores it", name, what))
	}
}

// listSnaps reads the snapshot directory and reports the files etcd
// cannot use on their own.
func (v *verifier) listSnaps() error {
	snaps, err := ListSnapFiles(v.g.SnapDir)
	if err != nil {
		return &verifyNoVerdict{err}
	}
	v.snaps = snaps
	v.checkSnapFiles()
	return nil
}

// checkSnapFiles reports .snap files that etcd cannot use on their own:
// unreadable, misnamed, or named one thing and holding another.
func (v *verifier) checkSnapFiles() {
	for k := range v.snaps {
		s := &v.snaps[k]
		switch {
		case !s.NameOK:
			v.add(CodeUnknownFile, s.Path, -1, 0, fmt.Sprintf("%s in the snapshot directory is not named %%016x-%%016x.snap; etcd ignores it", s.Name))
		case !s.OK:
			// Judged with the WAL's records (checkSnapshots): one being
			// written beside a live server has no record yet.
			v.corrupt = append(v.corrupt, s)
		case s.Index != s.NameIndex || s.Term != s.NameTerm:
			v.add(CodeSnapshotNameMismatch, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s is named for index %d term %d but holds the snapshot at index %d term %d; etcd picks files by name and would restart from the wrong state", s.Name, s.NameIndex, s.NameTerm, s.Index, s.Term))
		}
	}
}

func (v *verifier) checkSegmentNames() {
	for k, s := range v.segs {
		if !s.Canonical {
			v.add(CodeSegmentName, s.Path, -1, 0, fmt.Sprintf("segment %s is not named canonically (etcd writes %s); etcd reads segments in name order, so a non-canonical name can sort out of place", s.Name, SegmentName(s.Seq, s.Index)))
		}
		if k == 0 {
			continue
		}
		p := v.segs[k-1]
		switch {
		case s.Seq == p.Seq:
			v.add(CodeSegmentSequence, s.Path, -1, 0, fmt.Sprintf("segments %s and %s have the same sequence number %d", p.Name, s.Name, s.Seq))
		case s.Seq < p.Seq:
			v.add(CodeSegmentSequence, s.Path, -1, 0, fmt.Sprintf("segment %s (sequence %d) sorts after %s (sequence %d): etcd reads segments in name order", s.Name, s.Seq, p.Name, p.Seq))
		case s.Seq != p.Seq+1:
			missing := fmt.Sprintf("%d", p.Seq+1)
			if s.Seq-p.Seq > 2 {
				missing = fmt.Sprintf("%d to %d", p.Seq+1, s.Seq-1)
			}
			v.add(CodeSegmentSequence, s.Path, -1, 0, fmt.Sprintf("segment %s (sequence %d) follows %s (sequence %d): sequence %s is missing, and etcd refuses to open the WAL across the hole", s.Name, s.Seq, p.Name, p.Seq, missing))
		}
	}
}

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
		l, err := readLog(ctx, v.segs[start:], onRead)
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
	for abs, seg := range v.segs {
		st := states[abs]
		isLast := abs == len(v.segs)-1
		if st.stop != nil && v.crcRecordDamaged[abs] == st.stop {
			continue
		}
		if st.stop != nil && !(st.stop.Kind == KindCRCChain && v.chainBreaks[abs] == st.stop) {
			if err := v.classifyStop(abs, st.stop); err != nil {
				return err
			}
			continue
		}
		if !st.sum.Read {
			continue
		}
		size, end := seg.Size, st.sum.End
		if size == 0 {
			v.add(CodeEmptySegment, seg.Path, -1, 0, fmt.Sprintf("segment %s is empty (0 bytes)", seg.Name))
			continue
		}
		_, nextBreaks := v.chainBreaks[abs+1]
		if end >= size && isLast {
			v.judgeSegmentEnd(st.sum)
			continue
		}
		if end >= size {
			if !isLast && nextBreaks && !verifyCutLooksComplete(st.sum, v.segs[abs+1]) {
				explained[abs+1] = true
				v.add(CodeSegmentTruncated, seg.Path, end, verifyNextIndex(st.sum), fmt.Sprintf("segment %s ends at offset %d after entry %d, but the next segment %s is named for index %d and its opening crc record does not continue the CRC chain: records at the end of %s are missing", seg.Name, end, st.sum.LastEntry, v.segs[abs+1].Name, v.segs[abs+1].Index, seg.Name))
			}
			continue
		}
		tail, err := verifyScanTail(seg, end+frameHeader, size)
		if err != nil {
			return &verifyNoVerdict{err}
		}
		if isLast && tail.nonZero < 0 && st.sum.Records > 0 {
			v.judgeZeroTailSize(st.sum)
		}
		switch {
		case st.sum.Records == 0 && tail.nonZero < 0:
			v.add(CodeEmptySegment, seg.Path, -1, 0, fmt.Sprintf("segment %s holds no record: all its %d bytes are zero", seg.Name, size))
		case tail.recAt >= 0 && isLast && (v.live || verifyWordChanged(seg, end)):
			v.add(CodeWriteInProgress, seg.Path, end, verifyNextIndex(st.sum), fmt.Sprintf("segment %s: the log read ended at offset %d, and records were appended there while it was read (a live server at work)", seg.Name, end))
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
			v.add(CodeZeroedRegion, seg.Path, end, verifyNextIndex(st.sum), msg)
		case !isLast && nextBreaks:
			explained[abs+1] = true
			v.add(CodeZeroedRegion, seg.Path, end, verifyNextIndex(st.sum), fmt.Sprintf("segment %s ends early: zeros from offset %d to its end (%d bytes), and the next segment %s does not continue the CRC chain, so records at the end of %s were lost", seg.Name, end, size-end, v.segs[abs+1].Name, seg.Name))
		case isLast && tail.nonZero >= 0 && v.live:
			v.add(CodeWriteInProgress, seg.Path, end, verifyNextIndex(st.sum), fmt.Sprintf("segment %s: the log ends at offset %d and bytes that are not yet a record follow at offset %d while a live process holds the WAL: a write in progress", seg.Name, end, tail.nonZero))
		case isLast && tail.nonZero >= 0:
			v.torn = v.add(CodeTornTail, seg.Path, end, 0, fmt.Sprintf("segment %s: the log ends at offset %d, but non-zero bytes follow at offset %d that do not decode as records: the residue of a torn write (etcd zeroes it when it next opens the WAL for writing)", seg.Name, end, tail.nonZero))
		}
	}
	for abs, st := range states {
		if !st.sum.Read || st.sum.Records == 0 || (st.stop != nil && st.stop.Offset == 0) || v.chainBreaks[abs] != nil {
			continue
		}
		seg := v.segs[abs]
		if typ := st.sum.Opening[0]; typ != CRCRecord {
			v.add(CodeSegmentHeader, seg.Path, 0, 0, fmt.Sprintf("segment %s opens with a %s record, not the crc record etcd writes at the start of every segment: read on its own, as etcd reads it to restart from a snapshot recorded in it, its first record fails the CRC check", seg.Name, typ))
		} else if typ := st.sum.Opening[1]; st.sum.Records >= 2 && typ != MetadataRecord {
			// The type is outside the CRC: a damaged type byte turns the
			// metadata record into another record whose CRC still holds.
			v.add(CodeRecordMalformed, seg.Path, -1, 0, fmt.Sprintf("segment %s: its second record is a %s record, not the metadata record etcd writes after the crc record of every segment (a record's type is not covered by its CRC, so a damaged type byte reads like this)", seg.Name, typ))
		}
	}
	for abs, st := range v.chainBreaks {
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
	return nil
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
	type run struct{ start, term uint64 }
	var (
		runs   []run
		last   uint64
		has    bool
		commit uint64
		e      Entry
		out    verifyReplay
	)
	termAt := func(i uint64) (uint64, bool) {
		if len(runs) == 0 || i < runs[0].start || i > last {
			return 0, false
		}
		j := sort.Search(len(runs), func(j int) bool { return runs[j].start > i })
		return runs[j-1].term, true
	}
	err := Records(ctx, p.segs, p.log, func(r *Record) error {
		switch r.Type {
		case EntryRecord:
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
			j := sort.Search(len(runs), func(j int) bool { return runs[j].start >= i })
			runs = runs[:j]
			if len(runs) == 0 || runs[len(runs)-1].term != t {
				runs = append(runs, run{i, t})
			}
			has, last = true, i
		case StateRecord:
			if hs, err := parseHardState(r.Data); err == nil {
				commit = hs.Commit
			}
		case SnapshotRecord:
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
			runs = append(runs[:0], run{s.Index, s.Term})
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
		err := Records(ctx, p.segs, p.log, func(r *Record) error {
			if r.Type != MetadataRecord || found {
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
	err := Records(ctx, p.segs, p.log, func(r *Record) error {
		if r.Type == StateRecord {
			file, off = p.segs[r.Segment].Path, r.Offset
		}
		return nil
	})
	return file, off, err
}

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
