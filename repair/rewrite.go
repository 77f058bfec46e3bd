// The WAL rewrite (compact --rewrite, and repair --from's new WAL): the
// new WAL written aside by etcd's writer, read back and checked, swapped in
// with one exchange, and the replacement of a whole directory.

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

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair/durable"
)

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
	st := a.plan.read
	if st == nil || a.plan.readLock != a.lock {
		// Read under another lock (PlanCompact, then Apply): read again.
		if st, err = readState(a.ctx, a.plan.Group, readInput{lock: a.lock}); err != nil {
			return err
		}
	}
	sum, count, err := writeNewWAL(a.ctx, rs.stage, st, *info.Snapshot, info.SnapshotFile, info.SegmentSize)
	a.step()
	if err != nil {
		return err
	}
	if err := renameNewSegments(rs.stage, st.segs, info.Snapshot.Index); err != nil {
		return err
	}
	// Each new segment is opened once more, for good: locked until the
	// end, read back, given its mode and owner and hashed through that
	// descriptor.
	held := map[string]*os.File{}
	ents, err := os.ReadDir(rs.stage)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(rs.stage, e.Name())
		if held[p], err = a.lock.holdFile(p); err != nil {
			return err
		}
	}
	if err := checkNewWAL(a.ctx, rs.stage, st.log, *info.Snapshot, sum, count, held); err != nil {
		return err
	}
	return a.adoptHeld(rs, walDir, st.segs, held)
}

// adoptStage makes the new WAL written into rs.stage look like the old one
// in walDir and durable before it is swapped in: every file fsynced with
// the last old segment's mode and owner, locked, and listed with its
// SHA-256 in rs.created; the directory with the old directory's mode and
// owner, fsynced, and its parent fsynced.
func (a *applier) adoptStage(rs *rewriteState, walDir string, segs []inspect.Segment) error {
	return a.adoptHeld(rs, walDir, segs, map[string]*os.File{})
}

// adoptHeld is adoptStage for new segments already held (locked and open)
// in held; it holds the others.
func (a *applier) adoptHeld(rs *rewriteState, walDir string, segs []inspect.Segment, held map[string]*os.File) error {
	dfi, err := os.Stat(walDir)
	if err != nil {
		return err
	}
	var own *ManifestFile
	fileMode := fs.FileMode(0o600)
	if len(segs) > 0 {
		if sfi, err := os.Lstat(segs[len(segs)-1].Path); err == nil {
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
		f := held[p]
		if f == nil {
			// Not held yet (adoptStage): hold it now.
			if f, err = a.lock.holdFile(p); err != nil {
				return err
			}
			held[p] = f
		}
		if err := fixFile(f, fileMode, own); err != nil {
			return err
		}
		sum, size, err := hashHeld(held, p)
		if err != nil {
			return err
		}
		uid, gid := ownerOf(p)
		rs.created = append(rs.created, ManifestFile{Path: rs.relWAL + "/" + e.Name(), Size: size,
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

// fixFile gives a new file (open for writing) mode and owner and fsyncs
// it.
func fixFile(f *os.File, mode fs.FileMode, own *ManifestFile) error {
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := chownLike(f, own); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return f.Sync()
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
// streams: the entries go from the old segments to the new ones in
// batches of at most rewriteBatchBytes (and a 64th of a segment, so that
// segments are cut close to their size, as a server's many small writes
// leave them), each saved with a HardState committing no further than its
// last entry, the group's own HardState last. The new files are not
// fsynced one write at a time (the caller fsyncs each once it is
// written; nothing reads them before). It returns the hash and count of
// the entries written.
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
	// etcd before 3.5 wrote no ConfState in the record: then the snapshot
	// file's.
	cs, err := rec.RaftConfState(snapFile)
	if err != nil {
		return nil, 0, err
	}
	if segSize <= 0 {
		return nil, 0, errors.New("repair: rewrite without a segment size")
	}
	defer durable.LockSegmentSize(segSize)()
	batchMax := min(rewriteBatchBytes, int(segSize/64))
	w, err := wal.Create(zap.NewNop(), dir, l.Metadata)
	if err != nil {
		return nil, 0, err
	}
	w.SetUnsafeNoFsync()
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
		pe, err := r.RaftEntry()
		if err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		entryHash(h, e.Index, e.Term, int32(e.Type), e.Data)
		count++
		batch = append(batch, pe)
		batchBytes += len(r.Data)
		if batchBytes >= batchMax {
			bhs := &raftpb.HardState{Term: hs.Term, Vote: hs.Vote, Commit: proto.Uint64(min(hs.GetCommit(), pe.GetIndex()))}
			if err := w.Save(bhs, batch); err != nil {
				return err
			}
			clear(batch)
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

// checkNewWAL reads the new WAL back and compares it with what was
// written, in constant memory: etcd's wal.Verify from the snapshot (CRC
// chain, framing, metadata, the snapshot record, the HardState), and
// raftctl's reader for the entries after the snapshot (etcd's ReadAll
// would hold them all).
// It reads the segments through held's descriptors.
func checkNewWAL(ctx context.Context, dir string, l *inspect.Log, sref inspect.SnapRef, sum []byte, count int64, held map[string]*os.File) error {
	hs, err := wal.Verify(zap.NewNop(), dir, &walpb.Snapshot{Index: proto.Uint64(sref.Index), Term: proto.Uint64(sref.Term)})
	if err != nil {
		return fmt.Errorf("rewritten WAL: %w", err)
	}
	if hs.GetTerm() != l.HardState.Term || hs.GetVote() != l.HardState.Vote || hs.GetCommit() != l.HardState.Commit {
		return errors.New("rewritten WAL: HardState differs")
	}
	segs, ignored, err := inspect.ListSegments(dir)
	if err != nil {
		return err
	}
	if len(ignored) > 0 {
		return fmt.Errorf("rewritten WAL: unexpected files %v", ignored)
	}
	segs = inspect.HoldSegments(segs, held)
	nl, err := inspect.ReadLog(ctx, segs)
	if err != nil {
		return err
	}
	switch {
	case nl.Stop != nil:
		return fmt.Errorf("rewritten WAL: %v", nl.Stop)
	case string(nl.Metadata) != string(l.Metadata) || nl.MetadataConflict:
		return errors.New("rewritten WAL: metadata differs")
	case nl.HardState != l.HardState:
		return errors.New("rewritten WAL: HardState differs")
	}
	h := sha256.New()
	var n int64
	err = inspect.EffectiveEntries(ctx, segs, nl, func(e *inspect.Entry, _ *inspect.Record) error {
		if e.Index <= sref.Index {
			return nil
		}
		entryHash(h, e.Index, e.Term, int32(e.Type), e.Data)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n != count || string(h.Sum(nil)) != string(sum) {
		return fmt.Errorf("rewritten WAL: reads %d entries, not the %d written, or other ones", n, count)
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
