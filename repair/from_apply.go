package repair

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
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

// ApplyRepairFrom runs a repair --from plan under the safety protocol of
// the package: it locks the member and the donor, plans again (a
// *StaleError when the result differs), checks that every entry the member
// can read up to CopyTo is the donor's byte for byte, copies every segment
// of the member into the backup directory with a manifest, writes the new
// WAL into a hidden sibling of the WAL directory with etcd's wal package
// (metadata, snapshot record, the donor's entry records as they are, the
// member's own entries after CopyTo, the member's HardState), reads it back
// with etcd's ReadAll, swaps the two directories in one exchange and
// removes the old segments (they are in the backup). It then verifies the
// member (deep: raft restarts from it in memory; its HardState; every
// entry's bytes); when that fails the backup is restored.
//
// A plan with refusals returns ErrRefused; a dry run changes nothing.
func ApplyRepairFrom(ctx context.Context, plan *FromPlan, opts ApplyOptions) (*Result, error) {
	res := &Result{SchemaVersion: SchemaVersion, Operation: OpRepairFrom, Group: plan.Group, DryRun: opts.DryRun,
		Actions: []Action{}, Refusals: plan.Refusals, Notes: append([]string(nil), plan.Notes...)}
	if res.Refusals == nil {
		res.Refusals = []Refusal{}
	}
	if len(plan.Refusals) > 0 {
		return nil, ErrRefused
	}
	if opts.DryRun {
		res.Actions = append(res.Actions, plan.Actions...)
		res.BytesReclaimed = plan.BytesReclaimed()
		return res, nil
	}
	if plan.Empty() {
		return res, nil
	}
	ml, err := LockGroup(plan.Group)
	if err != nil {
		return nil, err
	}
	defer ml.Release()
	dl, err := LockGroup(plan.Donor)
	if err != nil {
		return nil, err
	}
	defer dl.Release()
	fresh, st, err := planFrom(ctx, plan.Group, plan.Donor, heldOf([]*GroupLock{ml, dl}))
	if err != nil {
		return nil, err
	}
	if err := sameFromPlan(plan, fresh); err != nil {
		return nil, err
	}
	res, _, err = applyFromLocked(ctx, plan, st, opts, ml, dl)
	return res, err
}

// applyFromLocked applies a plan made under ml and dl (the member's and
// the donor's locks) from st, what was read through their descriptors:
// the comparison with the donor, the backup, the new WAL, the swap, and
// the verify after it, which reads the new segments through the
// descriptors that lock them; after maps their paths in the WAL
// directory to those descriptors (nil when nothing was swapped in).
func applyFromLocked(ctx context.Context, plan *FromPlan, st *fromState, opts ApplyOptions, ml, dl *GroupLock) (res *Result, after map[string]*os.File, err error) {
	res = &Result{SchemaVersion: SchemaVersion, Operation: OpRepairFrom, Group: plan.Group,
		Actions: []Action{}, Refusals: []Refusal{}, Notes: append([]string(nil), plan.Notes...)}
	var want []byte
	if err := compareWithDonor(ctx, plan, st, &want); err != nil {
		return nil, nil, err
	}
	a := &applier{ctx: ctx, plan: &plan.Plan, opts: opts, lock: ml, res: res}
	if err := a.runFrom(plan, st); err != nil {
		return res, nil, err
	}
	if err := verifyFrom(ctx, plan, st.sum, st.after); err != nil {
		// Put the member back as it was: Restore takes the locks itself.
		ml.Release()
		dl.Release()
		if _, rerr := Restore(ctx, a.backupDir); rerr != nil {
			return res, nil, &PartialError{BackupDir: a.backupDir, Done: a.done, Err: errors.Join(err, rerr)}
		}
		res.Actions = []Action{}
		return res, nil, fmt.Errorf("the rewritten WAL failed verification and the member was restored from %s: %w", a.backupDir, err)
	}
	if !bytes.Equal(want, st.donorSum) {
		return res, st.after, &PartialError{BackupDir: a.backupDir, Done: a.done, Err: errors.New("the entries written are not the ones compared with the member")}
	}
	return res, st.after, nil
}

// sameFromPlan compares what two plans would change.
func sameFromPlan(a, b *FromPlan) error {
	return sameParts([]planPart{
		{"actions", a.Actions, b.Actions},
		{"files", a.Files, b.Files},
		{"refusals", a.Refusals, b.Refusals},
		{"entries", [4]any{a.Snapshot, a.HardState, a.CopyTo, a.LastIndex}, [4]any{b.Snapshot, b.HardState, b.CopyTo, b.LastIndex}},
	})
}

// runFrom backs the member's WAL up, writes the new one aside, records
// both in the manifest and swaps it in.
func (a *applier) runFrom(p *FromPlan, st *fromState) (err error) {
	defer func() {
		if err != nil && !a.changed {
			a.cleanup()
			a.res.BackupDir = ""
		}
		if err != nil && a.changed {
			err = &PartialError{BackupDir: a.backupDir, Done: a.done, Err: err}
		}
	}()
	if err := a.begin(); err != nil { // a.plan is &p.Plan
		return err
	}
	a.res.BackupDir = a.backupDir
	if err := a.backup(); err != nil {
		return err
	}
	if err := a.prepareFrom(p, st); err != nil {
		return err
	}
	if err := a.created(); err != nil {
		return err
	}
	if err := a.listExisting(); err != nil {
		return err
	}
	if err := a.writeManifest(); err != nil {
		return err
	}
	if err := a.ctx.Err(); err != nil {
		return err
	}
	// The WAL first, then the .snap files it leaves without a record.
	for _, act := range p.Actions {
		if err := a.act(act); err != nil {
			return fmt.Errorf("%s %s: %w", act.Kind, act.Path, err)
		}
		a.done++
		a.res.Actions = append(a.res.Actions, act)
	}
	return nil
}

// prepareFrom writes the new WAL into a hidden sibling of the WAL
// directory, checks it with etcd's reader, gives it the old directory's
// owner and modes, and locks its segments.
func (a *applier) prepareFrom(p *FromPlan, st *fromState) error {
	walDir := p.Actions[0].Path
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
	if err := a.writeFromWAL(rs.stage, p, st); err != nil {
		return err
	}
	a.step()
	if err := renameNewSegments(rs.stage, st.segs, p.Snapshot.Index); err != nil {
		return err
	}
	if err := checkFromWAL(rs.stage, p, st.meta); err != nil {
		return err
	}
	if err := a.adoptStage(rs, walDir, st.segs); err != nil {
		return err
	}
	// After the swap the new segments are in the WAL directory, under
	// their names, still locked through the descriptors adoptStage holds.
	ents, err := os.ReadDir(rs.stage)
	if err != nil {
		return err
	}
	st.after = map[string]*os.File{}
	for _, e := range ents {
		if f := a.lock.heldByName(filepath.Join(rs.stage, e.Name())); f != nil {
			st.after[filepath.Join(walDir, e.Name())] = f
		}
	}
	return nil
}

// heldByName returns the descriptor the lock holds for path, opened under
// that name (hold, holdFile), or nil.
func (l *GroupLock) heldByName(path string) *os.File {
	for k := len(l.files) - 1; k >= 0; k-- {
		if l.files[k].Name() == path {
			return l.files[k]
		}
	}
	return nil
}

// writeFromWAL writes the new WAL into dir: the member's metadata, its
// snapshot record, the donor's entries Snapshot+1..CopyTo, the member's
// own entries CopyTo+1..LastIndex, and the member's HardState. Segments
// are as large as the member's last one.
func (a *applier) writeFromWAL(dir string, p *FromPlan, st *fromState) (err error) {
	ctx := a.ctx
	s, e := p.Snapshot.Index, p.CopyTo
	snapFile := ""
	if s > 0 {
		snapFile = st.snapFi
	}
	cs, err := st.snap.RaftConfState(snapFile)
	if err != nil {
		return err
	}
	segSize := st.segs[len(st.segs)-1].Size
	if segSize < 4096 {
		segSize = 0 // keep the current size
	}
	defer durable.LockSegmentSize(segSize)()
	w, err := wal.Create(zap.NewNop(), dir, st.meta)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			w.Close()
		}
	}()
	if s > 0 {
		if err := w.SaveSnapshot(&walpb.Snapshot{Index: proto.Uint64(s), Term: proto.Uint64(p.Snapshot.Term), ConfState: cs}); err != nil {
			return err
		}
	}
	hs := &raftpb.HardState{Term: proto.Uint64(p.HardState.Term), Vote: proto.Uint64(p.HardState.Vote), Commit: proto.Uint64(p.HardState.Commit)}
	b := &entryBatcher{w: w, hs: hs, all: sha256.New(), donor: sha256.New(), next: s + 1}
	if e > s {
		if err := copyDonorEntries(ctx, b, p, st); err != nil {
			return err
		}
	}
	if p.LastIndex > e {
		if err := copyOwnEntries(ctx, b, p, st); err != nil {
			return err
		}
	}
	if err := w.Save(hs, b.batch); err != nil {
		return err
	}
	closed = true
	if err := w.Close(); err != nil {
		return err
	}
	st.sum, st.donorSum = b.all.Sum(nil), b.donor.Sum(nil)
	return nil
}

// entryBatcher saves entries to a new WAL in index order, with the
// HardState, in batches of about rewriteBatchBytes; it hashes every
// record into all, and those from the donor into donor as well. next is
// the index the next entry must have.
type entryBatcher struct {
	w          *wal.WAL
	hs         *raftpb.HardState
	all, donor hash.Hash
	batch      []*raftpb.Entry
	batchBytes int
	next       uint64
}

// add appends one entry to the batch, hashing its record into all and
// into from (when set), and saves the batch once it is large enough.
func (b *entryBatcher) add(ie *inspect.Entry, r *inspect.Record, from hash.Hash) error {
	if ie.Index != b.next {
		return fmt.Errorf("entry %d follows %d", ie.Index, b.next-1)
	}
	b.next++
	pe, err := r.RaftEntry()
	if err != nil {
		return fmt.Errorf("entry %d: %w", ie.Index, err)
	}
	b.all.Write(r.Data)
	if from != nil {
		from.Write(r.Data)
	}
	b.batch = append(b.batch, pe)
	b.batchBytes += len(r.Data)
	if b.batchBytes >= rewriteBatchBytes {
		if err := b.w.Save(b.hs, b.batch); err != nil {
			return err
		}
		b.batch, b.batchBytes = b.batch[:0], 0
	}
	return nil
}

// copyDonorEntries adds the donor's entries Snapshot+1..CopyTo, failing
// when the donor's log does not hold every one of them.
func copyDonorEntries(ctx context.Context, b *entryBatcher, p *FromPlan, st *fromState) error {
	s, e := p.Snapshot.Index, p.CopyTo
	stop := errors.New("stop")
	err := inspect.EffectiveEntries(ctx, st.dsegs, st.donor, func(ie *inspect.Entry, r *inspect.Record) error {
		if ie.Index <= s {
			return nil
		}
		if ie.Index > e {
			return stop
		}
		return b.add(ie, r, b.donor)
	})
	if err != nil && err != stop {
		return fmt.Errorf("%s: %w", p.Donor.Dir, err)
	}
	if b.next != e+1 {
		return fmt.Errorf("%s: copied entries %d..%d, want up to %d", p.Donor.Dir, s+1, b.next-1, e)
	}
	return nil
}

// copyOwnEntries adds the member's own entries CopyTo+1..LastIndex from
// the last part of its log, failing when they do not all follow.
func copyOwnEntries(ctx context.Context, b *entryBatcher, p *FromPlan, st *fromState) error {
	e := p.CopyTo
	last := st.parts[len(st.parts)-1]
	err := inspect.EffectiveEntries(ctx, last.segs, last.log, func(ie *inspect.Entry, r *inspect.Record) error {
		if ie.Index <= e {
			return nil
		}
		return b.add(ie, r, nil)
	})
	if err != nil {
		return err
	}
	if b.next != p.LastIndex+1 {
		return fmt.Errorf("the member's own entries %d..%d end at %d", e+1, p.LastIndex, b.next-1)
	}
	return nil
}

// checkFromWAL reads the new WAL with etcd's reader from the snapshot.
func checkFromWAL(dir string, p *FromPlan, meta []byte) error {
	w, err := wal.OpenForRead(zap.NewNop(), dir, &walpb.Snapshot{Index: proto.Uint64(p.Snapshot.Index), Term: proto.Uint64(p.Snapshot.Term)})
	if err != nil {
		return fmt.Errorf("rewritten WAL: %w", err)
	}
	md, hs, ents, err := w.ReadAll()
	w.Close()
	if err != nil {
		return fmt.Errorf("rewritten WAL: etcd's ReadAll: %w", err)
	}
	switch {
	case !bytes.Equal(md, meta):
		return errors.New("rewritten WAL: metadata differs")
	case hs.GetTerm() != p.HardState.Term || hs.GetVote() != p.HardState.Vote || hs.GetCommit() != p.HardState.Commit:
		return errors.New("rewritten WAL: HardState differs")
	case uint64(len(ents)) != p.LastIndex-p.Snapshot.Index:
		return fmt.Errorf("rewritten WAL: etcd reads %d entries, not %d", len(ents), p.LastIndex-p.Snapshot.Index)
	}
	return nil
}

// verifyFrom reads the member again: no error finding (deep: raft restarts
// from it in memory), its HardState, and every entry's record bytes.
func verifyFrom(ctx context.Context, p *FromPlan, sum []byte, held map[string]*os.File) error {
	l, segs, err := verifyDeepAfter(ctx, p.Group, "repair --from", held)
	if err != nil {
		return err
	}
	if l.HardState != p.HardState || l.LastIndex != p.LastIndex {
		return fmt.Errorf("verify after repair --from: HardState %+v and last index %d, want %+v and %d", l.HardState, l.LastIndex, p.HardState, p.LastIndex)
	}
	h := sha256.New()
	var n uint64
	err = inspect.EffectiveEntries(ctx, segs, l, func(e *inspect.Entry, r *inspect.Record) error {
		if e.Index <= p.Snapshot.Index {
			return nil
		}
		h.Write(r.Data)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n != p.LastIndex-p.Snapshot.Index || !bytes.Equal(h.Sum(nil), sum) {
		return fmt.Errorf("verify after repair --from: the %d entries read back are not the ones written", n)
	}
	return nil
}
