package repair

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
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
	// resolved). KeepWAL does not apply.
	Rewrite bool `json:"rewrite"`
	// SegmentSize is the segment size of a rewritten WAL (etcd's
	// wal.SegmentSizeBytes, 64 MiB, when 0). Setting it changes the
	// process-wide wal.SegmentSizeBytes while the WAL is written.
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
	return planCompact(ctx, g, opts)
}

func planCompact(ctx context.Context, g inspect.Group, opts CompactOptions) (*Plan, error) {
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
	st, err := readState(ctx, g)
	if err != nil {
		return nil, err
	}
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
		return p, nil
	}
	if l.MetadataConflict {
		p.refuse(CodeCannotCompact, g.WALDir, "the WAL's metadata records differ")
		return p, nil
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
		return p, nil
	}
	info.Snapshot = &inspect.SnapRef{Index: usable.Index, Term: usable.Term}
	info.SnapshotFile = usable.Path

	var walActions []Action
	if opts.Rewrite {
		acts, ok, err := planRewrite(ctx, p, g, st, snapRec, opts)
		if err != nil {
			return nil, err
		}
		if !ok {
			p.Actions = []Action{}
			return p, nil
		}
		walActions = acts
	} else {
		walActions = planPurge(p, st, usable.Index, recSeg, opts.KeepWAL)
	}
	snapActions := planSnapPurge(p, st, usable, opts.KeepSnapshots)
	p.Actions = append(append(p.Actions, walActions...), snapActions...)
	if len(p.Actions) == 0 {
		p.note("nothing to compact: every segment and snapshot file is still needed or kept")
	}
	if err := pinActionFiles(p, st, g); err != nil {
		return nil, err
	}
	return p, nil
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
		acts = append(acts, Action{Kind: Remove, Path: sf.Path, Size: fi.Size(), Bytes: fi.Size(), Reason: "compact",
			Message: fmt.Sprintf("remove %s: older than the newest %d snapshot files", sf.Name, keep)})
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

// planRewrite plans the replacement of the WAL directory.
func planRewrite(ctx context.Context, p *Plan, g inspect.Group, st *groupState, rec inspect.SnapshotRecordAt, opts CompactOptions) ([]Action, bool, error) {
	l := st.log
	refuse := func(format string, args ...any) ([]Action, bool, error) {
		p.refuseWith(CodeCannotCompact, g.WALDir, "compact without --rewrite", format, args...)
		return nil, false, nil
	}
	fi, err := os.Lstat(g.WALDir)
	if err != nil {
		return nil, false, err
	}
	switch {
	case !fi.IsDir():
		return refuse("the WAL directory is a symbolic link or not a directory")
	case sameDir(g.WALDir, g.Dir):
		return refuse("the WAL segments lie in the group's own directory, which cannot be swapped")
	case !l.HasHardState:
		return refuse("the WAL holds no HardState")
	}
	if first := l.FirstIndex; l.Overwritten == 0 && len(l.Snapshots) <= 2 && (first == rec.Index+1 || (first == 0 && l.LastIndex == rec.Index)) {
		p.note("the WAL already starts at the snapshot (index %d): nothing to rewrite", rec.Index)
		return nil, true, nil
	}
	newest := l.Snapshots[len(l.Snapshots)-1]
	if newest.Index != rec.Index || newest.Term != rec.Term {
		return refuse("the WAL's newest snapshot record (index %d, term %d) is not the newest usable snapshot (index %d): a rewrite would drop it", newest.Index, newest.Term, rec.Index)
	}
	files, others, err := walDirFiles(g.WALDir)
	if err != nil {
		return nil, false, err
	}
	if len(others) > 0 {
		return refuse("the WAL directory holds files that are not segments: %s", strings.Join(others, ", "))
	}
	var size int64
	for _, f := range files {
		fi, err := os.Lstat(f)
		if err != nil {
			return nil, false, err
		}
		size += fi.Size()
	}
	// Estimate the new WAL from the frames of the entries it keeps.
	var entries, frames int64
	var eff []entryID
	next := rec.Index + 1
	err = inspect.EffectiveEntries(ctx, st.segs, l, func(e *inspect.Entry, r *inspect.Record) error {
		if e.Index <= rec.Index {
			return nil
		}
		if e.Index != next {
			return fmt.Errorf("gap: entry %d follows %d", e.Index, next-1)
		}
		next++
		entries++
		frames += r.FrameSize
		eff = append(eff, entryID{e.Index, e.Term})
		return nil
	})
	if err != nil {
		if _, ok := inspect.AsDecodeError(err); ok || strings.HasPrefix(err.Error(), "gap:") {
			return refuse("the entries after the snapshot cannot be copied: %v", err)
		}
		return nil, false, err
	}
	// etcd's ReadAll, opened at the snapshot, reads from the last segment
	// named at or below it and lets an entry replace those at and after
	// its index only when it is above the snapshot: an overwrite at or
	// below the snapshot leaves the entries it superseded in what etcd
	// loads. The rewrite must not change what etcd loads.
	etcdView, err := etcdEntriesAfter(ctx, st, rec.Index)
	if err != nil {
		return nil, false, err
	}
	if !slices.Equal(etcdView, eff) {
		return refuse("etcd reads entries after the snapshot that a later leader overwrote (an overwrite at or below index %d leaves them in what etcd's ReadAll returns); a rewrite would change what etcd loads", rec.Index)
	}
	segSize := opts.SegmentSize
	if segSize <= 0 {
		segSize = wal.SegmentSizeBytes
	}
	need := frames + 4096
	nsegs := (need + segSize - 1) / segSize
	after := nsegs * segSize
	p.Compact.Entries = entries
	p.Compact.SegmentsAfter, p.Compact.WALBytesAfter = int(nsegs), after
	act := Action{Kind: Replace, Path: g.WALDir, Size: size, Bytes: max(0, size-after), Reason: "compact",
		Message: fmt.Sprintf("replace the WAL (%d segments, %d bytes) with one written from the snapshot at index %d: %d entries, about %d bytes", len(st.segs), size, rec.Index, entries, after)}
	return []Action{act}, true, nil
}

// entryID names an entry by index and term.
type entryID struct{ index, term uint64 }

// etcdEntriesAfter emulates what etcd's ReadAll returns when the WAL is
// opened at the snapshot at index snap: the indexes and terms of the
// entries after it.
func etcdEntriesAfter(ctx context.Context, st *groupState, snap uint64) ([]entryID, error) {
	start := 0
	for k, s := range st.segs {
		if s.Index <= snap {
			start = k
		}
	}
	var ents []entryID
	var e inspect.Entry
	err := inspect.Records(ctx, st.segs, st.log, func(r *inspect.Record) error {
		if r.Segment < start || r.Type != inspect.EntryRecord {
			return nil
		}
		if err := inspect.ParseEntry(r.Data, &e); err != nil {
			return err
		}
		if e.Index > snap {
			off := e.Index - snap - 1
			if off > uint64(len(ents)) {
				return fmt.Errorf("entry %d does not follow the %d entries after the snapshot at %d", e.Index, len(ents), snap)
			}
			ents = append(ents[:off], entryID{e.Index, e.Term})
		}
		return nil
	})
	return ents, err
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
		sum, size, err := hashFile(path)
		if err != nil {
			return err
		}
		p.Files = append(p.Files, FileState{Path: path, Size: size, SHA256: sum})
	}
	return nil
}

// walSizeMu serialises changes of wal.SegmentSizeBytes by this package.
var walSizeMu sync.Mutex

// rewriteState is a WAL rewrite under way.
type rewriteState struct {
	walDir   string
	stage    string
	relWAL   string
	relStage string
	created  []ManifestFile
	newBytes int64
}

// prepareRewrite writes the new WAL into a hidden sibling of the WAL
// directory, checks it with etcd's reader, gives it the old directory's
// owner and modes, and locks its segments.
func (a *applier) prepareRewrite() error {
	var act *Action
	for k := range a.plan.Actions {
		if a.plan.Actions[k].Kind == Replace {
			act = &a.plan.Actions[k]
		}
	}
	if act == nil {
		return nil
	}
	info := a.plan.Compact
	if info == nil || info.Snapshot == nil || a.plan.CompactOptions == nil {
		return errors.New("repair: rewrite plan without its snapshot")
	}
	walDir := act.Path
	rs := &rewriteState{walDir: walDir, stage: filepath.Join(filepath.Dir(walDir), ".raftctl-wal-"+a.id)}
	a.rewrite = rs
	var err error
	if rs.relWAL, err = a.rel(walDir); err != nil {
		return err
	}
	if rs.relStage, err = a.rel(rs.stage); err != nil {
		return err
	}
	if ok, err := pathExists(rs.stage); err != nil || ok {
		return errors.Join(err, fmt.Errorf("%s already exists", rs.stage))
	}
	st, err := readState(a.ctx, a.plan.Group)
	if err != nil {
		return err
	}
	sum, count, err := writeNewWAL(a.ctx, rs.stage, st, *info.Snapshot, info.SnapshotFile, a.plan.CompactOptions.SegmentSize)
	a.step()
	if err != nil {
		return err
	}
	if err := renameNewSegments(rs.stage, st.segs, info.Snapshot.Index); err != nil {
		return err
	}
	if err := checkNewWAL(rs.stage, st.log, *info.Snapshot, sum, count); err != nil {
		return err
	}
	// Owner and modes of the old directory and segments.
	dfi, err := os.Stat(walDir)
	if err != nil {
		return err
	}
	var own *ManifestFile
	fileMode := fs.FileMode(0o600)
	if len(st.segs) > 0 {
		if sfi, err := os.Lstat(st.segs[len(st.segs)-1].Path); err == nil {
			fileMode = sfi.Mode().Perm()
			if uid, gid, ok := owner(sfi); ok {
				own = &ManifestFile{UID: &uid, GID: &gid}
			}
		}
	}
	ents, err := os.ReadDir(rs.stage)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(rs.stage, e.Name())
		if err := fixFile(p, fileMode, own); err != nil {
			return err
		}
		if err := a.lock.hold(p); err != nil {
			return err
		}
		sum, size, err := hashFile(p)
		if err != nil {
			return err
		}
		uid, gid := ownerOf(p)
		a.rewrite.created = append(a.rewrite.created, ManifestFile{Path: rs.relWAL + "/" + e.Name(), Size: size,
			Mode: fmt.Sprintf("%04o", fileMode), UID: uid, GID: gid, SHA256: sum})
		rs.newBytes += size
	}
	if err := os.Chmod(rs.stage, dfi.Mode().Perm()); err != nil {
		return err
	}
	if uid, gid, ok := owner(dfi); ok {
		if sfi, err := os.Stat(rs.stage); err == nil {
			if u, g, _ := owner(sfi); u != uid || g != gid {
				if err := os.Chown(rs.stage, uid, gid); err != nil {
					return fmt.Errorf("%s: cannot give the new WAL directory the owner %d:%d of the old one: %w", rs.stage, uid, gid, err)
				}
			}
		}
	}
	if err := fsyncDir(rs.stage); err != nil {
		return err
	}
	if err := fsyncDir(filepath.Dir(rs.stage)); err != nil {
		return err
	}
	a.step()
	return nil
}

// fixFile fsyncs a new file and gives it mode and owner.
func fixFile(p string, mode fs.FileMode, own *ManifestFile) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := chownLike(f, own); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

func ownerOf(p string) (*int, *int) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, nil
	}
	uid, gid, ok := owner(fi)
	if !ok {
		return nil, nil
	}
	return &uid, &gid
}

// entryHash folds an entry into a running hash that a reread compares.
func entryHash(h hash.Hash, index, term uint64, typ int32, data []byte) {
	var b [28]byte
	binary.LittleEndian.PutUint64(b[0:], index)
	binary.LittleEndian.PutUint64(b[8:], term)
	binary.LittleEndian.PutUint32(b[16:], uint32(typ))
	binary.LittleEndian.PutUint64(b[20:], uint64(len(data)))
	h.Write(b[:])
	h.Write(data)
}

// rewriteBatchBytes bounds the entry data of one WAL.Save call.
const rewriteBatchBytes = 1 << 20

// writeNewWAL writes the new WAL into dir with etcd's wal package: the
// snapshot record, the entries after the snapshot and the HardState. It
// returns the hash and count of the entries written.
func writeNewWAL(ctx context.Context, dir string, st *groupState, sref inspect.SnapRef, snapFile string, segSize int64) (sum []byte, count int64, err error) {
	l := st.log
	var rec *inspect.SnapshotRecordAt
	for k := range l.Snapshots {
		if l.Snapshots[k].Index == sref.Index && l.Snapshots[k].Term == sref.Term {
			rec = &l.Snapshots[k]
		}
	}
	if rec == nil {
		return nil, 0, fmt.Errorf("the WAL has no snapshot record for index %d", sref.Index)
	}
	cs := &raftpb.ConfState{}
	if rec.ConfState != nil {
		if err := proto.Unmarshal(rec.ConfState, cs); err != nil {
			return nil, 0, fmt.Errorf("snapshot record's ConfState: %w", err)
		}
	} else {
		// etcd before 3.5 wrote no ConfState in the record: take the
		// snapshot file's.
		s, err := snap.Read(zap.NewNop(), snapFile)
		if err != nil {
			return nil, 0, err
		}
		cs = s.GetMetadata().GetConfState()
	}
	if segSize > 0 {
		walSizeMu.Lock()
		old := wal.SegmentSizeBytes
		wal.SegmentSizeBytes = segSize
		defer func() { wal.SegmentSizeBytes = old; walSizeMu.Unlock() }()
	}
	w, err := wal.Create(zap.NewNop(), dir, l.Metadata)
	if err != nil {
		return nil, 0, err
	}
	closed := false
	defer func() {
		if !closed {
			w.Close()
		}
	}()
	if err := w.SaveSnapshot(&walpb.Snapshot{Index: proto.Uint64(sref.Index), Term: proto.Uint64(sref.Term), ConfState: cs}); err != nil {
		return nil, 0, err
	}
	hs := &raftpb.HardState{Term: proto.Uint64(l.HardState.Term), Vote: proto.Uint64(l.HardState.Vote), Commit: proto.Uint64(l.HardState.Commit)}
	h := sha256.New()
	var batch []*raftpb.Entry
	var batchBytes int
	next := sref.Index + 1
	err = inspect.EffectiveEntries(ctx, st.segs, l, func(e *inspect.Entry, r *inspect.Record) error {
		if e.Index <= sref.Index {
			return nil
		}
		if e.Index != next {
			return fmt.Errorf("entry %d follows %d: the log after the snapshot has a gap", e.Index, next-1)
		}
		next++
		pe := &raftpb.Entry{}
		if err := proto.Unmarshal(r.Data, pe); err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		entryHash(h, pe.GetIndex(), pe.GetTerm(), int32(pe.GetType()), pe.GetData())
		count++
		batch = append(batch, pe)
		batchBytes += len(r.Data)
		if batchBytes >= rewriteBatchBytes {
			if err := w.Save(hs, batch); err != nil {
				return err
			}
			batch, batchBytes = batch[:0], 0
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if err := w.Save(hs, batch); err != nil {
		return nil, 0, err
	}
	closed = true
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return h.Sum(nil), count, nil
}

// renameNewSegments names the rewritten segments as if etcd had purged the
// old WAL up to the snapshot: the first one takes the sequence number of
// the old segment the snapshot is read from (the last named at or below
// its index) and is named for the snapshot's index; the others follow in
// sequence and keep the index of their first entry. A WAL that starts at
// sequence 0 says it was never purged, and snapshot files older than its
// first record would look like orphans.
func renameNewSegments(dir string, old []inspect.Segment, snapIndex uint64) error {
	var base uint64
	for _, s := range old {
		if s.Index <= snapIndex {
			base = s.Seq
		}
	}
	segs, ignored, err := inspect.ListSegments(dir)
	if err != nil {
		return err
	}
	if len(ignored) > 0 {
		return fmt.Errorf("rewritten WAL: unexpected files %v", ignored)
	}
	for i := len(segs) - 1; i >= 0; i-- {
		idx := segs[i].Index
		if i == 0 {
			idx = snapIndex
		}
		name := inspect.SegmentName(base+uint64(i), idx)
		if name == segs[i].Name {
			continue
		}
		if err := renameNoReplace(segs[i].Path, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return fsyncDir(dir)
}

// checkNewWAL reads the new WAL with etcd's reader from the snapshot and
// compares it with what was written.
func checkNewWAL(dir string, l *inspect.Log, sref inspect.SnapRef, sum []byte, count int64) error {
	w, err := wal.OpenForRead(zap.NewNop(), dir, &walpb.Snapshot{Index: proto.Uint64(sref.Index), Term: proto.Uint64(sref.Term)})
	if err != nil {
		return fmt.Errorf("rewritten WAL: %w", err)
	}
	md, hs, ents, err := w.ReadAll()
	w.Close()
	if err != nil {
		return fmt.Errorf("rewritten WAL: %w", err)
	}
	h := sha256.New()
	for _, e := range ents {
		entryHash(h, e.GetIndex(), e.GetTerm(), int32(e.GetType()), e.GetData())
	}
	switch {
	case string(md) != string(l.Metadata):
		return errors.New("rewritten WAL: metadata differs")
	case hs.GetTerm() != l.HardState.Term || hs.GetVote() != l.HardState.Vote || hs.GetCommit() != l.HardState.Commit:
		return errors.New("rewritten WAL: HardState differs")
	case int64(len(ents)) != count || string(h.Sum(nil)) != string(sum):
		return fmt.Errorf("rewritten WAL: reads %d entries, not the %d written, or other ones", len(ents), count)
	}
	return nil
}

// replace swaps the new WAL directory in and removes the old one, whose
// files are all in the backup.
func (a *applier) replace(act Action) error {
	rs := a.rewrite
	if rs == nil || !sameDir(rs.walDir, act.Path) {
		return errors.New("repair: no rewritten WAL to swap in")
	}
	a.changed = true
	if err := exchange(rs.stage, rs.walDir); err != nil {
		a.changed = false
		return err
	}
	a.step()
	if err := fsyncDir(filepath.Dir(rs.walDir)); err != nil {
		return err
	}
	a.step()
	// rs.stage now holds the old WAL: remove the files the backup holds.
	known := map[string]string{}
	for _, f := range a.man.Files {
		if filepath.ToSlash(filepath.Dir(filepath.FromSlash(f.Path))) == rs.relWAL {
			known[filepath.Base(f.Path)] = f.SHA256
		}
	}
	ents, err := os.ReadDir(rs.stage)
	if err != nil {
		return err
	}
	left := false
	for _, e := range ents {
		p := filepath.Join(rs.stage, e.Name())
		want, ok := known[e.Name()]
		if ok && e.Type().IsRegular() && !a.inBackup(p, rs.relWAL+"/"+e.Name()) {
			sum, _, err := hashFile(p)
			if err != nil {
				return err
			}
			ok = sum == want
		}
		if !ok {
			left = true
			continue
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		a.step()
	}
	if left {
		a.res.Notes = append(a.res.Notes, fmt.Sprintf("%s holds files raftctl did not back up; it was left in place", rs.stage))
	} else {
		if err := os.Remove(rs.stage); err != nil {
			return err
		}
		a.step()
	}
	if err := fsyncDir(filepath.Dir(rs.walDir)); err != nil {
		return err
	}
	a.step()
	a.res.BytesReclaimed += max(0, act.Size-rs.newBytes)
	return nil
}

// inBackup reports whether the file at p is the very file (the same inode,
// hard-linked) that the backup holds as rel: its content is then the one
// the backup checked.
func (a *applier) inBackup(p, rel string) bool {
	fi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	bfi, err := os.Lstat(filepath.Join(a.backupDir, filepath.FromSlash(rel)))
	return err == nil && os.SameFile(fi, bfi)
}
