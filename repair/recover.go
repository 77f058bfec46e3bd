package repair

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/raftctl/raftctl/inspect"
)

// OpRecover is the operation of raftctl recover.
const OpRecover Operation = "recover"

// Append adds records after the last complete record of a segment: the
// segment is rewritten aside (its records up to Offset, then the new ones,
// then zeros to its old size) and renamed over the old one.
const Append ActionKind = "append"

// Refusal codes of recover.
const (
	// CodeNoRecovery: no replica can be recovered (see the message).
	CodeNoRecovery = "no-recovery"
	// CodeCommittedConflict: replicas disagree on a committed entry.
	CodeCommittedConflict = "committed-conflict"
	// CodeMemberNotReady: the chosen member's log does not end cleanly in
	// its last segment.
	CodeMemberNotReady = "member-not-ready"
	// CodeFromSummary: some replicas were given as summaries (raftctl
	// summary): the plan shows what recovery does, but apply needs every
	// replica's directory.
	CodeFromSummary = "from-summary"
)

// RecoverOptions tune PlanRecover.
type RecoverOptions struct {
	// Member is the PATH of the replica to recover; "" takes compare's
	// recommendation.
	Member string
	// Parallel is how many replicas are read at once (CPUs when 0).
	Parallel int
}

// RecoverPlan is what raftctl recover would do to one member: pure data,
// the same in JSON as in memory.
type RecoverPlan struct {
	SchemaVersion int       `json:"schema_version"`
	Operation     Operation `json:"operation"`
	// Servers are the PATHs compared, Member the one recovered.
	Servers []string `json:"servers"`
	// Replicas are the groups found under each server (what apply reads
	// again).
	Replicas [][]inspect.Group `json:"replicas"`
	Member   string            `json:"member"`
	Group    inspect.Group     `json:"group"`
	// MemberID and ClusterID are the member's etcd IDs (hex).
	MemberID  string `json:"member_id,omitempty"`
	ClusterID string `json:"cluster_id,omitempty"`
	// Recommended is compare's recommendation (Member unless chosen).
	Recommended string `json:"recommended"`
	Reason      string `json:"reason,omitempty"`
	// ProvenCommit is the highest commit a replica proves (ProvenBy), at
	// ProvenTerm.
	ProvenCommit uint64 `json:"proven_commit"`
	ProvenTerm   uint64 `json:"proven_term"`
	ProvenBy     string `json:"proven_by,omitempty"`
	// HardState is the member's before; NewHardState after (Commit
	// raised, Term raised only to the term of an appended entry, Vote kept).
	HardState    inspect.HardState `json:"hard_state"`
	NewHardState inspect.HardState `json:"new_hard_state"`
	// Donor holds entries AppendFrom..AppendTo that the member lacks.
	Donor      string         `json:"donor,omitempty"`
	DonorGroup *inspect.Group `json:"donor_group,omitempty"`
	AppendFrom uint64         `json:"append_from,omitempty"`
	AppendTo   uint64         `json:"append_to,omitempty"`
	// ForceKeep is what --force-new-cluster keeps on the member without
	// recover; Keep what it keeps after; Loses counts the provably
	// committed entries still lost.
	ForceKeep uint64 `json:"force_keep"`
	Keep      uint64 `json:"keep"`
	Loses     uint64 `json:"loses"`
	// Backend is the member's etcd backend database, if any.
	Backend  *inspect.Backend `json:"backend,omitempty"`
	Actions  []Action         `json:"actions"`
	Refusals []Refusal        `json:"refusals"`
	Notes    []string         `json:"notes,omitempty"`
	Files    []FileState      `json:"files"`
	// NextStep is the command that restarts the cluster from the member.
	NextStep string `json:"next_step,omitempty"`
	// FromSummaries lists the servers read from summaries rather than
	// from their directories (fleet mode); such a plan is not applied.
	FromSummaries []string `json:"from_summaries,omitempty"`
}

// Empty reports whether the plan changes nothing.
func (p *RecoverPlan) Empty() bool { return len(p.Actions) == 0 }

func (p *RecoverPlan) refuse(code, path, advice, format string, args ...any) {
	p.Refusals = append(p.Refusals, Refusal{Code: code, Path: path, Message: fmt.Sprintf(format, args...), Advice: advice})
}

// PlanRecover compares the replicas of one group found under servers
// (groups[i] were found under servers[i]; see inspect.CompareGroups) and
// plans the recovery of the chosen member: raise its HardState commit to
// the highest commit a replica proves that its own log reaches, and
// append, from a replica that holds them, the committed entries it lacks.
// It never invents an entry, lowers a term or changes a vote, and refuses
// when replicas disagree on a committed entry.
//
// PlanRecover locks every replica for the time it reads them (refusing a
// live WAL with *LockedError) and changes nothing. It returns an error when
// the PATHs do not hold exactly one group with several replicas.
func PlanRecover(ctx context.Context, servers []string, groups [][]inspect.Group, opts RecoverOptions) (*RecoverPlan, error) {
	var locks []*GroupLock
	defer func() {
		for _, l := range locks {
			l.Release()
		}
	}()
	for _, gs := range groups {
		for _, g := range gs {
			l, err := LockGroup(g)
			if err != nil {
				return nil, err
			}
			locks = append(locks, l)
		}
	}
	p, _, err := planRecover(ctx, servers, groups, opts, heldOf(locks))
	return p, err
}

// heldOf merges the locks' descriptors (see GroupLock.held): every read
// of the replicas under those locks goes through them.
func heldOf(locks []*GroupLock) map[string]*os.File {
	held := map[string]*os.File{}
	for _, l := range locks {
		maps.Copy(held, l.held())
	}
	return held
}

// PlanRecoverSources is PlanRecover over directories and summaries
// (written by raftctl summary on the replicas' hosts) mixed freely: it
// locks the directories while it reads them. The comparison is the same as
// from the directories; the plan's actions need the member's directory,
// and a plan made with any summary is refused (CodeFromSummary): apply
// reads every replica's directory again.
func PlanRecoverSources(ctx context.Context, srcs []inspect.CompareSource, opts RecoverOptions) (*RecoverPlan, error) {
	var locks []*GroupLock
	defer func() {
		for _, l := range locks {
			l.Release()
		}
	}()
	for _, src := range srcs {
		for _, g := range src.Groups {
			if src.Summary != nil {
				break
			}
			l, err := LockGroup(g)
			if err != nil {
				return nil, err
			}
			locks = append(locks, l)
		}
	}
	p, _, err := planRecoverSources(ctx, srcs, opts, heldOf(locks))
	return p, err
}

// recoverState is what planRecover read: the comparison and the replicas,
// and the descriptors of the locked segments every later read of them
// goes through (held, by path).
type recoverState struct {
	comp   *inspect.Comparison
	member *inspect.Replica
	donor  *inspect.Replica
	held   map[string]*os.File
	// newSeg is the member's new last segment, locked (see
	// replaceSegment), once written.
	newSeg *os.File
}

// planRecover is planRecoverSources over directories; held are the
// locked segments' descriptors (heldOf), read instead of opening them.
func planRecover(ctx context.Context, servers []string, groups [][]inspect.Group, opts RecoverOptions, held map[string]*os.File) (*RecoverPlan, *recoverState, error) {
	srcs := make([]inspect.CompareSource, len(servers))
	for k := range servers {
		srcs[k] = inspect.CompareSource{Server: servers[k], Groups: groups[k]}
	}
	return planRecoverSources(ctx, srcs, opts, held)
}

// planRecoverSources plans recover for the one group the sources hold:
// compare the replicas, choose the member, check it can be changed, and
// plan its change. A plan that read summaries is shown, never applied
// (refuseSummaryWork).
func planRecoverSources(ctx context.Context, srcs []inspect.CompareSource, opts RecoverOptions, held map[string]*os.File) (*RecoverPlan, *recoverState, error) {
	comps, err := inspect.CompareSources(ctx, srcs, inspect.VerifyOptions{Parallel: opts.Parallel, NoLockCheck: true, Held: held})
	if err != nil {
		return nil, nil, err
	}
	servers, groups, fromSummaries := recoverReplicas(srcs)
	c, err := oneComparison(comps)
	if err != nil {
		return nil, nil, err
	}
	p := &RecoverPlan{SchemaVersion: SchemaVersion, Operation: OpRecover, Servers: servers, Replicas: groups, Recommended: c.Recommended, Reason: c.Reason,
		ProvenCommit: c.ProvenCommit, ProvenTerm: c.ProvenTerm, ProvenBy: c.ProvenBy, ClusterID: c.ClusterID,
		Actions: []Action{}, Refusals: []Refusal{}, Files: []FileState{}, FromSummaries: fromSummaries}
	st := &recoverState{comp: c, held: held}
	if found, err := chooseRecoverMember(p, st, opts.Member); err != nil {
		return nil, nil, err
	} else if !found {
		return p, st, nil
	}
	cd, segs, err := checkRecoverMember(p, st)
	if err != nil {
		return nil, nil, err
	}
	if len(p.Refusals) == 0 {
		if err := planRecoverChange(p, st, cd, segs); err != nil {
			return nil, nil, err
		}
	}
	refuseSummaryWork(p, st)
	return p, st, nil
}

// recoverReplicas lists the sources' servers and groups (a summary's
// groups as it describes them), and the servers given as summaries.
func recoverReplicas(srcs []inspect.CompareSource) (servers []string, groups [][]inspect.Group, fromSummaries []string) {
	servers = make([]string, len(srcs))
	groups = make([][]inspect.Group, len(srcs))
	for k, src := range srcs {
		servers[k] = src.Server
		groups[k] = src.Groups
		if src.Summary != nil {
			fromSummaries = append(fromSummaries, src.Server)
			groups[k] = []inspect.Group{}
			for _, fg := range src.SummaryGroups {
				groups[k] = append(groups[k], fg.Group())
			}
		}
	}
	return servers, groups, fromSummaries
}

// oneComparison returns the comparison of the one group recover works
// on, failing when the sources hold no group with two replicas or more
// than one group.
func oneComparison(comps []*inspect.Comparison) (*inspect.Comparison, error) {
	single := 0
	for _, c := range comps {
		if c.Single {
			single++
		}
	}
	if len(comps) > 1 && single == len(comps) {
		return nil, fmt.Errorf("only one replica of each group found (%d groups; different cluster IDs are never paired): nothing to recover from", len(comps))
	}
	if len(comps) != 1 {
		var names []string
		for _, c := range comps {
			names = append(names, c.Name)
		}
		return nil, fmt.Errorf("recover works on one group at a time; the PATHs hold %d (%v): select one with --group", len(comps), names)
	}
	c := comps[0]
	if c.Single {
		return nil, fmt.Errorf("only one replica of group %s found: nothing to recover from (%v)", c.Name, c.Notes)
	}
	return c, nil
}

// chooseRecoverMember sets st.member to the replica named by member (the
// recommended one when empty) and refuses the comparison's violations of
// committed entries. found is false when no replica can be recovered (the
// plan is then final); naming a replica that is not compared is an error.
func chooseRecoverMember(p *RecoverPlan, st *recoverState, member string) (found bool, err error) {
	c := st.comp
	if member == "" {
		member = c.Recommended
	}
	for _, r := range c.Replicas {
		if r.Server == member || (member != "" && filepath.Clean(r.Server) == filepath.Clean(member)) {
			st.member = r
		}
	}
	for _, v := range c.Violations {
		p.refuse(CodeCommittedConflict, "", "restore the cluster from a backup (etcdctl snapshot restore): no replica holds every committed entry", "%s", v)
	}
	if st.member == nil {
		if member == "" {
			p.refuse(CodeNoRecovery, "", adviceReplica, "no replica can be recovered: %s", c.Reason)
			return false, nil
		}
		return false, fmt.Errorf("--member %s is not one of the compared PATHs", member)
	}
	return true, nil
}

// checkRecoverMember fills the plan from the member and its candidacy,
// and refuses a member that cannot be restarted or whose log does not end
// cleanly; segs are its segments (none for a member given as a summary).
func checkRecoverMember(p *RecoverPlan, st *recoverState) (*inspect.Candidate, []inspect.Segment, error) {
	m := st.member
	p.Member, p.Group, p.MemberID, p.HardState, p.Backend = m.Server, m.Group, m.MemberID, m.HardState, m.Backend
	cd := st.comp.Candidate(m.Server)
	p.ForceKeep, p.Keep, p.Loses = cd.ForceKeep, cd.RecoverKeep, cd.RecoverLoses
	if !cd.Eligible {
		p.refuse(CodeNoRecovery, m.Dir, "choose another member (--member), or repair this one first", "%s cannot be restarted: %s", m.Server, cd.Why)
	}
	var segs []inspect.Segment
	if !m.FromSummary() {
		var err error
		if segs, _, err = inspect.OpenGroup(m.Group); err != nil {
			return nil, nil, err
		}
		if reason := logEndsCleanly(m.Log(), segs); reason != "" {
			p.refuse(CodeMemberNotReady, m.Group.WALDir, "run raftctl verify and raftctl repair on it first", "%s", reason)
		}
	}
	return cd, segs, nil
}

// planRecoverChange plans the member's new HardState (commit raised to
// what it keeps, term raised to its last appended entry's), the entries
// the donor appends, and the append to the member's last segment.
func planRecoverChange(p *RecoverPlan, st *recoverState, cd *inspect.Candidate, segs []inspect.Segment) error {
	m := st.member
	l := m.Log()
	p.NewHardState = m.HardState
	p.NewHardState.Commit = max(m.HardState.Commit, cd.RecoverKeep)
	if cd.Donor != "" {
		st.donor = st.comp.Replica(cd.Donor)
		p.Donor, p.AppendFrom, p.AppendTo = cd.Donor, cd.AppendFrom, cd.RecoverKeep
		dg := st.donor.Group
		p.DonorGroup = &dg
		if t, ok := st.donor.Log().TermAt(cd.RecoverKeep); ok && t > p.NewHardState.Term {
			// A HardState term below its log's last term would let the
			// restarted member campaign at a term older than its entries.
			p.NewHardState.Term = t
			p.Notes = append(p.Notes, fmt.Sprintf("the HardState term is raised from %d to %d, the term of the last appended entry (the vote, %x, is kept)", m.HardState.Term, t, m.HardState.Vote))
		}
	}
	p.NextStep = nextStep(m)
	if p.NewHardState == p.HardState && p.AppendFrom == 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%s already keeps every provably committed entry it can (up to %d): nothing to change", m.Server, p.Keep))
		return nil
	}
	if m.FromSummary() {
		p.Notes = append(p.Notes, fmt.Sprintf("%s was given as a summary: run recover plan on its host, with its directory, for the exact change to its last segment", m.Server))
		return nil
	}
	last := segs[len(segs)-1]
	end := l.Segments[len(segs)-1].End
	msg := fmt.Sprintf("raise the HardState commit from %d to %d", m.HardState.Commit, p.NewHardState.Commit)
	if p.AppendFrom != 0 {
		msg = fmt.Sprintf("append entries %d..%d from %s, then %s", p.AppendFrom, p.AppendTo, p.Donor, msg)
	}
	p.Actions = append(p.Actions, Action{Kind: Append, Path: last.Path, Offset: end, Size: last.Size, Reason: "recover",
		Message: msg + fmt.Sprintf(" (records after offset %d of the last segment)", end)})
	sum, size, err := hashHeld(st.held, last.Path)
	if err != nil {
		return err
	}
	p.Files = append(p.Files, FileState{Path: last.Path, Size: size, SHA256: sum})
	return nil
}

// refuseSummaryWork refuses a plan with work to do that read summaries
// (fleet mode: shown, never applied), or whose donor was given as a
// summary (a summary holds no entries).
func refuseSummaryWork(p *RecoverPlan, st *recoverState) {
	work := p.AppendFrom != 0 || p.NewHardState != p.HardState
	if len(p.FromSummaries) > 0 && len(p.Refusals) == 0 && work {
		p.refuse(CodeFromSummary, "", "run raftctl recover plan with the directories of the member and of every other replica (copy them to one machine) to get a plan that recover apply accepts",
			"read from summaries: %v; the comparison is the same as from their directories, but recover apply needs every replica's directory", p.FromSummaries)
	}
	if st.donor != nil && st.donor.FromSummary() && work {
		p.refuse(CodeFromSummary, "", "copy the donor's data directory to this machine and plan again with it",
			"entries %d..%d must come from %s, which was given as a summary (a summary holds no entries)", p.AppendFrom, p.AppendTo, p.Donor)
	}
}

// logEndsCleanly says why new records cannot simply follow the log's last
// record ("" when they can).
func logEndsCleanly(l *inspect.Log, segs []inspect.Segment) string {
	if len(segs) == 0 {
		return "the member has no WAL segment"
	}
	k := len(segs) - 1
	if s := l.Stop; s != nil && (s.Kind != inspect.KindTorn || s.Segment != k) {
		return fmt.Sprintf("the log stops before its end (%v)", s)
	}
	if ss := l.Segments[k]; !ss.Read || ss.Records == 0 {
		return "the last segment holds no record"
	}
	if !l.HasHardState {
		return "the WAL holds no HardState"
	}
	return ""
}

// nextStep is the command that restarts the cluster from the member.
func nextStep(m *inspect.Replica) string {
	if m.ClusterID != "" {
		walDir := ""
		if g := m.Group; g.WALDir != "" && filepath.Clean(g.WALDir) != filepath.Join(g.Dir, "member", "wal") {
			// The WAL kept apart from the data directory (etcd's --wal-dir).
			walDir = " --wal-dir " + g.WALDir
		}
		return fmt.Sprintf("etcd --data-dir %s%s --force-new-cluster (with the member's usual --name and URL flags); then add the other members back with etcdctl member add and empty data directories", m.Group.Dir, walDir)
	}
	return "restart this replica as a single-member cluster (your server's equivalent of etcd's --force-new-cluster), then add the others back empty"
}

// RecoverResult says what ApplyRecover did.
type RecoverResult struct {
	SchemaVersion int           `json:"schema_version"`
	Operation     Operation     `json:"operation"`
	Group         inspect.Group `json:"group"`
	Actions       []Action      `json:"actions"`
	Notes         []string      `json:"notes,omitempty"`
	BackupDir     string        `json:"backup_dir,omitempty"`
	// Appended counts the entries appended; HardState is the member's
	// HardState afterwards.
	Appended  uint64            `json:"appended"`
	HardState inspect.HardState `json:"hard_state"`
	// BytesWritten is the size of the segment written aside.
	BytesWritten int64  `json:"bytes_written"`
	NextStep     string `json:"next_step,omitempty"`
	Steps        int    `json:"steps"`
}

// ErrRefused says that a plan with refusals cannot be applied.
var ErrRefused = errors.New("the plan refuses to recover (see its refusals)")
