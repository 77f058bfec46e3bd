package repair

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair/durable"
)

// The defaults of compaction, etcd's --max-wals and --max-snapshots.
const (
	DefaultKeepWAL       = 5
	DefaultKeepSnapshots = 5
)

// CompactOptions tune PlanCompact. The counts are taken literally (the
// command's flags default to DefaultKeepWAL and DefaultKeepSnapshots);
// whatever they say, compaction never removes a segment or snapshot file
// that the newest usable snapshot and the log after it need.
type CompactOptions struct {
	// KeepWAL is the least number of segments kept (without Rewrite).
	KeepWAL int `json:"keep_wal"`
	// KeepSnapshots is the number of newest .snap files kept.
	KeepSnapshots int `json:"keep_snapshots"`
	// Rewrite replaces the WAL with a new one, written by etcd's wal
	// package, that starts at the snapshot: it holds the snapshot record,
	// the HardState and the entries after the snapshot (overwrites
	// resolved). KeepWAL does not apply, and neither does KeepSnapshots
	// to the .snap files older than the snapshot: the new WAL holds no
	// record of them nor the entries after them, so etcd could never
	// restart from one; they are removed (moved into the backup) with the
	// old WAL.
	Rewrite bool `json:"rewrite"`
	// SegmentSize is the segment size of a rewritten WAL; 0 keeps the
	// group's own (see GroupSegmentSize). The rewrite sets the
	// process-wide wal.SegmentSizeBytes to it while it writes, under a
	// mutex of this package.
	SegmentSize int64 `json:"segment_size,omitempty"`
	// Findings are the group's verification findings: compaction refuses
	// a group with a finding of severity error.
	Findings []inspect.Finding `json:"findings,omitempty"`
}

// CompactInfo describes what a compaction is based on and what it leaves.
type CompactInfo struct {
	// Snapshot is the newest usable snapshot (present in the snapshot
	// directory, recorded in the WAL, at or below the commit index); nil
	// when there is none and nothing can be compacted.
	Snapshot     *inspect.SnapRef  `json:"snapshot"`
	SnapshotFile string            `json:"snapshot_file,omitempty"`
	HardState    inspect.HardState `json:"hard_state"`
	Rewrite      bool              `json:"rewrite"`
	// Segments and bytes of the WAL before and after (after is an
	// estimate for a rewrite; the Result has the exact figure).
	SegmentsBefore int   `json:"segments_before"`
	SegmentsAfter  int   `json:"segments_after"`
	WALBytesBefore int64 `json:"wal_bytes_before"`
	WALBytesAfter  int64 `json:"wal_bytes_after"`
	// SnapFilesBefore and SnapFilesAfter count .snap files.
	SnapFilesBefore int `json:"snap_files_before"`
	SnapFilesAfter  int `json:"snap_files_after"`
	// Entries is, for a rewrite, the number of entries after the snapshot
	// the new WAL holds.
	Entries int64 `json:"entries,omitempty"`
	// SegmentSize is, for a rewrite, the segment size of the new WAL and
	// SegmentSizeFrom what it was taken from.
	SegmentSize     int64  `json:"segment_size,omitempty"`
	SegmentSizeFrom string `json:"segment_size_from,omitempty"`
}

// PlanCompact locks the group (refusing a live WAL with *LockedError),
// reads it and plans to drop what its newest usable snapshot makes
// redundant:
//
//   - segments that hold only entries at or below the snapshot, the way
//     etcd's purge decides (wal.ReleaseLockTo keeps the segment holding
//     the snapshot index and every later one; fileutil.PurgeFile then
//     removes the oldest unlocked ones while more than --max-wals remain),
//     keeping at least KeepWAL segments;
//   - .snap files beyond the newest KeepSnapshots (never the usable
//     snapshot's file or a newer one);
//   - with Rewrite, the whole WAL, replaced by a fresh one that starts at
//     the snapshot.
//
// It refuses a group with error findings, an unreadable log (other than a
// torn last record) or, for a rewrite, a WAL whose newest snapshot record
// is not the usable snapshot or whose directory holds other files. The
// plan changes nothing; its locks are released before it returns.
func PlanCompact(ctx context.Context, g inspect.Group, opts CompactOptions) (*Plan, error) {
	lock, err := lockGroup(g, true)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	return planCompact(ctx, g, opts, readInput{lock: lock})
}

func planCompact(ctx context.Context, g inspect.Group, opts CompactOptions, in readInput) (*Plan, error) {
	o := opts
	p := &Plan{SchemaVersion: SchemaVersion, Operation: OpCompact, Group: g, CompactOptions: &o,
		Actions: []Action{}, Refusals: []Refusal{}, Files: []FileState{}}
	var errs []string
	for _, f := range opts.Findings {
		if f.Severity == inspect.SeverityError {
			errs = append(errs, f.Code)
		}
	}
	if len(errs) > 0 {
		p.refuseWith(CodeVerifyError, g.Dir, "repair or restore the group first (raftctl verify, raftctl repair)",
			"verification found errors (%s): compaction changes only groups that verify without errors", strings.Join(dedupe(errs), ", "))
		return p, nil
	}
	st, err := readState(ctx, g, in)
	if err != nil {
		return nil, err
	}
	if err := planCompactFrom(ctx, g, opts, st, p); err != nil {
		return nil, err
	}
	if p.fp, err = takeFingerprint(g, st, p, true); err != nil {
		return nil, err
	}
	p.read, p.readLock = st, in.lock
	return p, nil
}

// planCompactFrom plans a compaction into p from what st read.
func planCompactFrom(ctx context.Context, g inspect.Group, opts CompactOptions, st *groupState, p *Plan) error {
	l := st.log
	info := &CompactInfo{HardState: l.HardState, Rewrite: opts.Rewrite, SegmentsBefore: len(st.segs), SnapFilesBefore: len(st.snaps)}
	for _, s := range st.segs {
		info.WALBytesBefore += s.Size
	}
	info.SegmentsAfter, info.WALBytesAfter, info.SnapFilesAfter = info.SegmentsBefore, info.WALBytesBefore, info.SnapFilesBefore
	p.Compact = info
	last := len(st.segs) - 1
	if l.Stop != nil && !(l.Stop.Kind == inspect.KindTorn && l.Stop.Segment == last) {
		p.refuse(CodeCannotCompact, l.Stop.Path, "the log cannot be read past %s offset %d (%s): %s", l.Stop.Path, l.Stop.Offset, l.Stop.Kind, l.Stop.Msg)
		return nil
	}
	if l.MetadataConflict {
		p.refuse(CodeCannotCompact, g.WALDir, "the WAL's metadata records differ")
		return nil
	}
	// The newest usable snapshot, as etcd's LoadNewestAvailable picks it.
	recSeg := -1
	var snapRec inspect.SnapshotRecordAt
	var usable *inspect.SnapFile
	for i := range st.snaps {
		sf := &st.snaps[i]
		if !sf.OK || sf.Index > l.HardState.Commit || sf.Index == 0 {
			continue
		}
		for _, r := range l.Snapshots {
			if r.Index == sf.Index && r.Term == sf.Term {
				snapRec, recSeg = r, r.Segment
			}
		}
		if recSeg >= 0 {
			usable = sf
			break
		}
	}
	if usable == nil {
		p.note("no usable snapshot (a .snap file that decodes, is recorded in the WAL and is at or below the commit index %d): nothing to compact", l.HardState.Commit)
		return nil
	}
	info.Snapshot = &inspect.SnapRef{Index: usable.Index, Term: usable.Term}
	info.SnapshotFile = usable.Path

	var walActions []Action
	if opts.Rewrite {
		acts, ok, err := planRewrite(ctx, p, g, st, snapRec, opts)
		if err != nil {
			return err
		}
		if !ok {
			p.Actions = []Action{}
			return nil
		}
		walActions = acts
	} else {
		walActions = planPurge(p, st, usable.Index, recSeg, opts.KeepWAL)
	}
	keepSnaps := opts.KeepSnapshots
	if opts.Rewrite && len(walActions) > 0 {
		// The new WAL starts at the snapshot: an older .snap file would
		// have no record in it and no entries after it.
		keepSnaps = 0
	}
	snapActions := planSnapPurge(p, st, usable, keepSnaps)
	if len(p.Refusals) > 0 {
		// What compaction cannot do it does not do in part either.
		p.Actions = []Action{}
		return nil
	}
	p.Actions = append(append(p.Actions, walActions...), snapActions...)
	if len(p.Actions) == 0 {
		p.note("nothing to compact: every segment and snapshot file is still needed or kept")
	}
	if err := pinActionFiles(p, st, g); err != nil {
		return err
	}
	return nil
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// planPurge removes the segments etcd's purge would, keeping keep.
func planPurge(p *Plan, st *groupState, snapIndex uint64, recSeg, keep int) []Action {
	segs := st.segs
	// wal.ReleaseLockTo(snapIndex): the segments before the last one whose
	// name index is below snapIndex are released.
	keepFrom := len(segs) - 1
	for i, s := range segs {
		if s.Index >= snapIndex {
			keepFrom = i - 1
			break
		}
	}
	keepFrom = max(0, min(keepFrom, recSeg))
	n := min(keepFrom, max(0, len(segs)-keep))
	var acts []Action
	for i := 0; i < n; i++ {
		s, ss := segs[i], st.log.Segments[i]
		if !ss.Read || (ss.Entries > 0 && ss.LastEntry >= snapIndex) {
			// The name says one thing, the content another: keep it and
			// everything after it.
			p.note("%s holds entries up to %d, not only entries below the snapshot at %d: kept", s.Path, ss.LastEntry, snapIndex)
			break
		}
		fi, err := regularFile(s.Path)
		if err != nil {
			p.refuseWith(CodeCannotCompact, s.Path, "replace the link with the file it points to", "%v", err)
			break
		}
		acts = append(acts, Action{Kind: Remove, Path: s.Path, Size: fi.Size(), Bytes: fi.Size(), Reason: "compact",
			Message: fmt.Sprintf("remove %s: its entries (up to %d) are all in the snapshot at index %d", s.Name, ss.LastEntry, snapIndex)})
		p.Compact.SegmentsAfter--
		p.Compact.WALBytesAfter -= fi.Size()
	}
	return acts
}

// planSnapPurge removes .snap files beyond the newest keep.
func planSnapPurge(p *Plan, st *groupState, usable *inspect.SnapFile, keep int) []Action {
	var acts []Action
	protected := true // the usable snapshot's file and newer ones
	for i, sf := range st.snaps {
		if i < keep || protected {
			if sf.Path == usable.Path {
				protected = false
			}
			continue
		}
		fi, err := regularFile(sf.Path)
		if err != nil {
			p.refuseWith(CodeCannotCompact, sf.Path, "replace the link with the file it points to", "%v", err)
			continue
		}
		msg := fmt.Sprintf("remove %s: older than the newest %d snapshot files", sf.Name, keep)
		if keep == 0 {
			msg = fmt.Sprintf("remove %s: older than the snapshot the rewritten WAL starts at (index %d), which holds no record of it", sf.Name, usable.Index)
		}
		acts = append(acts, Action{Kind: Remove, Path: sf.Path, Size: fi.Size(), Bytes: fi.Size(), Reason: "compact", Message: msg})
		p.Compact.SnapFilesAfter--
	}
	// Oldest first.
	for i, j := 0, len(acts)-1; i < j; i, j = i+1, j-1 {
		acts[i], acts[j] = acts[j], acts[i]
	}
	return acts
}

// pipelineLeftover matches the preallocated files etcd's file pipeline
// leaves in a WAL directory when it is killed (0.tmp, 1.tmp).
var pipelineLeftover = regexp.MustCompile(`^[0-9]+\.tmp$`)

// walDirFiles lists the WAL directory's files for a rewrite: segments and
// pipeline leftovers; anything else is returned in others.
func walDirFiles(walDir string) (files, others []string, err error) {
	ents, err := os.ReadDir(walDir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		n := e.Name()
		_, _, _, perr := inspect.ParseSegmentName(n)
		if e.Type().IsRegular() && (perr == nil || pipelineLeftover.MatchString(n)) {
			files = append(files, filepath.Join(walDir, n))
		} else {
			others = append(others, filepath.Join(walDir, n))
		}
	}
	return files, others, nil
}

// planRewrite plans the replacement of the WAL directory, in steps: the
// group and its log must allow a rewrite (rewriteRefusal), the WAL
// directory must hold only segments (walDirSize), the entries after the
// snapshot must be copied as etcd loads them (keptEntries), and the new
// WAL is sized (sizeRewrite). A step that refuses records the refusal and
// plans nothing.
func planRewrite(ctx context.Context, p *Plan, g inspect.Group, st *groupState, rec inspect.SnapshotRecordAt, opts CompactOptions) ([]Action, bool, error) {
	refuse := func(msg string) ([]Action, bool, error) {
		p.refuseWith(CodeCannotCompact, g.WALDir, "compact without --rewrite", "%s", msg)
		return nil, false, nil
	}
	msg, done, err := rewriteRefusal(p, g, st.log, rec)
	switch {
	case err != nil:
		return nil, false, err
	case msg != "":
		return refuse(msg)
	case done:
		return nil, true, nil
	}
	size, msg, err := walDirSize(g.WALDir)
	switch {
	case err != nil:
		return nil, false, err
	case msg != "":
		return refuse(msg)
	}
	entries, frames, msg, err := keptEntries(ctx, st, rec)
	switch {
	case err != nil:
		return nil, false, err
	case msg != "":
		return refuse(msg)
	}
	after, err := sizeRewrite(p, g, st, opts, entries, frames)
	if err != nil {
		return nil, false, err
	}
	act := Action{Kind: Replace, Path: g.WALDir, Size: size, Bytes: max(0, size-after), Reason: "compact",
		Message: fmt.Sprintf("replace the WAL (%d segments, %d bytes) with one written from the snapshot at index %d: %d entries, about %d bytes", len(st.segs), size, rec.Index, entries, after)}
	return []Action{act}, true, nil
}

// rewriteRefusal returns why the WAL directory cannot be rewritten from
// the snapshot record rec (a symbolic link, the group's own directory, no
// HardState, a newer snapshot record), or done (after a note) when the
// WAL already starts at the snapshot and there is nothing to rewrite.
func rewriteRefusal(p *Plan, g inspect.Group, l *inspect.Log, rec inspect.SnapshotRecordAt) (msg string, done bool, err error) {
	fi, err := os.Lstat(g.WALDir)
	if err != nil {
		return "", false, err
	}
	switch {
	case !fi.IsDir():
		return "the WAL directory is a symbolic link or not a directory", false, nil
	case sameDir(g.WALDir, g.Dir):
		return "the WAL segments lie in the group's own directory, which cannot be swapped", false, nil
	case !l.HasHardState:
		return "the WAL holds no HardState", false, nil
	}
	if first := l.FirstIndex; l.Overwritten == 0 && len(l.Snapshots) <= 2 && (first == rec.Index+1 || (first == 0 && l.LastIndex == rec.Index)) {
		p.note("the WAL already starts at the snapshot (index %d): nothing to rewrite", rec.Index)
		return "", true, nil
	}
	newest := l.Snapshots[len(l.Snapshots)-1]
	if newest.Index != rec.Index || newest.Term != rec.Term {
		return fmt.Sprintf("the WAL's newest snapshot record (index %d, term %d) is not the newest usable snapshot (index %d): a rewrite would drop it", newest.Index, newest.Term, rec.Index), false, nil
	}
	return "", false, nil
}

// walDirSize returns the bytes the WAL directory's files hold, or why it
// cannot be replaced (it holds files that are not segments).
func walDirSize(walDir string) (size int64, msg string, err error) {
	files, others, err := walDirFiles(walDir)
	if err != nil {
		return 0, "", err
	}
	if len(others) > 0 {
		return 0, "the WAL directory holds files that are not segments: " + strings.Join(others, ", "), nil
	}
	for _, f := range files {
		fi, err := os.Lstat(f)
		if err != nil {
			return 0, "", err
		}
		size += fi.Size()
	}
	return size, "", nil
}

// keptEntries counts the entries after the snapshot and their frames, from
// which the new WAL is estimated, or returns why they cannot be copied (a
// decode error, a gap, or entries etcd loads that differ from the log's).
func keptEntries(ctx context.Context, st *groupState, rec inspect.SnapshotRecordAt) (entries, frames int64, msg string, err error) {
	eff := inspect.EntryRuns{Base: rec.Index}
	next := rec.Index + 1
	err = inspect.EffectiveEntries(ctx, st.segs, st.log, func(e *inspect.Entry, r *inspect.Record) error {
		if e.Index <= rec.Index {
			return nil
		}
		if e.Index != next {
			return fmt.Errorf("gap: entry %d follows %d", e.Index, next-1)
		}
		next++
		entries++
		frames += r.FrameSize
		return eff.Put(e.Index, e.Term)
	})
	if err != nil {
		if _, ok := inspect.AsDecodeError(err); ok || strings.HasPrefix(err.Error(), "gap:") {
			return 0, 0, fmt.Sprintf("the entries after the snapshot cannot be copied: %v", err), nil
		}
		return 0, 0, "", err
	}
	// etcd's ReadAll, opened at the snapshot, reads from the last segment
	// named at or below it and lets an entry replace those at and after
	// its index only when it is above the snapshot: an overwrite at or
	// below the snapshot leaves the entries it superseded in what etcd
	// loads. The rewrite must not change what etcd loads.
	etcdView, err := inspect.EtcdEntriesAfter(ctx, st.segs, st.log, rec.Index)
	if err != nil {
		if strings.HasPrefix(err.Error(), "gap:") {
			return 0, 0, fmt.Sprintf("etcd's ReadAll at the snapshot (index %d) would fail: %v", rec.Index, err), nil
		}
		return 0, 0, "", err
	}
	if !etcdView.Equal(&eff) {
		return 0, 0, fmt.Sprintf("etcd reads entries after the snapshot that a later leader overwrote (an overwrite at or below index %d leaves them in what etcd's ReadAll returns); a rewrite would change what etcd loads", rec.Index), nil
	}
	return entries, frames, "", nil
}

// sizeRewrite records in p the segment size of the new WAL (from opts, or
// the group's own) and the new WAL's estimated size, and returns that
// size in bytes.
func sizeRewrite(p *Plan, g inspect.Group, st *groupState, opts CompactOptions, entries, frames int64) (int64, error) {
	segSize, from := opts.SegmentSize, "the compaction's options"
	if segSize <= 0 {
		var err error
		segSize, from, err = GroupSegmentSize(g.WALDir, st.log)
		if err != nil {
			return 0, err
		}
	}
	p.Compact.SegmentSize, p.Compact.SegmentSizeFrom = segSize, from
	need := frames + 4096
	nsegs := (need + segSize - 1) / segSize
	after := nsegs * segSize
	p.Compact.Entries = entries
	p.Compact.SegmentsAfter, p.Compact.WALBytesAfter = int(nsegs), after
	return after, nil
}

// pinActionFiles records the content of every file the actions touch.
func pinActionFiles(p *Plan, st *groupState, g inspect.Group) error {
	var paths []string
	for _, a := range p.Actions {
		if a.Kind == Replace {
			files, _, err := walDirFiles(a.Path)
			if err != nil {
				return err
			}
			paths = append(paths, files...)
			continue
		}
		paths = append(paths, a.Path)
	}
	for _, path := range paths {
		sum, size, err := hashHeld(st.held, path)
		if err != nil {
			return err
		}
		p.Files = append(p.Files, FileState{Path: path, Size: size, SHA256: sum})
	}
	return nil
}

// GroupSegmentSize tells the segment size (etcd's wal.SegmentSizeBytes)
// the group was written with, from what its files show, and what it took
// it from:
//
//  1. the last segment's size, when it ends in preallocated zero space:
//     etcd preallocates its live segment to exactly that size;
//  2. else the largest of the preallocated files of etcd's file pipeline
//     (0.tmp, 1.tmp) a killed writer left;
//  3. else the segments etcd cut: each is at least the segment size (a
//     cut happens only once a wal.Save has left the segment that full)
//     and a little more (the rest of that wal.Save), and the writer had
//     found it below the size at the wal.Save before (PrevSaveCheck): the
//     smallest cut segment rounded down to a multiple of 4 KiB, or, when
//     that falls below those writes, rounded up to a sector;
//  4. else (one segment, cut back to its last record by etcd's repair or
//     a copy): its size rounded up to a multiple of 4 KiB, a lower bound
//     of the size it was preallocated to.
//
// Sizes that are not a whole number of 512-byte sectors (etcd's default,
// 64,000,000 bytes, is) are rounded up to one.
func GroupSegmentSize(walDir string, l *inspect.Log) (int64, string, error) {
	const sector, page = 512, 4096
	up := func(n, m int64) int64 { return (n + m - 1) / m * m }
	sums := l.Segments
	if n := len(sums); n > 0 && sums[n-1].Read && sums[n-1].ZeroTail > 0 {
		return up(sums[n-1].Size, sector), "the preallocated size of the last segment " + sums[n-1].Name, nil
	}
	files, _, err := walDirFiles(walDir)
	if err != nil {
		return 0, "", err
	}
	var tmp int64
	for _, f := range files {
		if !pipelineLeftover.MatchString(filepath.Base(f)) {
			continue
		}
		if fi, err := os.Lstat(f); err == nil && fi.Size() > tmp {
			tmp = fi.Size()
		}
	}
	if tmp > 0 {
		return up(tmp, sector), "the preallocated files of etcd's file pipeline", nil
	}
	var lo, hi int64 = 0, -1
	for k := 0; k+1 < len(sums); k++ {
		s := sums[k]
		if !s.Read || s.End != s.Size {
			continue
		}
		if hi < 0 || s.Size < hi {
			hi = s.Size
		}
		lo = max(lo, s.PrevSaveCheck)
	}
	if hi > 0 {
		size := hi / page * page
		if size <= lo || size == 0 {
			size = up(hi, sector)
		}
		return size, "the size of the segments etcd cut", nil
	}
	if n := len(sums); n > 0 && sums[n-1].Size > 0 {
		return up(sums[n-1].Size, page), "the size of the only segment " + sums[n-1].Name, nil
	}
	return durable.SegmentSize(), "etcd's default", nil
}
