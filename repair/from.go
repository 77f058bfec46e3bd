package repair

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/raftctl/raftctl/inspect"
)

// OpRepairFrom is the operation of raftctl repair --from: a member's WAL
// rewritten from its snapshot with a replica's committed entries.
const OpRepairFrom Operation = "repair-from"

// Refusal codes of repair --from.
const (
	// CodeFromUnprovable: the replica does not prove the entries the
	// member lost (see the message).
	CodeFromUnprovable = "replica-does-not-prove"
	// CodeFromConflict: the member and the replica hold different entries
	// where both can be read.
	CodeFromConflict = "replica-conflict"
	// CodeFromCannot: the member cannot be rewritten from a replica (see
	// the message).
	CodeFromCannot = "cannot-repair-from"
)

// adviceFrom is what to do when repair --from refuses.
const adviceFrom = "try another replica (--from), or remove the member from the cluster and add it back empty so that it re-syncs from the leader (etcd: etcdctl member remove / member add)"

// FromPlan is what raftctl repair --from would do to one member: replace
// its WAL directory with one written by etcd's wal package that holds the
// member's metadata, its snapshot record, the replica's entries
// Snapshot.Index+1..CopyTo, then the member's own entries CopyTo+1..LastIndex,
// and the member's own HardState.
type FromPlan struct {
	Plan
	// Donor is the replica the entries come from.
	Donor inspect.Group `json:"donor"`
	// Damage says where the member's log cannot be read.
	Damage []string `json:"damage"`
	// Snapshot is the member's snapshot the new WAL starts at.
	Snapshot inspect.SnapRef `json:"snapshot"`
	// HardState is the member's newest HardState, kept.
	HardState inspect.HardState `json:"hard_state"`
	// ProvenCommit is the highest index the donor's entries are proven
	// committed to: the donor's HardState commit, or the member's own
	// when both logs hold the same term there (log matching).
	ProvenCommit uint64 `json:"proven_commit"`
	// CopyTo is the last entry copied from the donor; LastIndex the
	// member's last index (its own entries follow CopyTo up to it).
	CopyTo    uint64 `json:"copy_to"`
	LastIndex uint64 `json:"last_index"`
}

// logPart is a stretch of segments read in one ReadLog pass: a damaged log
// is read again from the segment after each decode error (whose crc record
// starts the CRC chain afresh), as Verify does.
type logPart struct {
	first int
	segs  []inspect.Segment
	log   *inspect.Log
	// upTo is the last index this part's entries count for: a later part
	// that starts lower replaces them (0: no limit).
	upTo uint64
	// resumed is set for a part that starts past damage inside the last
	// segment (inspect.ResumeAfterDamage); segs is then that segment.
	resumed *inspect.Resumed
	// damage describes where this part stopped when another part follows
	// it ("" for the last part).
	damage string
}

// fromState is what planFrom read.
type fromState struct {
	segs   []inspect.Segment
	parts  []logPart
	donor  *inspect.Log
	dsegs  []inspect.Segment
	snap   inspect.SnapshotRecordAt
	snapFi string
	meta   []byte
	// sum hashes the record data of every entry the new WAL holds,
	// donorSum those copied from the donor (set by writeFromWAL).
	sum, donorSum []byte
	// after maps the new segments' paths in the WAL directory to the
	// descriptors that lock them (set by prepareFrom).
	after map[string]*os.File
}

// readParts reads a WAL in parts, resuming after every decode error: at
// the next segment, whose crc record starts the CRC chain afresh, and in
// the last segment at the first records after the damage whose CRC can be
// checked (inspect.ResumeAfterDamage). end is the damage that ends the
// last part when no checkable record follows it (nil when the log ends as
// the writer leaves it).
func readParts(ctx context.Context, g inspect.Group, segs []inspect.Segment) (parts []logPart, end *inspect.Finding, err error) {
	for start := 0; start < len(segs); {
		l, err := inspect.ReadLog(ctx, segs[start:])
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, logPart{first: start, segs: segs[start:], log: l})
		st := l.Stop
		if st == nil {
			break
		}
		if st.Kind == inspect.KindIO {
			return nil, nil, st
		}
		parts[len(parts)-1].damage = stopText(st)
		abs := start + st.Segment
		if st.Kind == inspect.KindCRCChain && st.Offset == 0 && abs > start {
			// Segment abs does not continue the chain (one before it is
			// missing or was cut short): read on from it.
			start = abs
			continue
		}
		if abs == len(segs)-1 {
			break
		}
		start = abs + 1
	}
	// Damage inside the last segment: read on past it, as often as it
	// recurs (each pass starts further into the segment).
	for {
		lp := &parts[len(parts)-1]
		if lp.first+len(lp.log.Segments) != len(segs) {
			break
		}
		r, f, err := inspect.ResumeAfterDamage(ctx, g, lp.log)
		if err != nil {
			return nil, nil, err
		}
		if r == nil {
			end = f
			break
		}
		if lp.resumed != nil && r.Offset <= lp.resumed.Offset {
			return nil, nil, fmt.Errorf("%s: reading past the damage at offset %d did not advance", r.Segment.Path, r.Damage)
		}
		how := "a scan for records"
		if r.Framed {
			how = "the damaged record's length word"
		}
		lp.damage = fmt.Sprintf("%s offset %d: %s (%s); records found again at offset %d by %s, read from offset %d", filepath.Base(f.File), f.Offset, f.Code, f.Message, r.Found, how, r.Offset)
		parts = append(parts, logPart{first: len(segs) - 1, segs: []inspect.Segment{r.Segment}, log: r.Log, resumed: r})
		if r.Log.Stop != nil && r.Log.Stop.Kind == inspect.KindIO {
			return nil, nil, r.Log.Stop
		}
	}
	// A later part whose entries start lower replaces the earlier ones
	// from there on, as a leader's append would have.
	for k := range parts {
		for j := k + 1; j < len(parts); j++ {
			if f := parts[j].log.FirstIndex; f != 0 && (parts[k].upTo == 0 || f-1 < parts[k].upTo) {
				parts[k].upTo = f - 1
			}
		}
	}
	return parts, end, nil
}

// stopText describes the decode error that ended a pass.
func stopText(s *inspect.DecodeError) string {
	return fmt.Sprintf("%s offset %d: %s (%s)", s.Path, s.Offset, s.Kind, s.Msg)
}

// cleanEnd reports whether a pass read its segments to their end (a torn
// last record of the last segment is how a crash during an append ends).
func cleanEnd(l *inspect.Log) bool {
	return l.Stop == nil || (l.Stop.Kind == inspect.KindTorn && l.Stop.Segment == len(l.Segments)-1)
}

// termAt is the member's term at index i: the last part that holds it.
func termAt(parts []logPart, i uint64) (uint64, bool) {
	for k := len(parts) - 1; k >= 0; k-- {
		p := parts[k]
		if p.upTo != 0 && i > p.upTo {
			continue
		}
		if t, ok := p.log.TermAt(i); ok {
			return t, true
		}
	}
	return 0, false
}

// PlanRepairFrom locks the member and the donor (refusing a live WAL with
// *LockedError), reads both, and plans to rewrite the member's WAL from
// its snapshot with the donor's entries when the member's log is damaged
// in its middle (a CRC mismatch, a zeroed region, a missing or truncated
// segment) and the donor proves the entries:
//
//   - the member's newest HardState can be read, and is kept: damage in
//     the last segment is read past when a run of records follows it
//     whose CRCs can be checked (inspect.ResumeAfterDamage); the
//     HardState found there must agree with the member's earlier
//     HardStates and entries (term and commit never fall, the vote
//     changes only with the term) and with the replica (the entry at its
//     commit has the same term in both logs). A torn tail at the end of
//     the log is plain repair's, and damage that no checkable record
//     follows is refused: the newest HardState may be in it;
//   - the member has a usable snapshot (a .snap file that decodes, is
//     recorded in a readable part of its WAL, at or below its commit), or
//     a WAL that starts at index 0; the donor's log starts at or below it;
//   - the donor's log reads to its end, belongs to the same cluster, and
//     its entries up to CopyTo are proven committed: CopyTo is at most the
//     donor's HardState commit, or the member's commit where both logs
//     hold the same term (Raft's log matching property);
//   - every entry the member can still read up to CopyTo has the same
//     index, term and bytes in the donor (checked again when applying);
//   - the member's entries after CopyTo, if any, are all readable.
//
// The plan changes nothing; its locks are released before it returns.
func PlanRepairFrom(ctx context.Context, member, donor inspect.Group) (*FromPlan, error) {
	ml, err := LockGroup(member)
	if err != nil {
		return nil, err
	}
	defer ml.Release()
	dl, err := LockGroup(donor)
	if err != nil {
		return nil, err
	}
	defer dl.Release()
	p, _, err := planFromLocked(ctx, member, donor, heldOf([]*GroupLock{ml, dl}))
	return p, err
}

// planFromLocked is PlanRepairFrom under the locks whose descriptors are
// held: planFrom, then the comparison with the donor (a conflict is a
// refusal). The state is nil when the plan refuses.
func planFromLocked(ctx context.Context, member, donor inspect.Group, held map[string]*os.File) (*FromPlan, *fromState, error) {
	p, st, err := planFrom(ctx, member, donor, held)
	if err != nil {
		return nil, nil, err
	}
	if len(p.Refusals) == 0 && !p.Empty() {
		if err := compareWithDonor(ctx, p, st, nil); err != nil {
			var ce *conflictError
			if !errors.As(err, &ce) {
				return nil, nil, err
			}
			p.refuseWith(CodeFromConflict, member.WALDir, adviceFrom, "%v", err)
			p.Actions, p.Files = []Action{}, []FileState{}
			st = nil
		}
	}
	return p, st, nil
}

// planFrom plans repair --from under the locks its caller holds, in the
// order the checks must run (each step refuses what it cannot prove, and
// the plan keeps what the steps before the refusal found): the member's
// log in parts, its newest HardState, the donor, the member's snapshot,
// the range the donor proves, and the swap of the WAL directory. The
// state is nil when the plan refuses. Segments found in held (the locks'
// descriptors, by path) are read through them: the member's and the
// donor's logs, the pins' hashes, and later the comparison, the backup and
// the copy of the entries.
func planFrom(ctx context.Context, member, donor inspect.Group, held map[string]*os.File) (*FromPlan, *fromState, error) {
	b := &fromPlanner{member: member, held: held, p: &FromPlan{Plan: Plan{SchemaVersion: SchemaVersion, Operation: OpRepairFrom, Group: member,
		Actions: []Action{}, Refusals: []Refusal{}, Files: []FileState{}}, Donor: donor, Damage: []string{}}}
	if sameDir(member.WALDir, donor.WALDir) || sameDir(member.Dir, donor.Dir) {
		return nil, nil, errors.New("the replica is the member itself")
	}
	if done, err := b.readMember(ctx); done || err != nil {
		return b.result(err)
	}
	if done, err := b.memberHardState(); done || err != nil {
		return b.result(err)
	}
	if done, err := b.readDonor(ctx); done || err != nil {
		return b.result(err)
	}
	if done, err := b.memberSnapshot(); done || err != nil {
		return b.result(err)
	}
	if done, err := b.copyRange(); done || err != nil {
		return b.result(err)
	}
	if done, err := b.swapAction(); done || err != nil {
		return b.result(err)
	}
	return b.result(nil)
}

// fromPlanner is planFrom's work in progress: the plan, what was read,
// and the member's last part. Each step returns done when the plan is
// final (refused, or nothing to do) or an error that ends planning.
type fromPlanner struct {
	member inspect.Group
	held   map[string]*os.File
	p      *FromPlan
	st     *fromState
	// last is the member's last part (parts[len(parts)-1]).
	last    logPart
	refused bool
}

// refuse adds a refusal of repair --from to the plan and ends planning.
func (b *fromPlanner) refuse(code, format string, args ...any) (bool, error) {
	b.p.refuseWith(code, b.member.WALDir, adviceFrom, format, args...)
	b.refused = true
	return true, nil
}

// result is planFrom's return: the error alone, the plan without state
// when it refuses, or the plan and what was read.
func (b *fromPlanner) result(err error) (*FromPlan, *fromState, error) {
	switch {
	case err != nil:
		return nil, nil, err
	case b.refused:
		return b.p, nil, nil
	}
	return b.p, b.st, nil
}

// readMember reads the member's WAL in parts and records the damage
// between them; it refuses damage at the end of the log that hides the
// newest HardState, and is done when the log reads to its end (nothing to
// repair from a replica).
func (b *fromPlanner) readMember(ctx context.Context) (bool, error) {
	p := b.p
	segs, _, err := inspect.OpenGroup(b.member)
	if err != nil {
		return false, err
	}
	segs = inspect.HoldSegments(segs, b.held)
	if len(segs) == 0 {
		return b.refuse(CodeFromCannot, "the member has no WAL segment")
	}
	parts, endDamage, err := readParts(ctx, b.member, segs)
	if err != nil {
		return false, err
	}
	b.st = &fromState{segs: segs, parts: parts}
	b.last = parts[len(parts)-1]
	last := b.last
	for _, pt := range parts[:len(parts)-1] {
		p.Damage = append(p.Damage, pt.damage)
	}
	if endDamage != nil {
		p.Damage = append(p.Damage, fmt.Sprintf("%s offset %d: %s (%s)", filepath.Base(endDamage.File), endDamage.Offset, endDamage.Code, endDamage.Message))
		return b.refuse(CodeFromCannot, "the member's last segment is damaged at %s offset %d (%s) and no run of records whose CRC can be checked follows it: the newest HardState, which a rewrite must keep, may be in the damaged bytes", filepath.Base(endDamage.File), endDamage.Offset, endDamage.Code)
	}
	if !cleanEnd(last.log) {
		s := last.log.Stop
		p.Damage = append(p.Damage, stopText(s))
		return b.refuse(CodeFromCannot, "the member's last segment is damaged (%s offset %d: %s): the newest HardState, which a rewrite must keep, cannot be read past it", filepath.Base(s.Path), s.Offset, s.Kind)
	}
	for _, d := range p.Damage {
		p.note("damage: %s", d)
	}
	if len(parts) == 1 {
		p.note("the member's log reads to its end: nothing to repair from a replica (raftctl repair mends the rest)")
		return true, nil
	}
	return false, nil
}

// memberHardState takes the member's newest HardState, metadata and last
// index from its parts; it refuses a HardState read past damage that
// cannot be the newest, metadata records that differ, and a last index
// that the damage may hide.
func (b *fromPlanner) memberHardState() (bool, error) {
	p, st, last := b.p, b.st, b.last
	parts := st.parts
	if !last.log.HasHardState {
		return b.refuse(CodeFromCannot, "no HardState follows the damage: the member's newest HardState cannot be read")
	}
	hs := last.log.HardState
	p.HardState = hs
	if last.resumed != nil {
		if why := resumedHardStateDoubt(parts, hs); why != "" {
			return b.refuse(CodeFromCannot, "the HardState read past the damage in the last segment (term %d, vote %d, commit %d) cannot be the member's newest: %s", hs.Term, hs.Vote, hs.Commit, why)
		}
		p.note("the member's newest HardState (term %d, vote %d, commit %d) was read past the damage in its last segment, at or after offset %d, in a run of records each checked by the CRC of the one before it", hs.Term, hs.Vote, hs.Commit, last.resumed.Offset)
	}
	st.meta = parts[0].log.Metadata
	for _, pt := range parts {
		if pt.log.MetadataConflict || (len(pt.log.Metadata) > 0 && string(pt.log.Metadata) != string(st.meta)) {
			return b.refuse(CodeFromCannot, "the member's metadata records differ")
		}
	}
	// The member's last index is the last part's.
	p.LastIndex = last.log.LastIndex
	if last.resumed != nil && last.log.FirstIndex == 0 {
		// Entries written into the damaged bytes after the last entry read
		// before them are unknown: the member may have acknowledged them.
		before := uint64(0)
		for _, pt := range parts[:len(parts)-1] {
			before = max(before, pt.log.LastIndex)
		}
		return b.refuse(CodeFromCannot, "no entry record can be read after the damage at %s offset %d in the member's last segment, only other records: the damaged bytes may have held entries after index %d that the member acknowledged, so its last index is unknown", filepath.Base(last.resumed.Segment.Path), last.resumed.Damage, before)
	}
	return false, nil
}

// readDonor reads the donor's log to its end; it refuses a damaged donor,
// one without a HardState, and one of another cluster.
func (b *fromPlanner) readDonor(ctx context.Context) (bool, error) {
	st := b.st
	dsegs, _, err := inspect.OpenGroup(b.p.Donor)
	if err != nil {
		return false, err
	}
	dsegs = inspect.HoldSegments(dsegs, b.held)
	dlog, err := inspect.ReadLog(ctx, dsegs)
	if err != nil {
		return false, err
	}
	if dlog.Stop != nil && dlog.Stop.Kind == inspect.KindIO {
		return false, dlog.Stop
	}
	st.donor, st.dsegs = dlog, dsegs
	if !cleanEnd(dlog) {
		return b.refuse(CodeFromUnprovable, "the replica's own log is damaged (%s offset %d: %s)", dlog.Stop.Path, dlog.Stop.Offset, dlog.Stop.Kind)
	}
	if !dlog.HasHardState {
		return b.refuse(CodeFromUnprovable, "the replica's WAL holds no HardState")
	}
	mm, dm := inspect.ParseMetadata(st.meta), inspect.ParseMetadata(dlog.Metadata)
	if mm.OK && dm.OK && mm.ClusterID != dm.ClusterID {
		return b.refuse(CodeFromUnprovable, "the replica belongs to cluster %s, the member to cluster %s", inspect.FormatID(dm.ClusterID), inspect.FormatID(mm.ClusterID))
	}
	if mm.OK != dm.OK {
		return b.refuse(CodeFromUnprovable, "only one of the member and the replica has etcd metadata: they are not replicas of one group")
	}
	return false, nil
}

// memberSnapshot chooses the member's snapshot the new WAL starts at (the
// first usable .snap file recorded in a readable part of its WAL, or none
// when the WAL starts at index 0); it refuses when there is none, or when
// the donor does not hold it and the entry after it.
func (b *fromPlanner) memberSnapshot() (bool, error) {
	p, st := b.p, b.st
	hs, dlog := p.HardState, st.donor
	snaps, err := inspect.ListSnapFiles(b.member.SnapDir)
	if err != nil {
		return false, err
	}
	found := false
	for _, sf := range snaps {
		if !sf.OK || sf.Index == 0 || sf.Index > hs.Commit || sf.Index != sf.NameIndex || sf.Term != sf.NameTerm {
			continue
		}
		for _, pt := range st.parts {
			for _, r := range pt.log.Snapshots {
				if r.Index == sf.Index && r.Term == sf.Term && !found {
					st.snap, st.snapFi, found = r, sf.Path, true
				}
			}
		}
		if found {
			break
		}
	}
	if !found {
		if st.segs[0].Seq != 0 || st.segs[0].Index != 0 {
			return b.refuse(CodeFromCannot, "the member has no usable snapshot (a .snap file recorded in a readable part of its WAL, at or below its commit %d) and its WAL does not start at index 0", hs.Commit)
		}
		st.snap = inspect.SnapshotRecordAt{}
	}
	s := st.snap.Index
	p.Snapshot = inspect.SnapRef{Index: s, Term: st.snap.Term}
	if t, ok := dlog.TermAt(s); s > 0 && (!ok || t != st.snap.Term) {
		if ds, ok := dlog.LatestSnapshot(); ok && ds.Index > s {
			return b.refuse(CodeFromUnprovable, "the replica's log starts after the member's snapshot (replica snapshot %d, member snapshot %d)", ds.Index, s)
		}
		return b.refuse(CodeFromUnprovable, "the replica does not hold the member's snapshot index %d at term %d", s, st.snap.Term)
	}
	if f := dlog.FirstIndex; s+1 <= dlog.LastIndex && (f == 0 || f > s+1) {
		if _, ok := dlog.TermAt(s + 1); !ok {
			return b.refuse(CodeFromUnprovable, "the replica's log does not hold entry %d, the first after the member's snapshot", s+1)
		}
	}
	return false, nil
}

// copyRange sets what the donor proves committed (ProvenCommit) and the
// last entry to copy from it (CopyTo); it refuses when the member's own
// HardState, its unreadable entries or its entries after CopyTo do not fit
// that range.
func (b *fromPlanner) copyRange() (bool, error) {
	p, parts, dlog := b.p, b.st.parts, b.st.donor
	hs, s, lm := p.HardState, p.Snapshot.Index, p.LastIndex
	proven := uint64(0)
	if _, ok := dlog.TermAt(dlog.HardState.Commit); ok {
		proven = dlog.HardState.Commit
	}
	if mt, ok := termAt(parts, hs.Commit); ok && hs.Commit > proven {
		if dt, ok := dlog.TermAt(hs.Commit); ok && dt == mt {
			proven = hs.Commit
		}
	}
	p.ProvenCommit = proven
	if b.last.resumed != nil && hs.Commit > s {
		// The HardState read past the damage names a committed entry: the
		// replica must not hold another one there (Raft's log matching).
		mt, mok := termAt(parts, hs.Commit)
		if dt, dok := dlog.TermAt(hs.Commit); mok && dok && mt != dt {
			return b.refuse(CodeFromConflict, "the member's commit %d, from the HardState read past the damage in its last segment, is an entry of term %d in its log and of term %d in the replica's: two committed entries cannot differ", hs.Commit, mt, dt)
		}
	}
	e := min(lm, proven)
	p.CopyTo = e
	// Where the member cannot read its own log.
	hole := unreadable(parts, s, lm)
	switch {
	case hs.Commit > lm:
		return b.refuse(CodeFromCannot, "the member's commit %d is beyond its last index %d", hs.Commit, lm)
	case e < s:
		return b.refuse(CodeFromUnprovable, "the replica proves entries committed only up to %d, below the member's snapshot %d", proven, s)
	case hole != 0 && hole > e:
		return b.refuse(CodeFromUnprovable, "the member cannot read entry %d, which the replica does not prove committed (the replica's commit is %d, the member's %d): restoring it from the replica could be wrong", hole, dlog.HardState.Commit, hs.Commit)
	}
	if e < lm {
		if t1, ok1 := termAt(parts, e); ok1 {
			if t2, _ := dlog.TermAt(e); e > s && t1 != t2 {
				return b.refuse(CodeFromConflict, "the member holds entry %d at term %d, the replica at term %d", e, t1, t2)
			}
		}
		if f := b.last.log.FirstIndex; f == 0 || f > e+1 {
			return b.refuse(CodeFromCannot, "the member's own entries %d..%d (past what the replica proves) are not all in the part of its log after the damage", e+1, lm)
		}
	}
	if t, ok := dlog.TermAt(e); e > s && ok && t > hs.Term {
		return b.refuse(CodeFromConflict, "the replica's entry %d has term %d, above the member's HardState term %d: the member's own HardState cannot be kept", e, t, hs.Term)
	}
	return false, nil
}

// swapAction plans the swap of the WAL directory, recording the state of
// every segment it replaces; it refuses a directory that holds other
// files or cannot be swapped.
func (b *fromPlanner) swapAction() (bool, error) {
	p, member := b.p, b.member
	hs, s, e, lm := p.HardState, p.Snapshot.Index, p.CopyTo, p.LastIndex
	files, others, err := walDirFiles(member.WALDir)
	if err != nil {
		return false, err
	}
	if len(others) > 0 {
		return b.refuse(CodeFromCannot, "the WAL directory holds files that are not segments: %s", strings.Join(others, ", "))
	}
	if fi, err := lstatDir(member.WALDir); err != nil {
		return false, err
	} else if !fi || sameDir(member.WALDir, member.Dir) {
		return b.refuse(CodeFromCannot, "the WAL directory is a symbolic link, not a directory, or the group's own directory: it cannot be swapped")
	}
	var size int64
	for _, f := range files {
		sum, n, err := hashHeld(b.held, f)
		if err != nil {
			return false, err
		}
		size += n
		p.Files = append(p.Files, FileState{Path: f, Size: n, SHA256: sum})
	}
	msg := fmt.Sprintf("replace the WAL (%d segments, %d bytes) with one written from the snapshot at index %d: entries %d..%d from %s", len(b.st.segs), size, s, s+1, e, p.Donor.Dir)
	if e < lm {
		msg += fmt.Sprintf(", then its own entries %d..%d", e+1, lm)
	}
	msg += fmt.Sprintf(", and its own HardState (term %d, vote %x, commit %d)", hs.Term, hs.Vote, hs.Commit)
	p.Actions = append(p.Actions, Action{Kind: Replace, Path: member.WALDir, Size: size, Reason: "repair-from", Message: msg})
	return b.olderSnapFiles()
}

// olderSnapFiles plans the removal (into the backup) of the member's .snap
// files older than the snapshot the new WAL starts at, when that WAL will
// start at sequence 0 (renameNewSegments: the snapshot is read from the
// member's first segment and the WAL was never purged). Such a WAL says it
// holds every snapshot record, so etcd could never use the older files
// and verify would report each as an orphan. (A WAL that starts later
// reads as purged, and older files are left alone, as etcd leaves them.)
func (b *fromPlanner) olderSnapFiles() (bool, error) {
	p, s := b.p, b.p.Snapshot.Index
	var base uint64
	for _, seg := range b.st.segs {
		if seg.Index <= s {
			base = seg.Seq
		}
	}
	if s == 0 || base != 0 {
		return false, nil
	}
	snaps, err := inspect.ListSnapFiles(b.member.SnapDir)
	if err != nil {
		return false, err
	}
	for k := len(snaps) - 1; k >= 0; k-- { // oldest first
		sf := snaps[k]
		if !sf.NameOK || sf.NameIndex >= s {
			continue
		}
		fi, err := regularFile(sf.Path)
		if err != nil {
			return b.refuse(CodeFromCannot, "%v", err)
		}
		sum, n, err := hashHeld(b.held, sf.Path)
		if err != nil {
			return false, err
		}
		p.Files = append(p.Files, FileState{Path: sf.Path, Size: n, SHA256: sum})
		p.Actions = append(p.Actions, Action{Kind: Remove, Path: sf.Path, Size: fi.Size(), Bytes: fi.Size(), Reason: "repair-from",
			Message: fmt.Sprintf("remove %s: older than the snapshot the rewritten WAL starts at (index %d), which holds no record of it", sf.Name, s)})
	}
	return false, nil
}

// unreadable returns the first index in (s, last] that no part of the
// member's log holds (0 when it can read them all).
func unreadable(parts []logPart, s, last uint64) uint64 {
	for i := s + 1; i <= last; {
		if _, ok := termAt(parts, i); !ok {
			return i
		}
		// Jump to the end of the run of the part that holds i.
		next := i + 1
		for k := len(parts) - 1; k >= 0; k-- {
			pt := parts[k]
			if pt.upTo != 0 && i > pt.upTo {
				continue
			}
			if _, ok := pt.log.TermAt(i); ok {
				end := pt.log.LastIndex
				if pt.upTo != 0 {
					end = min(end, pt.upTo)
				}
				if holeFree(pt.log) {
					next = end + 1
				}
				break
			}
		}
		i = next
	}
	return 0
}

// holeFree reports whether a part's log holds every index it spans.
func holeFree(l *inspect.Log) bool { return len(l.Gaps) == 0 && l.GapsMore == 0 }

// conflictError says that the member and the donor hold different entries.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }

// donorEntries pulls the donor's effective entries after index from, in
// order; the entry and record alias the read buffer until the next pull.
// A read error ends the sequence and is left in *errp.
func donorEntries(ctx context.Context, segs []inspect.Segment, l *inspect.Log, from uint64, errp *error) iter.Seq2[*inspect.Entry, *inspect.Record] {
	return func(yield func(*inspect.Entry, *inspect.Record) bool) {
		stop := errors.New("stop")
		err := inspect.EffectiveEntries(ctx, segs, l, func(e *inspect.Entry, r *inspect.Record) error {
			if e.Index <= from {
				return nil
			}
			if !yield(e, r) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			*errp = err
		}
	}
}

// compareWithDonor checks that every entry the member can read in
// (Snapshot, CopyTo] is the donor's, byte for byte (a *conflictError
// otherwise), and that the donor holds every entry of that range. When sum
// is set, it receives the SHA-256 of the donor's records Snapshot+1..CopyTo.
func compareWithDonor(ctx context.Context, p *FromPlan, st *fromState, sum *[]byte) error {
	s, e := p.Snapshot.Index, p.CopyTo
	c := &donorCursor{dir: p.Donor.Dir, end: e, want: s + 1, h: sha256.New()}
	next, stop := iter.Pull2(donorEntries(ctx, st.dsegs, st.donor, s, &c.readErr))
	defer stop()
	c.next = next
	replaced := 0
	for k, pt := range st.parts {
		n, err := comparePart(ctx, p, pt, k == len(st.parts)-1, c)
		if err != nil {
			return err
		}
		replaced += n
	}
	if e > s {
		if err := c.advance(e); err != nil {
			return err
		}
	}
	if sum != nil {
		*sum = c.h.Sum(nil)
	}
	if replaced > 0 && sum == nil {
		p.note("%d of the member's readable entries up to %d have other terms than the replica's committed ones: records a later leader overwrote (the overwrite is in the damaged part) or would overwrite; the replica's are kept", replaced, e)
	}
	return nil
}

// donorCursor walks the donor's entries after the member's snapshot, in
// order and up to end (CopyTo), hashing every record it passes; index,
// term and data are the entry it stands on (when have is set).
type donorCursor struct {
	next    func() (*inspect.Entry, *inspect.Record, bool)
	readErr error
	dir     string
	end     uint64
	h       hash.Hash
	have    bool
	want    uint64
	index   uint64
	term    uint64
	data    []byte
}

// advance moves the donor to index i (<= end), hashing what it passes; it
// fails when the donor's log ends before end or skips an index.
func (c *donorCursor) advance(i uint64) error {
	for !c.have || c.index < i {
		de, dr, ok := c.next()
		if !ok && c.readErr != nil {
			return fmt.Errorf("%s: %w", c.dir, c.readErr)
		}
		if !ok || de.Index > c.end {
			return fmt.Errorf("the replica's log ends at %d, before %d", c.want-1, c.end)
		}
		if de.Index != c.want {
			return fmt.Errorf("the replica's entry %d follows %d", de.Index, c.want-1)
		}
		c.want++
		c.index, c.term = de.Index, de.Term
		c.data = append(c.data[:0], dr.Data...)
		c.h.Write(dr.Data)
		c.have = true
	}
	return nil
}

// comparePart compares the entries of one part of the member's log in
// (Snapshot, CopyTo] (and up to the part's upTo) with the donor's, moving
// the donor along; replaced counts the member's entries of other terms
// than the donor's committed ones (not an error outside the last part's
// committed range).
func comparePart(ctx context.Context, p *FromPlan, pt logPart, lastPart bool, c *donorCursor) (replaced int, err error) {
	s, end := p.Snapshot.Index, p.CopyTo
	if pt.upTo != 0 {
		end = min(end, pt.upTo)
	}
	if pt.log.FirstIndex == 0 || pt.log.FirstIndex > end {
		return 0, nil
	}
	errStop := errors.New("stop")
	err = inspect.EffectiveEntries(ctx, pt.segs, pt.log, func(me *inspect.Entry, mr *inspect.Record) error {
		if me.Index <= s {
			return nil
		}
		if me.Index > end {
			return errStop
		}
		if err := c.advance(me.Index); err != nil {
			return err
		}
		switch {
		case c.index != me.Index:
			return &conflictError{fmt.Sprintf("the replica has no entry %d", me.Index)}
		case c.term == me.Term && string(c.data) != string(mr.Data):
			return &conflictError{fmt.Sprintf("the member's and the replica's entries %d have the same term %d but not the same bytes: refusing to combine them", me.Index, me.Term)}
		case c.term != me.Term && lastPart && me.Index <= p.HardState.Commit:
			return &conflictError{fmt.Sprintf("the member's committed entry %d has term %d, the replica's term %d: refusing to combine them", me.Index, me.Term, c.term)}
		case c.term != me.Term:
			// The replica's entry is committed (CopyTo is proven), so
			// the member's is not: a record a later leader overwrote
			// (in the part lost to the damage) or would overwrite.
			replaced++
		}
		return nil
	})
	if err != nil && err != errStop {
		return replaced, err
	}
	return replaced, nil
}

// lstatDir reports whether p is a directory (not a link to one).
func lstatDir(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

// RepairFrom returns the entry point of repair --from for the command's
// round of groups: donor gives the replica's copy of each group. It locks
// the group and the replica, verifies the group through the lock, plans
// from one read of both through the locks' descriptors (planFromLocked),
// applies the plan under the same locks with a backup unless it is a dry
// run, refused or empty, and verifies again through the descriptors of the
// new segments (TestSegmentOpensRecover counts the opens).
func RepairFrom(donor func(inspect.Group) inspect.Group) func(ctx context.Context, g inspect.Group, opts RunOptions) (*Outcome, error) {
	return func(ctx context.Context, g inspect.Group, opts RunOptions) (*Outcome, error) {
		ml, rep, err := lockAndVerify(ctx, g)
		if err != nil {
			return nil, err
		}
		defer ml.Release()
		dg := donor(g)
		dl, err := LockGroup(dg)
		if err != nil {
			return nil, err
		}
		defer dl.Release()
		out := &Outcome{StatusBefore: rep.Status}
		held := heldOf([]*GroupLock{ml, dl})
		plan, st, err := planFromLocked(ctx, g, dg, held)
		if err != nil {
			return nil, err
		}
		mfp, err := fingerprintGroup(g, true)
		if err != nil {
			return nil, err
		}
		dfp, err := fingerprintGroup(dg, false)
		if err != nil {
			return nil, err
		}
		out.Refused = len(plan.Refusals) > 0
		if opts.DryRun || out.Refused || plan.Empty() {
			out.Plan = &plan.Plan
			out.Problem = out.Refused || (opts.DryRun && !plan.Empty()) || (!opts.DryRun && rep.Status != inspect.StatusOK)
			return out, nil
		}
		if opts.OnPlan != nil {
			opts.OnPlan(&plan.Plan)
		}
		var dir string
		if opts.BackupDir != nil {
			dir = opts.BackupDir(1)
		}
		// Fresh by fingerprint: the plan was made under these locks, from
		// what the fingerprints describe; a file written meanwhile with
		// its size kept is planned again (through the same descriptors)
		// and compared.
		if err := freshFrom(ctx, plan, held, mfp, dfp); err != nil {
			return nil, err
		}
		var res *Result
		var after map[string]*os.File
		if ml.readOnly {
			// Read locks (see lockGroup) would conflict with the write
			// locks applying takes: apply as from a plan file, which
			// fails as it would have.
			ml.Release()
			dl.Release()
			res, err = ApplyRepairFrom(ctx, plan, ApplyOptions{BackupDir: dir})
		} else {
			res, after, err = applyFromLocked(ctx, plan, st, ApplyOptions{BackupDir: dir}, ml, dl)
		}
		if err != nil {
			return nil, err
		}
		out.Rounds = append(out.Rounds, res)
		if rep, err = verifyHeld(ctx, g, after); err != nil {
			return nil, err
		}
		out.finish(rep)
		return out, nil
	}
}

// freshFrom fails with *StaleError when the member or the donor is no
// longer what the fingerprints describe (see fingerprint.check); a touched
// file (same size, newer time) is planned again through held and compared.
func freshFrom(ctx context.Context, plan *FromPlan, held map[string]*os.File, mfp, dfp *fingerprint) error {
	mt, err := mfp.check(plan.Group)
	if err != nil {
		return err
	}
	dt, err := dfp.check(plan.Donor)
	if err != nil {
		return err
	}
	if !mt && !dt {
		return nil
	}
	fresh, _, err := planFromLocked(ctx, plan.Group, plan.Donor, held)
	if err != nil {
		return err
	}
	return sameFromPlan(plan, fresh)
}

// resumedHardStateDoubt checks the HardState read past damage in the last
// segment against what Raft guarantees of a member's successive
// HardStates and log: its term never falls, its commit never falls, its
// vote changes only with its term, and no entry written before it has a
// higher term. Every HardState and entry in the parts before the last was
// written before it. It returns why hs cannot be the member's newest
// HardState ("" when nothing contradicts it).
func resumedHardStateDoubt(parts []logPart, hs inspect.HardState) string {
	for _, pt := range parts[:len(parts)-1] {
		l := pt.log
		if l.HasHardState {
			h := l.HardState
			switch {
			case h.Term > hs.Term:
				return fmt.Sprintf("an earlier HardState has the higher term %d", h.Term)
			case h.Commit > hs.Commit:
				return fmt.Sprintf("an earlier HardState has the higher commit %d", h.Commit)
			case h.Term == hs.Term && h.Vote != 0 && h.Vote != hs.Vote:
				return fmt.Sprintf("an earlier HardState of the same term %d votes for %x, not %x", h.Term, h.Vote, hs.Vote)
			}
		}
		if l.LastTerm > hs.Term {
			return fmt.Sprintf("an earlier entry (index %d) has the higher term %d", l.LastIndex, l.LastTerm)
		}
	}
	return ""
}
