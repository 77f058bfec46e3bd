package repair

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"

	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
)

// ApplyRecover runs a recover plan under the safety protocol of the
// package: it locks every replica, plans again (a *StaleError when the
// result differs), checks that the member's and the donor's entries are
// byte-identical wherever both hold them, copies the member's last segment
// into the backup directory, writes the new last segment aside (its records,
// the donor's entries AppendFrom..AppendTo re-framed in the member's CRC
// chain, and the new HardState), records its SHA-256 in the manifest,
// renames it over the old one and verifies the member (deep: raft restarts
// in memory from it) and the appended bytes. When that verification fails
// the old segment is put back. It writes the last segment and the new tail,
// nothing else.
func ApplyRecover(ctx context.Context, plan *RecoverPlan, opts ApplyOptions) (*RecoverResult, error) {
	res := &RecoverResult{SchemaVersion: SchemaVersion, Operation: OpRecover, Group: plan.Group, Actions: []Action{},
		Notes: append([]string(nil), plan.Notes...), HardState: plan.HardState, NextStep: plan.NextStep}
	if len(plan.Refusals) > 0 {
		return nil, ErrRefused
	}
	if opts.DryRun {
		res.Actions = append(res.Actions, plan.Actions...)
		return res, nil
	}
	if plan.Empty() {
		return res, nil
	}
	var locks []*GroupLock
	defer func() {
		for _, l := range locks {
			l.Release()
		}
	}()
	var memberLock *GroupLock
	for _, gs := range plan.Replicas {
		for _, g := range gs {
			l, err := LockGroup(g)
			if err != nil {
				return nil, err
			}
			locks = append(locks, l)
			if g.Dir == plan.Group.Dir {
				memberLock = l
			}
		}
	}
	if memberLock == nil {
		return nil, errors.New("repair: the plan's member is not among its replicas")
	}
	// The one read of the replicas: compare reads each through its lock's
	// descriptors, and every later read under these locks (the overlap,
	// the CRC, the donor's entries, the backup) goes through them too.
	fresh, st, err := planRecover(ctx, plan.Servers, plan.Replicas, RecoverOptions{Member: plan.Member}, heldOf(locks))
	if err != nil {
		return nil, err
	}
	if err := sameRecoverPlan(plan, fresh); err != nil {
		return nil, err
	}
	var want []byte
	if plan.AppendFrom != 0 {
		if st.donor == nil {
			return nil, &StaleError{Reason: "the donor is gone"}
		}
		if want, err = checkOverlap(ctx, st, plan); err != nil {
			return nil, err
		}
	}
	a := &applier{ctx: ctx, plan: &Plan{SchemaVersion: SchemaVersion, Operation: OpRecover, Group: plan.Group, Actions: plan.Actions, Files: plan.Files},
		opts: opts, lock: memberLock, res: &Result{}}
	if err := a.recover(plan, st, res); err != nil {
		if a.changed {
			err = &PartialError{BackupDir: a.backupDir, Done: a.done, Err: err}
		}
		return res, err
	}
	// Verify after: the member restarts (raft in memory, deep verify),
	// holds the new HardState, and the appended entries are the donor's.
	if err := verifyRecovered(ctx, plan, want, st.heldAfter(plan)); err != nil {
		if rerr := a.putBackSegment(plan); rerr != nil {
			return res, &PartialError{BackupDir: a.backupDir, Done: 1, Err: errors.Join(err, rerr)}
		}
		return res, fmt.Errorf("recovered member failed verification, the old segment is back: %w", err)
	}
	res.Actions = append(res.Actions, plan.Actions...)
	res.HardState = plan.NewHardState
	res.BackupDir = a.backupDir
	if plan.AppendFrom != 0 {
		res.Appended = plan.AppendTo - plan.AppendFrom + 1
	}
	res.Steps = a.steps
	return res, nil
}

// sameRecoverPlan compares what a plan would change.
func sameRecoverPlan(a, b *RecoverPlan) error {
	return sameParts([]planPart{
		{"actions", a.Actions, b.Actions},
		{"files", a.Files, b.Files},
		{"HardState", a.NewHardState, b.NewHardState},
		{"donor", [3]any{a.Donor, a.AppendFrom, a.AppendTo}, [3]any{b.Donor, b.AppendFrom, b.AppendTo}},
		{"refusals", a.Refusals, b.Refusals},
	})
}

// hashEntries streams a replica's effective entries in [from, to] into a
// hash and counts them.
func hashEntries(ctx context.Context, r *inspect.Replica, from, to uint64, held map[string]*os.File) ([]byte, uint64, error) {
	segs, _, err := inspect.OpenGroup(r.Group)
	if err != nil {
		return nil, 0, err
	}
	segs = inspect.HoldSegments(segs, held)
	h := sha256.New()
	var n uint64
	next := from
	stop := errors.New("stop")
	err = inspect.EffectiveEntries(ctx, segs, r.Log(), func(e *inspect.Entry, _ *inspect.Record) error {
		if e.Index < from {
			return nil
		}
		if e.Index > to {
			return stop
		}
		if e.Index != next {
			return fmt.Errorf("%s: entry %d follows %d", r.Server, e.Index, next-1)
		}
		next++
		entryHash(h, e.Index, e.Term, int32(e.Type), e.Data)
		n++
		return nil
	})
	if err != nil && err != stop {
		return nil, 0, err
	}
	return h.Sum(nil), n, nil
}

// checkOverlap requires the member's and the donor's entries to be
// byte-identical wherever both hold them below AppendFrom, and returns
// the hash of the donor's entries AppendFrom..AppendTo.
func checkOverlap(ctx context.Context, st *recoverState, plan *RecoverPlan) ([]byte, error) {
	m, d := st.member, st.donor
	lo := max(firstEntry(m), firstEntry(d))
	hi := plan.AppendFrom - 1
	var mh, dh, want []byte
	var mn, dn, wn uint64
	eg, ectx := errgroup.WithContext(ctx)
	if lo <= hi {
		eg.Go(func() (err error) { mh, mn, err = hashEntries(ectx, m, lo, hi, st.held); return })
		eg.Go(func() (err error) { dh, dn, err = hashEntries(ectx, d, lo, hi, st.held); return })
	}
	eg.Go(func() (err error) {
		want, wn, err = hashEntries(ectx, d, plan.AppendFrom, plan.AppendTo, st.held)
		return
	})
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	if lo <= hi && (mn != dn || !bytes.Equal(mh, dh)) {
		return nil, fmt.Errorf("%s and %s hold the same indexes and terms %d..%d but not the same entry bytes: refusing to combine them", m.Server, d.Server, lo, hi)
	}
	if wn != plan.AppendTo-plan.AppendFrom+1 {
		return nil, fmt.Errorf("%s holds %d of the entries %d..%d", d.Server, wn, plan.AppendFrom, plan.AppendTo)
	}
	return want, nil
}

// firstEntry is the first index a replica holds as an entry.
func firstEntry(r *inspect.Replica) uint64 {
	if s := r.Snapshot; s != nil && s.Index >= r.FirstIndex {
		return s.Index + 1
	}
	return max(r.FirstIndex, 1)
}

// walCRCTable is the WAL's CRC (Castagnoli), chained across records.
var walCRCTable = crc32.MakeTable(crc32.Castagnoli)

// recordWriter frames records as etcd's WAL encoder does:
//
//	+----------------------------+--------------------------+---------+
//	| length word, uint64 LE:    | walpb.Record             | padding |
//	| low 56 bits data length,   | {1: type, 2: crc,        | to 8    |
//	| top byte 0x80|pad if pad>0 |  3: data}                | bytes   |
//	+----------------------------+--------------------------+---------+
//
// crc is the running CRC32-C of every record's data since the segment's
// first record (chained from the previous segment).
type recordWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

// The record types the recordWriter writes, numbered as etcd's wal package
// numbers them (walpb.Record.type).
const (
	entryType int64 = 2
	stateType int64 = 3
)

func (rw *recordWriter) write(typ int64, data []byte) error {
	rw.crc = crc32.Update(rw.crc, walCRCTable, data)
	b, err := proto.Marshal(&walpb.Record{Type: proto.Int64(typ), Crc: proto.Uint32(rw.crc), Data: data})
	if err != nil {
		return err
	}
	lenField := uint64(len(b))
	if pad := (8 - len(b)%8) % 8; pad != 0 {
		lenField |= uint64(0x80|pad) << 56
		b = append(b, make([]byte, pad)...)
	}
	var word [8]byte
	binary.LittleEndian.PutUint64(word[:], lenField)
	if _, err := rw.w.Write(word[:]); err != nil {
		return err
	}
	_, err = rw.w.Write(b)
	rw.n += int64(8 + len(b))
	return err
}

// recover backs up the member's last segment, writes its new version
// aside, records it in the manifest and renames it in.
func (a *applier) recover(plan *RecoverPlan, st *recoverState, res *RecoverResult) (err error) {
	defer func() {
		if err != nil && !a.changed {
			a.cleanup()
			a.backupDir = ""
		}
		res.BackupDir = a.backupDir
	}()
	if err := a.begin(); err != nil { // a.plan: OpRecover, the member, plan.Actions
		return err
	}
	if err := a.backup(); err != nil {
		return err
	}
	if err := a.listExisting(); err != nil {
		return err
	}
	act := plan.Actions[0]
	seg := act.Path
	fi, err := regularFile(seg)
	if err != nil {
		return err
	}
	if fi.Size() != act.Size {
		return &StaleError{Reason: seg + " changed size"}
	}
	rel, err := a.rel(seg)
	if err != nil {
		return err
	}
	own := a.manFile(rel)
	prevCRC, err := crcAt(a.ctx, st.member, act.Offset, st.held)
	if err != nil {
		return err
	}
	return a.replaceSegment(plan, st, res, fi.Mode().Perm(), own, prevCRC)
}

// replaceSegment writes the new version of the member's last segment
// aside (writeRecovered) with the old one's mode and owner, fsyncs it,
// records its hash in the manifest, and renames it over the old one.
// prevCRC is the running CRC at the plan's offset.
func (a *applier) replaceSegment(plan *RecoverPlan, st *recoverState, res *RecoverResult, perm os.FileMode, own *ManifestFile, prevCRC uint32) error {
	act := plan.Actions[0]
	seg := act.Path
	// Write the new segment aside.
	dir := filepath.Dir(seg)
	tmp := filepath.Join(dir, tempName(a.id, filepath.Base(seg)))
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		f.Close()
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if st.newSeg, err = a.lock.holdFile(tmp); err != nil {
		return err
	}
	n, err := writeRecovered(a.ctx, f, plan, st, prevCRC)
	if err != nil {
		return err
	}
	res.BytesWritten = n
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := chownLike(f, own); err != nil {
		return err
	}
	a.step()
	if err := f.Sync(); err != nil {
		return err
	}
	a.step()
	after, _, err := hashFile(tmp)
	if err != nil {
		return err
	}
	own.AfterSHA256 = after
	if err := a.writeManifest(); err != nil {
		return err
	}
	a.changed = true
	if err := os.Rename(tmp, seg); err != nil {
		return err
	}
	renamed = true
	a.step()
	if err := fsyncDir(dir); err != nil {
		return err
	}
	a.step()
	a.done = 1
	return nil
}

// writeRecovered writes the member's new last segment to f: the old
// segment's bytes up to the plan's offset, the donor's entries
// AppendFrom..AppendTo, the new HardState, then zeros to the old size (as
// a preallocated segment ends). It returns the bytes written before the
// zeros.
func writeRecovered(ctx context.Context, f *os.File, plan *RecoverPlan, st *recoverState, prevCRC uint32) (int64, error) {
	act := plan.Actions[0]
	in, _, done, err := openHeld(st.held, act.Path)
	if err != nil {
		return 0, err
	}
	_, err = io.CopyN(f, in, act.Offset)
	done()
	if err != nil {
		return 0, err
	}
	rw := &recordWriter{w: f, crc: prevCRC}
	if plan.AppendFrom != 0 {
		if err := appendEntries(ctx, rw, st.donor, plan.AppendFrom, plan.AppendTo, st.held); err != nil {
			return 0, err
		}
	}
	hs := &raftpb.HardState{Term: proto.Uint64(plan.NewHardState.Term), Vote: proto.Uint64(plan.NewHardState.Vote), Commit: proto.Uint64(plan.NewHardState.Commit)}
	hb, err := proto.Marshal(hs)
	if err != nil {
		return 0, err
	}
	if err := rw.write(stateType, hb); err != nil {
		return 0, err
	}
	// Zeros to the old size, as a preallocated segment ends.
	if end := act.Offset + rw.n; end < act.Size {
		if err := f.Truncate(act.Size); err != nil {
			return 0, err
		}
	}
	return act.Offset + rw.n, nil
}

// crcAt returns the running CRC after the member's last complete record,
// which must end at offset end of its last segment. It reads the last
// segment alone: its opening crc record carries the chain of the segments
// before it, which the plan's read of the whole log checked.
func crcAt(ctx context.Context, m *inspect.Replica, end int64, held map[string]*os.File) (uint32, error) {
	segs, _, err := inspect.OpenGroup(m.Group)
	if err != nil {
		return 0, err
	}
	if len(segs) == 0 {
		return 0, errors.New("the member has no segment")
	}
	l, err := inspect.ReadLog(ctx, inspect.HoldSegments(segs[len(segs)-1:], held))
	if err != nil {
		return 0, err
	}
	switch s := l.Segments[0]; {
	case l.Stop != nil:
		return 0, l.Stop
	case s.Records == 0:
		return 0, errors.New("the member's last segment holds no record")
	case s.End != end:
		return 0, &StaleError{Reason: fmt.Sprintf("the member's last segment ends at offset %d, not %d", s.End, end)}
	}
	return l.FinalCRC, nil
}

// appendEntries copies the donor's entry records from..to, byte for byte.
func appendEntries(ctx context.Context, rw *recordWriter, d *inspect.Replica, from, to uint64, held map[string]*os.File) error {
	segs, _, err := inspect.OpenGroup(d.Group)
	if err != nil {
		return err
	}
	segs = inspect.HoldSegments(segs, held)
	next := from
	stop := errors.New("stop")
	err = inspect.EffectiveEntries(ctx, segs, d.Log(), func(e *inspect.Entry, r *inspect.Record) error {
		if e.Index < from {
			return nil
		}
		if e.Index > to {
			return stop
		}
		if e.Index != next {
			return fmt.Errorf("%s: entry %d follows %d", d.Server, e.Index, next-1)
		}
		next++
		return rw.write(entryType, r.Data)
	})
	if err != nil && err != stop {
		return err
	}
	if next != to+1 {
		return fmt.Errorf("%s: copied entries %d..%d, want up to %d", d.Server, from, next-1, to)
	}
	return nil
}

// heldAfter is what the verify after the change reads through: the
// member's segments still locked, and the new last segment through the
// descriptor its lock holds (the old one, renamed over, is no longer in
// the group).
func (st *recoverState) heldAfter(plan *RecoverPlan) map[string]*os.File {
	held := maps.Clone(st.held)
	if st.newSeg != nil && len(plan.Actions) > 0 {
		held[plan.Actions[0].Path] = st.newSeg
	}
	return held
}

// verifyRecovered reads the member again, through held (heldAfter): no
// error finding (deep: raft restarts from it in memory), the new
// HardState, and the appended entries hash to what the donor holds.
func verifyRecovered(ctx context.Context, plan *RecoverPlan, want []byte, held map[string]*os.File) error {
	l, segs, err := verifyDeepAfter(ctx, plan.Group, "recover", held)
	if err != nil {
		return err
	}
	if l.HardState != plan.NewHardState {
		return fmt.Errorf("verify after recover: HardState %+v, want %+v", l.HardState, plan.NewHardState)
	}
	if plan.AppendFrom == 0 {
		return nil
	}
	got, n, err := hashEntriesOf(ctx, segs, l, plan.AppendFrom, plan.AppendTo)
	if err != nil {
		return err
	}
	if n != plan.AppendTo-plan.AppendFrom+1 || !bytes.Equal(got, want) {
		return fmt.Errorf("verify after recover: entries %d..%d are not the donor's", plan.AppendFrom, plan.AppendTo)
	}
	return nil
}

// hashEntriesOf is hashEntries over a log read separately, from segs.
func hashEntriesOf(ctx context.Context, segs []inspect.Segment, l *inspect.Log, from, to uint64) ([]byte, uint64, error) {
	var h hash.Hash = sha256.New()
	var n uint64
	stop := errors.New("stop")
	err := inspect.EffectiveEntries(ctx, segs, l, func(e *inspect.Entry, _ *inspect.Record) error {
		if e.Index < from {
			return nil
		}
		if e.Index > to {
			return stop
		}
		entryHash(h, e.Index, e.Term, int32(e.Type), e.Data)
		n++
		return nil
	})
	if err != nil && err != stop {
		return nil, 0, err
	}
	return h.Sum(nil), n, nil
}

// putBackSegment restores the member's last segment from the backup.
func (a *applier) putBackSegment(plan *RecoverPlan) error {
	seg := plan.Actions[0].Path
	rel, err := a.rel(seg)
	if err != nil {
		return err
	}
	orig := a.manFile(rel)
	if orig == nil {
		return fmt.Errorf("%s is not in the backup", seg)
	}
	mode, err := orig.perm()
	if err != nil {
		return err
	}
	src := filepath.Join(a.backupDir, filepath.FromSlash(rel))
	return writeAside(a.id+"-restore", seg, mode, orig, a.lock, a.step, func(f *os.File) error {
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(f, in)
		return err
	})
}
