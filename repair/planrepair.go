package repair

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/raftctl/raftctl/inspect"
)

// PlanRepair locks the group (refusing a live WAL with *LockedError), reads
// it, and plans how to mend the given findings:
//
//   - torn-tail: zero the last segment from the end of its last complete
//     record (refused when a zeroed-region finding is present, or when the
//     torn record is not at the end of the log);
//   - empty-segment: remove a segment that holds no record, when it is one
//     of the last segments and a segment with records remains;
//   - snapshot-corrupt: quarantine the file as <name>.broken;
//   - snapshot-orphan: quarantine a snapshot file that no WAL snapshot
//     record refers to as <name>.orphan;
//   - segment-name: rename a segment to its canonical name when the name
//     is free and the renamed segments read as a continuous log;
//   - any other finding of severity warning or error is refused with
//     advice; info findings are ignored.
//
// Each finding is checked against what the group holds now: one that no
// longer applies becomes a note, one that disagrees with the files becomes
// a refusal. The plan is pure data; PlanRepair changes nothing and
// releases its locks before returning. It returns an error only when the
// group cannot be read or locked, or ctx is cancelled.
func PlanRepair(ctx context.Context, g inspect.Group, findings []inspect.Finding) (*Plan, error) {
	lock, err := lockGroup(g, true)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	return planRepair(ctx, g, findings, readInput{lock: lock})
}

// repairPlanner carries the state of one planning pass.
type repairPlanner struct {
	p  *Plan
	g  inspect.Group
	st *groupState
	// segs and log are the segments in the order they will have after the
	// planned renames, and the log read in that order.
	segs []inspect.Segment
	log  *inspect.Log
	// renamed maps a segment's current path to its planned canonical path.
	renamed map[string]string
	// removed marks segment paths (current names) planned for removal.
	removed map[string]bool
	// origin maps a path an action will see back to the file's path now.
	origin map[string]string

	// reordered is set when the renames change the segments' order.
	reordered bool

	quarantines, renames, removes, truncates []Action
}

// planRepair reads the group (see readState) and plans; the plan carries
// the fingerprint of what it was made from.
func planRepair(ctx context.Context, g inspect.Group, findings []inspect.Finding, in readInput) (*Plan, error) {
	st, err := readState(ctx, g, in)
	if err != nil {
		return nil, err
	}
	p, err := planRepairFrom(ctx, g, findings, st)
	if err != nil {
		return nil, err
	}
	if p.fp, err = takeFingerprint(g, st, p, false); err != nil {
		return nil, err
	}
	p.read, p.readLock = st, in.lock
	return p, nil
}

// planRepairFrom plans the repair of findings from st, in steps whose
// order matters: renames change which segment is last, and the analysis of
// the WAL that follows sees the renamed order (segmentNames); snapshot
// quarantines; removals of empty segments, after which the log is read
// again without them (withoutRemoved); the torn tail (tornFindings); then
// the other findings are noted or refused (otherFindings), and the actions
// are collected and their files pinned (collectActions).
func planRepairFrom(ctx context.Context, g inspect.Group, findings []inspect.Finding, st *groupState) (*Plan, error) {
	rp := &repairPlanner{
		p:       &Plan{SchemaVersion: SchemaVersion, Operation: OpRepair, Group: g, Findings: findings, Actions: []Action{}, Refusals: []Refusal{}, Files: []FileState{}},
		g:       g,
		st:      st,
		segs:    st.segs,
		log:     st.log,
		renamed: map[string]string{},
		removed: map[string]bool{},
		origin:  map[string]string{},
	}
	by, other := byRepairCode(findings)
	if err := rp.segmentNames(ctx, by[inspect.CodeSegmentName]); err != nil {
		return nil, err
	}
	rp.snapshots(by[inspect.CodeSnapshotCorrupt], by[inspect.CodeSnapshotOrphan], by[inspect.CodeZeroedRegion])
	if err := rp.emptySegments(by[inspect.CodeEmptySegment]); err != nil {
		return nil, err
	}
	if err := rp.withoutRemoved(ctx); err != nil {
		return nil, err
	}
	torn, converted := rp.tornFindings(by[inspect.CodeTornTail], other)
	rp.tornTail(torn, by[inspect.CodeZeroedRegion])
	for _, f := range by[inspect.CodeZeroedRegion] {
		rp.p.refuse(f.Code, f.File, "%s", orDefault(f.Message, "valid records follow a zeroed region"))
	}
	rp.otherFindings(other, converted, by[inspect.CodeZeroedRegion])
	return rp.collectActions()
}

// byRepairCode sorts findings by the code of the step that mends them
// (segment-index findings go to the segment-name step too, and stay under
// their own code); other holds the findings no step mends.
func byRepairCode(findings []inspect.Finding) (by map[string][]inspect.Finding, other []inspect.Finding) {
	by = map[string][]inspect.Finding{}
	for _, f := range findings {
		switch f.Code {
		case inspect.CodeTornTail, inspect.CodeEmptySegment, inspect.CodeSnapshotCorrupt, inspect.CodeSnapshotOrphan, inspect.CodeSegmentName, inspect.CodeZeroedRegion:
			by[f.Code] = append(by[f.Code], f)
		case inspect.CodeSegmentIndex:
			by[inspect.CodeSegmentName] = append(by[inspect.CodeSegmentName], f)
			by[f.Code] = append(by[f.Code], f)
		default:
			other = append(other, f)
		}
	}
	return by, other
}

// withoutRemoved reads the log as it will be without the segments planned
// for removal: the last one left is the one etcd judges torn writes in.
func (rp *repairPlanner) withoutRemoved(ctx context.Context) error {
	if len(rp.removed) == 0 {
		return nil
	}
	var kept []inspect.Segment
	for _, s := range rp.segs {
		if !rp.removed[s.Path] {
			kept = append(kept, s)
		}
	}
	l, err := inspect.ReadLog(ctx, kept)
	if err != nil {
		return err
	}
	rp.segs, rp.log = kept, l
	return nil
}

// tornFindings returns the torn-tail findings to mend. Verification calls
// a torn record followed by empty segments a truncated segment; once they
// are removed it is a torn tail: such findings of other are converted and
// marked in converted (by their index in other).
func (rp *repairPlanner) tornFindings(torn, other []inspect.Finding) ([]inspect.Finding, map[int]bool) {
	converted := map[int]bool{}
	if st := rp.log.Stop; len(torn) == 0 && st != nil && st.Kind == inspect.KindTorn && st.Segment == len(rp.segs)-1 {
		for k, f := range other {
			if f.Code == inspect.CodeSegmentTruncated && len(rp.removed) > 0 && matches(f.File, st.Path) {
				f.Code = inspect.CodeTornTail
				torn = append(torn, f)
				converted[k] = true
			}
		}
	}
	return torn, converted
}

// otherFindings notes or refuses the findings no step mends: info findings
// and converted ones are skipped, findings the log no longer shows are
// noted as not seen, errors are refused, and warnings are noted.
func (rp *repairPlanner) otherFindings(other []inspect.Finding, converted map[int]bool, zeroed []inspect.Finding) {
	for k, f := range other {
		switch {
		case f.Severity == inspect.SeverityInfo, converted[k]:
		case rp.notSeen(f, zeroed):
			what := "the log reads to its end with an unbroken CRC chain"
			if len(rp.renames) > 0 {
				what += " once the segments are renamed"
			}
			rp.p.note("%s: %s: not seen, %s", f.Code, orDefault(f.File, rp.g.WALDir), what)
		case f.Severity == inspect.SeverityError:
			rp.p.refuse(f.Code, f.File, "%s", orDefault(f.Message, "raftctl cannot repair this offline"))
		default:
			rp.p.note("%s: left as it is, repair has nothing to change for it (%s)", f.Code, orDefault(f.Message, f.File))
		}
	}
}

// collectActions puts the planned actions in the order they are applied
// (quarantines, renames, removals, truncations), notes a reordering, and
// pins the files the plan was made from.
func (rp *repairPlanner) collectActions() (*Plan, error) {
	if rp.reordered && len(rp.renames) > 0 {
		rp.p.note("the renames change the order in which etcd reads the segments: verify again after this repair")
	}
	p := rp.p
	for _, group := range [][]Action{rp.quarantines, rp.renames, rp.removes, rp.truncates} {
		p.Actions = append(p.Actions, group...)
	}
	if err := rp.pinFiles(); err != nil {
		return nil, err
	}
	return p, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// notSeen reports whether an error about the order or the CRC chain of
// the segments is absent from the log as the plan leaves it: the segments
// (renamed, when renames are planned) have continuous sequence numbers
// and read to the end with an unbroken CRC chain. That is the case for a
// finding made before an earlier repair, or one caused by a misnamed
// segment that sorts out of place.
func (rp *repairPlanner) notSeen(f inspect.Finding, zeroed []inspect.Finding) bool {
	if !rp.logComplete(zeroed) {
		return false
	}
	for i := 1; i < len(rp.segs); i++ {
		if rp.segs[i].Seq != rp.segs[i-1].Seq+1 {
			return false
		}
	}
	switch f.Code {
	case inspect.CodeSegmentSequence, inspect.CodeCRCMismatch, inspect.CodeSegmentTruncated:
	default:
		return false
	}
	if f.File == "" {
		return true
	}
	for _, s := range rp.st.segs {
		if matches(f.File, s.Path) {
			return true
		}
	}
	return false
}

// logComplete reports whether the log, in its planned order, reads to the
// end of the last segment, or to a torn write there when no
// zeroed-region finding says records lie beyond it.
func (rp *repairPlanner) logComplete(zeroed []inspect.Finding) bool {
	st := rp.log.Stop
	if st == nil {
		return true
	}
	if st.Kind != inspect.KindTorn || len(zeroed) > 0 {
		return false
	}
	// Only empty segments may follow the torn one.
	for k := st.Segment + 1; k < len(rp.segs); k++ {
		if e, err := rp.segEmpty(k); err != nil || !e {
			return false
		}
	}
	return true
}

// pinFiles records the current content of every file an action touches.
func (rp *repairPlanner) pinFiles() error {
	seen := map[string]bool{}
	for _, a := range rp.p.Actions {
		src := rp.originOf(a.Path)
		if seen[src] {
			continue
		}
		seen[src] = true
		sum, size, err := hashHeld(rp.st.held, src)
		if err != nil {
			return err
		}
		rp.p.Files = append(rp.p.Files, FileState{Path: src, Size: size, SHA256: sum})
	}
	return nil
}

func (rp *repairPlanner) originOf(path string) string {
	if o, ok := rp.origin[path]; ok {
		return o
	}
	return path
}

// finalPath is the name a segment has once the planned renames ran.
func (rp *repairPlanner) finalPath(path string) string {
	if n, ok := rp.renamed[path]; ok {
		return n
	}
	return path
}

// matches reports whether a finding's File names path.
func matches(file, path string) bool {
	if file == "" {
		return false
	}
	if filepath.Clean(file) == filepath.Clean(path) {
		return true
	}
	if filepath.Base(file) == file {
		return file == filepath.Base(path)
	}
	a, err1 := filepath.Abs(file)
	b, err2 := filepath.Abs(path)
	return err1 == nil && err2 == nil && a == b
}

// checkRegular refuses a symbolic link or special file; it returns false
// (after recording a refusal) when path must not be touched.
func (rp *repairPlanner) checkRegular(code, path string) (os.FileInfo, bool) {
	fi, err := regularFile(path)
	if err != nil {
		rp.p.refuseWith(code, path, "replace the link or file with the regular file it should be, then run repair again", "%v", err)
		return nil, false
	}
	return fi, true
}

// segmentNames plans renames to canonical names: which segments to rename
// and to what (wantedNames), the listing they would give (renamedListing),
// the log read from it (renamedLog), and the rename actions
// (addRenames). It refuses, rather than plans, a rename that would take an
// existing name, break the sequence or shorten the log.
func (rp *repairPlanner) segmentNames(ctx context.Context, fs []inspect.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	want := rp.wantedNames(fs)
	if len(want) == 0 {
		return nil
	}
	sim, ok, err := rp.renamedListing(want)
	if err != nil || !ok {
		return err
	}
	l, ok, err := rp.renamedLog(ctx, sim)
	if err != nil || !ok {
		return err
	}
	rp.segs, rp.log = sim, l
	for i := range sim {
		if sim[i].Path != rp.st.segs[i].Path {
			rp.reordered = true
		}
	}
	rp.addRenames(want)
	return nil
}

// wantedNames returns the current paths to rename, and the first index
// each new name carries: the one in the name (segment-name), or the one
// etcd gave the segment when it cut it (segment-index, in the finding's
// Index). It notes findings that no longer apply and refuses names etcd
// does not accept.
func (rp *repairPlanner) wantedNames(fs []inspect.Finding) map[string]uint64 {
	want := map[string]uint64{}
	for _, f := range fs {
		if f.File == "" {
			for _, s := range rp.st.segs {
				if !s.Canonical {
					want[s.Path] = s.Index
				}
			}
			continue
		}
		found := false
		for _, s := range rp.st.segs {
			if !matches(f.File, s.Path) {
				continue
			}
			found = true
			switch {
			case f.Code == inspect.CodeSegmentIndex && f.Index > 0 && f.Index != s.Index:
				want[s.Path] = f.Index
			case f.Code == inspect.CodeSegmentIndex:
				rp.p.note("%s: %s carries index %d now", f.Code, s.Path, s.Index)
			case s.Canonical:
				rp.p.note("%s: %s is canonical now", f.Code, s.Path)
			default:
				if _, ok := want[s.Path]; !ok {
					want[s.Path] = s.Index
				}
			}
		}
		for _, name := range rp.st.ignored {
			if p := filepath.Join(rp.g.WALDir, name); !found && matches(f.File, p) {
				found = true
				rp.p.refuseWith(f.Code, p, "rename the file by hand to %016x-%016x.wal (sequence number, first index) once you know both, or move it out of the WAL directory",
					"etcd does not accept this name, so the sequence number and first index it should carry are unknown")
			}
		}
		if !found {
			rp.p.note("%s: %s is not in the WAL directory any more", f.Code, f.File)
		}
	}
	return want
}

// renamedListing returns the segments with their new names, in the order
// they will have. It is false (after recording refusals) when a segment
// to rename is not a regular file or its canonical name is already taken.
func (rp *repairPlanner) renamedListing(want map[string]uint64) ([]inspect.Segment, bool, error) {
	sim := make([]inspect.Segment, len(rp.st.segs))
	copy(sim, rp.st.segs)
	taken := map[string]string{}
	for _, s := range rp.st.segs {
		if _, ok := want[s.Path]; !ok {
			taken[s.Name] = s.Path
		}
	}
	ok := true
	for i := range sim {
		s := &sim[i]
		idx, renamed := want[s.Path]
		if !renamed {
			continue
		}
		if _, good := rp.checkRegular(inspect.CodeSegmentName, s.Path); !good {
			ok = false
			continue
		}
		canon := inspect.SegmentName(s.Seq, idx)
		np := filepath.Join(rp.g.WALDir, canon)
		exists, err := pathExists(np)
		if err != nil {
			return nil, false, err
		}
		if other, dup := taken[canon]; dup || exists {
			if other == "" {
				other = np
			}
			rp.p.refuseWith(inspect.CodeSegmentName, s.Path, "decide by hand which of the two files is the segment etcd should read and move the other out of the WAL directory",
				"its canonical name %s is already taken by %s", canon, other)
			ok = false
			continue
		}
		taken[canon] = s.Path
		s.Name, s.Index, s.Canonical = canon, idx, true
	}
	if !ok {
		return nil, false, nil
	}
	sort.SliceStable(sim, func(i, j int) bool { return sim[i].Name < sim[j].Name })
	return sim, true, nil
}

// renamedLog reads the log the renamed segments would give. It is false
// (after recording a refusal) when their sequence numbers would not be
// continuous or the log would be shorter than the one read now.
func (rp *repairPlanner) renamedLog(ctx context.Context, sim []inspect.Segment) (*inspect.Log, bool, error) {
	for i := 1; i < len(sim); i++ {
		if sim[i].Seq != sim[i-1].Seq+1 {
			rp.p.refuseWith(inspect.CodeSegmentName, "", adviceReplica,
				"renamed, the segments' sequence numbers would not be continuous (%s follows %s)", sim[i].Name, sim[i-1].Name)
			return nil, false, nil
		}
	}
	l, err := inspect.ReadLog(ctx, sim)
	if err != nil {
		return nil, false, err
	}
	if l.Records < rp.st.log.Records {
		rp.p.refuseWith(inspect.CodeSegmentName, "", adviceReplica,
			"renamed, the segments would read as a shorter log (%d records instead of %d)", l.Records, rp.st.log.Records)
		return nil, false, nil
	}
	return l, true, nil
}

// addRenames records the rename actions, in the order of the current
// listing, and the mapping between old and new paths.
func (rp *repairPlanner) addRenames(want map[string]uint64) {
	for _, s := range rp.st.segs {
		idx, renamed := want[s.Path]
		if !renamed {
			continue
		}
		np := filepath.Join(rp.g.WALDir, inspect.SegmentName(s.Seq, idx))
		rp.renamed[s.Path] = np
		rp.origin[np] = s.Path
		reason, msg := inspect.CodeSegmentName, fmt.Sprintf("rename %s to its canonical name %s", s.Name, filepath.Base(np))
		if idx != s.Index {
			reason, msg = inspect.CodeSegmentIndex, fmt.Sprintf("rename %s to %s, the name etcd gave it when it cut it", s.Name, filepath.Base(np))
		}
		rp.renames = append(rp.renames, Action{Kind: Rename, Path: s.Path, NewPath: np, Size: s.Size, Reason: reason, Message: msg})
	}
}

// snapshots plans quarantines of corrupt and orphan snapshot files
// (quarantineSnap, one finding at a time), then refuses when the
// quarantines leave no usable snapshot (checkUsableSnapshot).
func (rp *repairPlanner) snapshots(corrupt, orphan, zeroed []inspect.Finding) {
	complete := rp.logComplete(zeroed)
	planned := map[string]bool{}
	for _, f := range corrupt {
		rp.quarantineSnap(f, planned, complete)
	}
	for _, f := range orphan {
		rp.quarantineSnap(f, planned, complete)
	}
	rp.checkUsableSnapshot(planned)
}

// referenced reports whether a WAL snapshot record of the log refers to
// the snapshot file sf.
func (rp *repairPlanner) referenced(sf inspect.SnapFile) bool {
	for _, s := range rp.log.Snapshots {
		if s.Index == sf.Index && s.Term == sf.Term {
			return true
		}
	}
	return false
}

// quarantineSnap plans the quarantine of the snapshot file of one
// snapshot-corrupt or snapshot-orphan finding, as <name>.broken or
// <name>.orphan, or notes or refuses it; planned marks the files already
// planned. complete tells whether the WAL reads to its end, without which
// an orphan cannot be told from a file a later record refers to.
func (rp *repairPlanner) quarantineSnap(f inspect.Finding, planned map[string]bool, complete bool) {
	var target *inspect.SnapFile
	for i := range rp.st.snaps {
		sf := &rp.st.snaps[i]
		if matches(f.File, sf.Path) {
			target = sf
			break
		}
	}
	if target == nil {
		if fi, err := os.Lstat(f.File); err == nil && !fi.Mode().IsRegular() {
			rp.p.refuseWith(f.Code, f.File, "replace the link or file with the regular file it should be, then run repair again",
				"%s is not a regular file (%s): raftctl never changes a group through a symbolic link", f.File, fi.Mode().Type())
			return
		}
		rp.p.note("%s: %s is not in the snapshot directory any more", f.Code, f.File)
		return
	}
	if planned[target.Path] {
		return
	}
	suffix := ".broken"
	switch {
	case f.Code == inspect.CodeSnapshotCorrupt && target.OK:
		rp.p.refuseWith(f.Code, target.Path, adviceRerun, "the file decodes and its CRC holds; raftctl quarantines only snapshot files that do not decode")
		return
	case f.Code == inspect.CodeSnapshotOrphan && target.OK && rp.referenced(*target):
		rp.p.note("%s: %s is referenced by a WAL snapshot record", f.Code, target.Path)
		return
	case f.Code == inspect.CodeSnapshotOrphan && target.OK && !complete:
		rp.p.refuseWith(f.Code, target.Path, adviceRerun, "the WAL cannot be read to its end, so a snapshot record past the point where reading stops may refer to this file")
		return
	case f.Code == inspect.CodeSnapshotOrphan && target.OK:
		suffix = ".orphan"
	}
	fi, ok := rp.checkRegular(f.Code, target.Path)
	if !ok {
		return
	}
	np, err := freeName(target.Path + suffix)
	if err != nil {
		rp.p.refuseWith(f.Code, target.Path, "move the file aside by hand", "%v", err)
		return
	}
	planned[target.Path] = true
	what := "does not decode"
	if suffix == ".orphan" {
		what = "is referred to by no WAL snapshot record"
	}
	rp.quarantines = append(rp.quarantines, Action{Kind: Quarantine, Path: target.Path, NewPath: np, Size: fi.Size(), Reason: f.Code,
		Message: fmt.Sprintf("quarantine %s (it %s) as %s", target.Name, what, filepath.Base(np))})
}

// checkUsableSnapshot refuses the plan when quarantines (planned) would
// leave no usable snapshot and the WAL's first segments were purged:
// without a usable snapshot etcd restarts from index 0, which such a WAL
// cannot serve.
func (rp *repairPlanner) checkUsableSnapshot(planned map[string]bool) {
	if len(rp.quarantines) == 0 || len(rp.segs) == 0 || rp.segs[0].Index == 0 {
		return
	}
	usableBefore, usableAfter := false, false
	for _, sf := range rp.st.snaps {
		if sf.OK && rp.referenced(sf) && sf.Index <= rp.log.HardState.Commit {
			usableBefore = true
			if !planned[sf.Path] {
				usableAfter = true
			}
		}
	}
	if !usableAfter {
		msg := "no snapshot file matches a WAL snapshot record"
		if usableBefore {
			msg = "once the quarantined files are set aside, " + msg
		}
		rp.p.refuse(CodeNoUsableSnapshot, rp.g.SnapDir, "%s and the WAL does not reach back to index 0: the member cannot restart from this data", msg)
	}
}

// freeName returns p, or p with a numeric suffix, whichever does not exist.
func freeName(p string) (string, error) {
	for i := 0; i < 1000; i++ {
		c := p
		if i > 0 {
			c = fmt.Sprintf("%s.%d", p, i)
		}
		ok, err := pathExists(c)
		if err != nil {
			return "", err
		}
		if !ok {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s: no free name to quarantine it under", p)
}

// segEmpty reports whether segment k of the planned order holds no record
// as etcd reads it (size 0 or a zero length word first).
func (rp *repairPlanner) segEmpty(k int) (bool, error) {
	if st := rp.log.Stop; st != nil && st.Segment == k {
		// The read stopped on a record of this segment.
		return false, nil
	}
	if k < len(rp.log.Segments) && rp.log.Segments[k].Read {
		return rp.log.Segments[k].Records == 0, nil
	}
	f, _, done, err := openHeld(rp.st.held, rp.segs[k].Path)
	if err != nil {
		return false, err
	}
	defer done()
	var b [8]byte
	n, err := io.ReadFull(f, b[:])
	if err == io.EOF {
		return true, nil
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return false, err
	}
	return allZero(b[:n]) && n == 8, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// emptySegments plans the removal of trailing empty segments.
func (rp *repairPlanner) emptySegments(fs []inspect.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	empty := make([]bool, len(rp.segs))
	for k := range rp.segs {
		e, err := rp.segEmpty(k)
		if err != nil {
			return err
		}
		empty[k] = e
	}
	// The trailing run of empty segments can go; one with records stays.
	firstTrailing := len(rp.segs)
	for firstTrailing > 0 && empty[firstTrailing-1] {
		firstTrailing--
	}
	want := map[int]bool{}
	for _, f := range fs {
		found := false
		for k, s := range rp.segs {
			if f.File != "" && !matches(f.File, s.Path) && !matches(f.File, rp.finalPath(s.Path)) {
				continue
			}
			found = true
			switch {
			case !empty[k]:
				if f.File != "" {
					rp.p.note("%s: %s holds records now", f.Code, s.Path)
				}
			case firstTrailing == 0:
				rp.p.refuseWith(f.Code, s.Path, adviceReplica, "no segment of the WAL holds a record: removing them would leave no WAL at all, and etcd would start as a new member")
			case k < firstTrailing:
				rp.p.refuseWith(f.Code, s.Path, adviceReplica, "segments with records follow it: removing it would break the sequence numbers etcd checks")
			default:
				want[k] = true
			}
		}
		if !found {
			rp.p.note("%s: %s is not in the WAL directory any more", f.Code, f.File)
		}
	}
	// Remove from the end so that every prefix of the plan keeps the
	// sequence continuous: every empty segment after the first one asked
	// about goes too (it holds nothing either).
	lowest := len(rp.segs)
	for k := range want {
		lowest = min(lowest, k)
	}
	for k := len(rp.segs) - 1; k >= lowest; k-- {
		s := rp.segs[k]
		fi, ok := rp.checkRegular(inspect.CodeEmptySegment, s.Path)
		if !ok {
			break
		}
		rp.removed[s.Path] = true
		if np, ok := rp.renamed[s.Path]; ok {
			// No need to rename what goes.
			delete(rp.renamed, s.Path)
			delete(rp.origin, np)
			kept := rp.renames[:0]
			for _, a := range rp.renames {
				if a.Path != s.Path {
					kept = append(kept, a)
				}
			}
			rp.renames = kept
		}
		p := s.Path
		rp.removes = append(rp.removes, Action{Kind: Remove, Path: p, Size: fi.Size(), Bytes: fi.Size(), Reason: inspect.CodeEmptySegment,
			Message: fmt.Sprintf("remove %s: a last segment holding no record", filepath.Base(p))})
	}
	return nil
}

// tornTail plans the truncation of a torn last record.
func (rp *repairPlanner) tornTail(fs, zeroed []inspect.Finding) {
	if len(fs) == 0 {
		return
	}
	f := fs[0]
	stop := rp.log.Stop
	last := len(rp.segs) - 1
	switch {
	case len(zeroed) > 0:
		rp.p.refuseWith(f.Code, f.File, adviceFor(inspect.CodeZeroedRegion), "the torn record is not truncated: a zeroed-region finding says valid records follow a zeroed region, and truncating would drop them")
		return
	case stop == nil:
		// The log ends at a zero length word, and non-record bytes follow
		// it in the preallocated space: zero them from the end of the
		// last record, as etcd's ZeroToEnd does when it opens the WAL for
		// writing.
		s := rp.segs[last]
		if f.Offset < 0 || !matches(f.File, s.Path) || rp.log.Segments[last].End != f.Offset {
			rp.p.note("%s: the log ends cleanly now", f.Code)
			return
		}
		fi, ok := rp.checkRegular(f.Code, s.Path)
		if !ok || f.Offset >= fi.Size() {
			return
		}
		if zero, err := zeroFrom(rp.st.held, s.Path, f.Offset); err != nil || zero {
			if err != nil {
				rp.p.refuse(f.Code, s.Path, "cannot read %s: %v", s.Path, err)
			} else {
				rp.p.note("%s: %s holds only zeros after its last record", f.Code, s.Path)
			}
			return
		}
		p := rp.finalPath(s.Path)
		rp.truncates = append(rp.truncates, Action{Kind: Truncate, Path: p, Offset: f.Offset, Size: fi.Size(), Bytes: fi.Size() - f.Offset, Reason: inspect.CodeTornTail,
			Message: fmt.Sprintf("zero %s from offset %d (end of the last complete record) to its end, %d bytes: non-record bytes follow the last record", filepath.Base(p), f.Offset, fi.Size()-f.Offset)})
		return
	case stop.Kind != inspect.KindTorn:
		rp.p.refuse(f.Code, stop.Path, "the log stops at %s (%s), not at a torn write: %s", stop.Path, stop.Kind, stop.Msg)
		return
	case stop.Segment != last:
		rp.p.refuse(f.Code, stop.Path, "the torn record is in %s at offset %d, but segments with records follow it: truncating would drop them", stop.Path, stop.Offset)
		return
	}
	s := rp.segs[last]
	fi, ok := rp.checkRegular(f.Code, s.Path)
	if !ok {
		return
	}
	if ok, err := inspect.TornTailMendableSegment(s, stop.Offset, fi.Size()); err != nil || !ok {
		if err != nil {
			rp.p.refuse(f.Code, s.Path, "cannot read %s: %v", s.Path, err)
			return
		}
		rp.p.refuseWith(f.Code, s.Path, adviceReplica, "bytes that are not zeros follow the torn record at offset %d in %s: they may be what remains of records written before the damage, so the log is not cut there", stop.Offset, filepath.Base(s.Path))
		return
	}
	p := rp.finalPath(s.Path)
	if stop.Offset >= fi.Size() {
		rp.p.note("%s: %s ends at its last complete record", f.Code, p)
		return
	}
	rp.truncates = append(rp.truncates, Action{Kind: Truncate, Path: p, Offset: stop.Offset, Size: fi.Size(), Bytes: fi.Size() - stop.Offset, Reason: inspect.CodeTornTail,
		Message: fmt.Sprintf("zero %s from offset %d (end of the last complete record) to its end, %d bytes: %s", filepath.Base(p), stop.Offset, fi.Size()-stop.Offset, stop.Msg)})
}

// zeroFrom reports whether the file holds only zero bytes from off on.
// It reads through held's descriptor of path, if any (see openHeld).
func zeroFrom(held map[string]*os.File, path string, off int64) (bool, error) {
	f, _, done, err := openHeld(held, path)
	if err != nil {
		return false, err
	}
	defer done()
	buf := make([]byte, 256<<10)
	for {
		n, err := f.ReadAt(buf, off)
		if !allZero(buf[:n]) {
			return false, nil
		}
		off += int64(n)
		if err == io.EOF || n == 0 {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}
