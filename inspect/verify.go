package inspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
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
	rep, _, err := verifyGroup(ctx, g, opts, nil)
	return rep, err
}

// hashSpec asks verifyGroup for the content-hash chain: r indexes per
// hash, payloads of a bundle without data when redacted.
type hashSpec struct {
	r        uint64
	redacted bool
}

// verifyGroup is Verify, computing the content-hash chain during its pass
// over the log when hs is set. The chain is returned only when one pass
// read the whole WAL (the report then holds its Log); nil otherwise.
func verifyGroup(ctx context.Context, g Group, opts VerifyOptions, hs *hashSpec) (*GroupReport, *chainBuilder, error) {
	var v *verifier
	var err error
	for try := 0; ; try++ {
		v = &verifier{g: g, opts: opts, rep: &GroupReport{Name: g.Name, WALDir: g.WALDir, SnapDir: g.SnapDir}, replays: map[int]*verifyReplay{}, torn: -1, hash: hs}
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
		return nil, nil, cerr
	}
	if err != nil {
		var nv *verifyNoVerdict
		if !errors.As(err, &nv) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return nil, nil, err
		}
		v.rep.Err = err.Error()
	}
	v.rep.finish()
	if len(v.parts) == 1 && v.parts[0].first == 0 && len(v.parts[0].segs) == len(v.segs) {
		// One pass read the whole WAL: what ReadLog would return.
		v.rep.log, v.rep.segs = v.parts[0].log, v.segs
		return v.rep, v.chain, nil
	}
	return v.rep, nil, nil
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

// verifier holds one Verify of one group. run does the checks in order;
// they live by what they look at: verify_list.go (the directories'
// listings and names, read until stable beside a live server),
// verify_log.go (reading the log in parts, gaps, terms, the HardState),
// verify_segments.go (how each segment ends), verify_snap.go (snapshot
// records against .snap files), writermodel.go (the end of the log),
// verify_deep.go (a restart by raft) and verify_lock.go (live
// processes). VerifyAll, the parallel runner, is in verify_all.go.
type verifier struct {
	g    Group
	opts VerifyOptions
	// hash, if set, asks for the content-hash chain, computed in chain
	// during the first part's pass.
	hash  *hashSpec
	chain *chainBuilder
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
	// ahead is the last segment's tail, scanned beside the lock check
	// that follows the reading (see scanTailAhead).
	ahead *tailAhead
}

// add appends a finding and returns its position in the report.
func (v *verifier) add(code, file string, off int64, idx uint64, msg string) int {
	return v.insert(len(v.rep.Findings), code, file, off, idx, msg)
}

// insert puts a finding at position at of the report (see reportLocks)
// and returns at.
func (v *verifier) insert(at int, code, file string, off int64, idx uint64, msg string) int {
	ci, ok := LookupCode(code)
	if !ok {
		panic("inspect: finding code not in the catalogue: " + code)
	}
	v.rep.Findings = slices.Insert(v.rep.Findings, at, Finding{Code: code, Severity: ci.Severity, File: file, Offset: off, Index: idx, Message: msg, Hint: ci.Hint})
	return at
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
	// The lock checks wait on the kernel, not the processor: the first
	// runs beside the reading, the second beside the scan of the last
	// segment's tail (see lockCheck).
	before, at := v.lockCheck(), len(v.rep.Findings)
	err = v.readParts(ctx)
	v.reportLocks(before, at)
	if err != nil {
		return err
	}
	after, at := v.lockCheck(), len(v.rep.Findings)
	defer v.scanTailAhead()()
	// The writer saves a .snap file before the WAL record that refers to
	// it: listing the snapshot directory after the WAL was read sees every
	// file a record read refers to, even beside a live server.
	err = v.listSnaps()
	v.reportLocks(after, at)
	if err != nil {
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
