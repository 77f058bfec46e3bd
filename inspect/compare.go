package inspect

import (
	"context"
	"fmt"
	"runtime"
	"sort"

	"golang.org/x/sync/errgroup"
)

// Replica is one copy of a group, on one server.
type Replica struct {
	// Server is the PATH the replica was found under.
	Server string `json:"server"`
	Group  Group  `json:"-"`
	// Dir is the group's directory.
	Dir string `json:"dir"`
	// MemberID and ClusterID come from the WAL's metadata record, in hex
	// as etcd prints them ("" when the metadata is not etcd's).
	MemberID   string    `json:"member_id,omitempty"`
	ClusterID  string    `json:"cluster_id,omitempty"`
	FirstIndex uint64    `json:"first_index"`
	LastIndex  uint64    `json:"last_index"`
	LastTerm   uint64    `json:"last_term"`
	HardState  HardState `json:"hard_state"`
	Snapshot   *SnapRef  `json:"snapshot"`
	// Backend is the member's etcd backend database (nil when there is
	// none).
	Backend *Backend `json:"backend,omitempty"`
	// Status is the replica's verify status (ok, warning, error, unknown).
	Status string `json:"status"`
	// Findings are verify's codes at warning or error.
	Findings []string `json:"findings"`

	meta   Metadata
	single bool // the only group found under its PATH
	log    *Log
	// Fleet mode (fleet.go): the content-hash chain and its range, and
	// whether the replica was read from a summary (no log on this host).
	hashes    []ContentHash
	hashRange uint64
	summary   bool
}

// FromSummary reports whether the replica was read from a summary (raftctl
// summary) rather than from its directory: Log then holds only the log's
// bounds, HardState and term runs, and Dir names a directory on another
// host.
func (r *Replica) FromSummary() bool { return r.summary }

// Log returns the pass over the replica's WAL that compare made.
func (r *Replica) Log() *Log { return r.log }

// Label names the replica for people: its server, and its member ID when
// the metadata has one.
func (r *Replica) Label() string {
	if r.MemberID != "" {
		return r.Server + " (" + r.MemberID + ")"
	}
	return r.Server
}

// Divergence describes how two replicas' effective logs relate.
type Divergence struct {
	A string `json:"a"`
	B string `json:"b"`
	// From is the first index both logs cover (after their snapshots).
	From uint64 `json:"from"`
	// Index is the first index where both hold entries of different terms,
	// 0 when they agree on every index both hold.
	Index uint64 `json:"index"`
	// TermA and TermB are the terms at Index.
	TermA uint64 `json:"term_a,omitempty"`
	TermB uint64 `json:"term_b,omitempty"`
	// IdenticalUpTo is the last index up to which they agree (0 when the
	// logs do not overlap).
	IdenticalUpTo uint64 `json:"identical_up_to"`
	// CommittedConflict is true when Index is at or below both replicas'
	// commit index: committed entries disagree, a safety violation.
	CommittedConflict bool `json:"committed_conflict"`
	// BytesDifferFrom and BytesDifferTo bound the first range of indexes
	// where both hold the same terms but different content (their
	// content hashes differ; see ContentHash): same index and term,
	// different bytes, which honest Raft never produces. 0 when none.
	BytesDifferFrom uint64 `json:"bytes_differ_from,omitempty"`
	BytesDifferTo   uint64 `json:"bytes_differ_to,omitempty"`
}

// Loss is what recovering from the recommended replica would discard from
// another replica.
type Loss struct {
	Server      string `json:"server"`
	Committed   uint64 `json:"committed"`
	Uncommitted uint64 `json:"uncommitted"`
	// From is the first discarded index (0 when nothing is discarded).
	From uint64 `json:"from"`
}

// Candidate says what restarting the cluster from one replica keeps.
//
// etcd's --force-new-cluster keeps the member's entries up to its own
// HardState commit and discards the rest; raftctl recover first raises that
// commit to the highest commit proven for the group, appending the
// committed entries the member lacks from a replica that holds them.
type Candidate struct {
	Server string `json:"server"`
	// Eligible is false when the replica cannot be restarted as it is
	// (verify finds errors, or it holds no HardState); Why says why.
	Eligible bool   `json:"eligible"`
	Why      string `json:"why,omitempty"`
	// Proven is the highest index of the replica's own log that some
	// replica's HardState proves committed.
	Proven uint64 `json:"proven"`
	// ForceKeep is the last index --force-new-cluster on it keeps (its
	// HardState commit); ForceDiscard counts the entries it holds past
	// that; ForceLoses counts the provably committed entries (up to the
	// group's ProvenCommit) it does not keep.
	ForceKeep    uint64 `json:"force_keep"`
	ForceDiscard uint64 `json:"force_discard"`
	ForceLoses   uint64 `json:"force_loses"`
	// RecoverKeep is the last index kept after raftctl recover on it and
	// then --force-new-cluster; RecoverLoses the provably committed
	// entries still lost.
	RecoverKeep  uint64 `json:"recover_keep"`
	RecoverLoses uint64 `json:"recover_loses"`
	// Donor is the replica recover copies entries AppendFrom..RecoverKeep
	// from ("" and 0 when it only raises the commit, or does nothing).
	Donor      string `json:"donor,omitempty"`
	AppendFrom uint64 `json:"append_from,omitempty"`
	// BackendAhead is set when the member's backend database applied
	// entries past RecoverKeep (its consistent index is higher).
	BackendAhead bool `json:"backend_ahead,omitempty"`
}

// Comparison is the comparison of one group's replicas.
type Comparison struct {
	Name string `json:"name"`
	// ClusterID is the replicas' etcd cluster ID, when they have one.
	ClusterID string       `json:"cluster_id,omitempty"`
	Replicas  []*Replica   `json:"replicas"`
	Pairs     []Divergence `json:"divergence"`
	// ProvenCommit is the highest index some replica's HardState commits
	// (ProvenBy), at term ProvenTerm: by Raft's log matching property every
	// entry up to it is committed on every replica that holds the same
	// (index, term) there.
	ProvenCommit uint64 `json:"proven_commit"`
	ProvenTerm   uint64 `json:"proven_term"`
	ProvenBy     string `json:"proven_by,omitempty"`
	// Violations lists pairs whose committed entries disagree.
	Violations []string `json:"violations"`
	// Candidates says, per replica, what restarting from it keeps.
	Candidates []Candidate `json:"candidates"`
	// Recommended is the replica whose recovery keeps the most provably
	// committed entries ("" when there is none, or a single replica);
	// Reason says why.
	Recommended string `json:"recommended"`
	Reason      string `json:"reason,omitempty"`
	// ElectionChoice is the replica Raft's election rule prefers (highest
	// last term, then last index, among eligible replicas), for comparison.
	ElectionChoice string `json:"election_choice,omitempty"`
	// Losses says, for every other replica, what recovering from the
	// recommended one discards of its log.
	Losses []Loss `json:"losses"`
	// Single is true when only one replica of the group was found: nothing
	// was compared.
	Single bool `json:"single"`
	// Notes explain how replicas were paired (or not).
	Notes []string `json:"notes"`
}

// Replica returns the comparison's replica found under server.
func (c *Comparison) Replica(server string) *Replica {
	for _, r := range c.Replicas {
		if r.Server == server {
			return r
		}
	}
	return nil
}

// Candidate returns the candidate of server.
func (c *Comparison) Candidate(server string) *Candidate {
	for k := range c.Candidates {
		if c.Candidates[k].Server == server {
			return &c.Candidates[k]
		}
	}
	return nil
}

// CompareGroups pairs the groups found under servers (servers[i] is the
// PATH groups[i] were found under) into replicas of one group, and compares
// each group's replicas.
//
// PATHs that each hold one group are replicas of one group when their WAL
// metadata names the same etcd cluster ID, whatever their directories are
// called (etcd members' data directories have different names); groups
// without etcd metadata, and groups of PATHs that hold several, are paired
// by their path below the PATH. Replicas with different cluster IDs are
// never paired: they are reported apart, with a note. A group found once
// is a comparison with Single set.
//
// Each replica's log is read once by Verify (twice when it is damaged),
// which computes its content hashes as it reads (see SummarizeHost),
// replicas in parallel, in memory that does not grow with the log.
func CompareGroups(ctx context.Context, servers []string, groups [][]Group, opts VerifyOptions) ([]*Comparison, error) {
	srcs := make([]CompareSource, len(servers))
	for k := range servers {
		srcs[k] = CompareSource{Server: servers[k], Groups: groups[k]}
	}
	return CompareSources(ctx, srcs, opts)
}

// CompareSource is one PATH given to compare: the groups found under a
// directory, or the (selected) groups of a summary written by raftctl
// summary on the replica's host.
type CompareSource struct {
	Server string
	Groups []Group
	// Summary, when set, stands for the directory: Groups is then unused,
	// SummaryGroups are the summary's groups to compare.
	Summary       *HostSummary
	SummaryGroups []*FleetGroup
}

// CompareSources is CompareGroups over directories and summaries mixed
// freely: a replica read from its summary gives the same comparison as the
// replica read from its directory (each directory is summarised the same
// way, content hashes included, with the first summary's hash range).
func CompareSources(ctx context.Context, srcs []CompareSource, opts VerifyOptions) ([]*Comparison, error) {
	var all []*Replica
	hr := uint64(DefaultHashRange)
	for _, src := range srcs {
		if src.Summary != nil {
			hr = src.Summary.HashRange
			break
		}
	}
	for _, src := range srcs {
		if src.Summary != nil {
			for _, fg := range src.SummaryGroups {
				r := &Replica{Server: src.Server, single: len(src.SummaryGroups) == 1}
				if err := r.fromSummary(fg, src.Summary.HashRange); err != nil {
					return nil, err
				}
				all = append(all, r)
			}
			continue
		}
		for _, g := range src.Groups {
			all = append(all, &Replica{Server: src.Server, Group: g, Dir: g.Dir, single: len(src.Groups) == 1, hashRange: hr})
		}
	}
	// Read every replica once, opts.Parallel (or the CPUs) at a time.
	eg, ectx := errgroup.WithContext(ctx)
	par := opts.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	eg.SetLimit(par)
	for _, r := range all {
		if r.summary {
			continue
		}
		eg.Go(func() error { return r.load(ectx, opts) })
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	var out []*Comparison
	for _, set := range pairReplicas(all) {
		out = append(out, compareReplicas(set.name, set.reps, set.notes))
	}
	// Fleet mode: summaries written with different --hash-range cannot
	// be compared by content.
	for _, c := range out {
		for i, a := range c.Replicas {
			for _, b := range c.Replicas[i+1:] {
				if a.hashRange != b.hashRange {
					c.Notes = append(c.Notes, fmt.Sprintf("content not compared between %s and %s: their summaries hash %d and %d indexes at a time", a.Server, b.Server, a.hashRange, b.hashRange))
				}
			}
		}
	}
	return out, nil
}

type replicaSet struct {
	name  string
	reps  []*Replica
	notes []string
}

// pairReplicas groups replicas: by cluster ID for PATHs holding one group
// with etcd metadata, by name otherwise, and never across cluster IDs.
func pairReplicas(all []*Replica) []replicaSet {
	byKey := map[string]*replicaSet{}
	var keys []string
	for _, r := range all {
		var key string
		switch {
		case r.single && r.meta.OK:
			key = "cluster\x00" + r.ClusterID
		case r.meta.OK:
			key = "name\x00" + r.Group.Name + "\x00" + r.ClusterID
		default:
			key = "name\x00" + r.Group.Name + "\x00"
		}
		s, ok := byKey[key]
		if !ok {
			s = &replicaSet{}
			byKey[key] = s
			keys = append(keys, key)
		}
		s.reps = append(s.reps, r)
	}
	sets := make([]replicaSet, 0, len(keys))
	for _, k := range keys {
		s := byKey[k]
		s.name = s.reps[0].Group.Name
		for _, r := range s.reps[1:] {
			if r.Group.Name != s.name {
				s.name = "cluster " + r.ClusterID
				break
			}
		}
		sets = append(sets, *s)
	}
	// Replicas that would have been paired but for their cluster IDs.
	for i := range sets {
		a := sets[i].reps[0]
		for j := range sets {
			b := sets[j].reps[0]
			if i == j || !a.meta.OK || !b.meta.OK || a.ClusterID == b.ClusterID {
				continue
			}
			if (a.single && b.single) || (!a.single && !b.single && a.Group.Name == b.Group.Name) {
				sets[i].notes = append(sets[i].notes, fmt.Sprintf("not paired with %s: it belongs to cluster %s, this group to cluster %s", b.Label(), b.ClusterID, a.ClusterID))
			}
		}
	}
	sort.SliceStable(sets, func(i, j int) bool {
		if sets[i].name != sets[j].name {
			return sets[i].name < sets[j].name
		}
		return sets[i].reps[0].ClusterID < sets[j].reps[0].ClusterID
	})
	return sets
}

func (r *Replica) load(ctx context.Context, opts VerifyOptions) error {
	fg, l, err := summarizeGroup(ctx, r.Group, r.hashRange, opts)
	if err != nil {
		return err
	}
	if l == nil {
		return fmt.Errorf("%s: group %s: %w", r.Server, r.Group.Name, fg.readErr)
	}
	r.fill(fg)
	r.log = l
	return nil
}

// fromSummary fills the replica from a summary's group.
func (r *Replica) fromSummary(fg *FleetGroup, hashRange uint64) error {
	if fg.NoLog {
		return fmt.Errorf("%s: group %s: %s", r.Server, fg.Name, fg.Err)
	}
	r.Group, r.Dir, r.summary, r.hashRange = fg.Group(), fg.Dir, true, hashRange
	r.fill(fg)
	r.log = fg.log()
	return nil
}

// fill copies what compare shows of a replica from its summary, the same
// for a directory read now and for a summary read from a file.
func (r *Replica) fill(fg *FleetGroup) {
	r.FirstIndex, r.LastIndex, r.LastTerm, r.HardState = fg.FirstIndex, fg.LastIndex, fg.LastTerm, fg.HardState
	r.Snapshot = fg.Snapshot
	r.MemberID, r.ClusterID = fg.MemberID, fg.ClusterID
	r.meta.OK = fg.ClusterID != ""
	r.Backend = fg.Backend
	r.Status = fg.Status
	r.Findings = []string{}
	for _, f := range fg.Findings {
		if f.Severity.AtLeast(SeverityWarning) {
			r.Findings = append(r.Findings, f.Code)
		}
	}
	r.hashes = fg.Hashes
}

// start is the first index whose term the replica knows (its snapshot's
// index, or its first entry).
func (r *Replica) start() uint64 {
	if len(r.log.runs) == 0 {
		return r.LastIndex + 1
	}
	return r.log.runs[0].start
}

// diverge finds the first index both logs hold with different terms. It
// walks the two logs' term runs, so it costs the number of leader changes,
// not the length of the logs.
func diverge(a, b *Replica) Divergence {
	d := Divergence{A: a.Server, B: b.Server}
	from := max(a.start(), b.start())
	to := min(a.LastIndex, b.LastIndex)
	d.From = from
	if from > to {
		// The logs do not overlap: nothing to disagree on.
		d.IdenticalUpTo = 0
		return d
	}
	i := from
	for i <= to {
		ta, _ := a.log.TermAt(i)
		tb, _ := b.log.TermAt(i)
		if ta != tb {
			d.Index, d.TermA, d.TermB = i, ta, tb
			d.IdenticalUpTo = i - 1
			d.CommittedConflict = i <= a.HardState.Commit && i <= b.HardState.Commit
			d.checkContent(a, b)
			return d
		}
		// Jump to the next index where either log's term may change.
		i = min(nextRun(a.log, i), nextRun(b.log, i))
	}
	d.IdenticalUpTo = to
	d.checkContent(a, b)
	return d
}

// checkContent compares the content hashes of a and b over the indexes
// where their terms agree (From..IdenticalUpTo): a range of the same
// indexes with different hashes holds different bytes under the same
// (index, term). IdenticalUpTo is lowered to the index before it.
func (d *Divergence) checkContent(a, b *Replica) {
	if a.hashRange != b.hashRange || a.hashRange == 0 {
		return
	}
	ha, hb := a.hashes, b.hashes
	i, j := 0, 0
	for i < len(ha) && j < len(hb) {
		x, y := ha[i], hb[j]
		switch {
		case x.From < y.From:
			i++
			continue
		case y.From < x.From:
			j++
			continue
		}
		i++
		j++
		if x.To != y.To || x.From < d.From || x.To > d.IdenticalUpTo {
			continue
		}
		if x.XXH64 != y.XXH64 {
			d.BytesDifferFrom, d.BytesDifferTo = x.From, x.To
			d.IdenticalUpTo = x.From - 1
			return
		}
	}
}

// nextRun returns the first index after i where l's term run changes (or
// past its end).
func nextRun(l *Log, i uint64) uint64 {
	k := sort.Search(len(l.runs), func(k int) bool { return l.runs[k].start > i })
	if k < len(l.runs) {
		return l.runs[k].start
	}
	return l.LastIndex + 1
}

// compareReplicas compares the replicas of one group: every pair's
// divergence and the violations of committed entries, the commit the
// replicas prove, each replica as a candidate, the one Raft's election
// rule would choose, and the recommended one with what recovering it
// loses on the others.
func compareReplicas(name string, reps []*Replica, notes []string) *Comparison {
	c := &Comparison{Name: name, Replicas: reps, Pairs: []Divergence{}, Violations: []string{}, Losses: []Loss{},
		Candidates: []Candidate{}, Notes: append([]string{}, notes...)}
	if len(reps) > 0 {
		c.ClusterID = reps[0].ClusterID
	}
	agree := c.comparePairs(reps)
	if len(reps) == 1 {
		c.Single = true
		c.Notes = append(c.Notes, "only one replica found ("+reps[0].Label()+"): nothing to compare")
	}
	c.setProven(reps)
	ag := func(a, b *Replica) uint64 {
		if a == b {
			return a.LastIndex
		}
		return agree[[2]*Replica{a, b}]
	}
	for _, s := range reps {
		c.Candidates = append(c.Candidates, c.candidate(s, reps, ag))
	}
	// Raft's election rule, for comparison.
	elect := c.electionWinner(reps)
	if elect != nil {
		c.ElectionChoice = elect.Server
	}
	if c.Single {
		return c
	}
	if len(c.Violations) > 0 {
		c.Reason = "replicas disagree on committed entries: no recovery keeps them all"
		return c
	}
	best, bestRep := c.bestCandidate(reps)
	if best == nil {
		c.Reason = "no replica verifies without error"
		return c
	}
	c.Recommended = best.Server
	c.Reason = c.reason(best, elect)
	c.addLosses(reps, best, bestRep)
	return c
}

// comparePairs records the divergence of every pair of replicas and the
// violations it shows (committed entries that differ, different bytes
// under the same index and term); it returns, for each ordered pair,
// the index up to which both are identical.
func (c *Comparison) comparePairs(reps []*Replica) map[[2]*Replica]uint64 {
	agree := map[[2]*Replica]uint64{}
	for i := 0; i < len(reps); i++ {
		for j := i + 1; j < len(reps); j++ {
			d := diverge(reps[i], reps[j])
			c.Pairs = append(c.Pairs, d)
			agree[[2]*Replica{reps[i], reps[j]}] = d.IdenticalUpTo
			agree[[2]*Replica{reps[j], reps[i]}] = d.IdenticalUpTo
			if d.CommittedConflict {
				c.Violations = append(c.Violations, fmt.Sprintf("%s and %s disagree at committed index %d (terms %d and %d)", d.A, d.B, d.Index, d.TermA, d.TermB))
			}
			if d.BytesDifferFrom != 0 {
				c.Violations = append(c.Violations, fmt.Sprintf("%s and %s hold different bytes at indexes %d..%d under the same index and term: corruption or a bug", d.A, d.B, d.BytesDifferFrom, d.BytesDifferTo))
			}
		}
	}
	return agree
}

// setProven sets the highest commit a replica proves: its HardState
// commit (or what its backend applied, see committed), at the term its
// own log holds there.
func (c *Comparison) setProven(reps []*Replica) {
	var prover *Replica
	for _, r := range reps {
		if _, ok := r.log.TermAt(r.committed()); !ok {
			continue
		}
		if prover == nil || r.committed() > prover.committed() {
			prover = r
		}
	}
	if prover != nil {
		c.ProvenCommit = prover.committed()
		c.ProvenTerm, _ = prover.log.TermAt(c.ProvenCommit)
		c.ProvenBy = prover.Server
	}
}

// electionWinner is the eligible replica Raft's election rule would
// choose (the highest last term, then the highest last index), or nil.
// c.Candidates must hold one candidate per replica, in order.
func (c *Comparison) electionWinner(reps []*Replica) *Replica {
	var elect *Replica
	for k, r := range reps {
		if !c.Candidates[k].Eligible {
			continue
		}
		if elect == nil || r.LastTerm > elect.LastTerm || (r.LastTerm == elect.LastTerm && r.LastIndex > elect.LastIndex) {
			elect = r
		}
	}
	return elect
}

// bestCandidate is the eligible candidate to recommend (see better) and
// its replica, or nil.
func (c *Comparison) bestCandidate(reps []*Replica) (*Candidate, *Replica) {
	var best *Candidate
	var bestRep *Replica
	for k := range c.Candidates {
		cd, r := &c.Candidates[k], reps[k]
		if !cd.Eligible {
			continue
		}
		if best == nil || better(cd, r, best, bestRep) {
			best, bestRep = cd, r
		}
	}
	return best, bestRep
}

// addLosses records, for every replica but the recommended one, the
// entries it loses when the group is recovered from the recommended one
// (committed and not).
func (c *Comparison) addLosses(reps []*Replica, best *Candidate, bestRep *Replica) {
	for _, r := range reps {
		if r == bestRep {
			continue
		}
		d := diverge(bestRep, r)
		l := Loss{Server: r.Server}
		if d.Index != 0 {
			l.From = d.Index
		} else if r.LastIndex > best.RecoverKeep {
			l.From = best.RecoverKeep + 1
		}
		if l.From != 0 && l.From <= r.LastIndex {
			n := r.LastIndex - l.From + 1
			if r.HardState.Commit >= l.From {
				l.Committed = min(n, r.HardState.Commit-l.From+1)
			}
			l.Uncommitted = n - l.Committed
		}
		c.Losses = append(c.Losses, l)
	}
}

// better orders candidates: more provably committed entries kept after
// recover, then more kept by --force-new-cluster alone (less to change),
// then Raft's election rule, then the server's name.
func better(a *Candidate, ra *Replica, b *Candidate, rb *Replica) bool {
	switch {
	case a.RecoverKeep != b.RecoverKeep:
		return a.RecoverKeep > b.RecoverKeep
	case a.ForceKeep != b.ForceKeep:
		return a.ForceKeep > b.ForceKeep
	case ra.LastTerm != rb.LastTerm:
		return ra.LastTerm > rb.LastTerm
	case ra.LastIndex != rb.LastIndex:
		return ra.LastIndex > rb.LastIndex
	}
	return ra.Server < rb.Server
}

// candidate works out what restarting from s keeps. ag(a, b) is the last
// index up to which a and b hold the same terms.
func (c *Comparison) candidate(s *Replica, reps []*Replica, ag func(a, b *Replica) uint64) Candidate {
	cd := Candidate{Server: s.Server, Eligible: true}
	switch {
	case s.Status != StatusOK && s.Status != StatusWarning:
		cd.Eligible, cd.Why = false, "verify status "+s.Status
	case !s.log.HasHardState:
		cd.Eligible, cd.Why = false, "no HardState"
	}
	// What s's own log holds that some replica's commit proves.
	cd.Proven = s.committed()
	for _, r := range reps {
		if _, ok := r.log.TermAt(r.committed()); !ok {
			continue
		}
		cd.Proven = max(cd.Proven, min(ag(s, r), r.committed()))
	}
	// etcd's --force-new-cluster commits max(HardState.commit, the
	// backend's consistent index): wal.Save does not sync a HardState
	// whose commit alone changed, so the backend may have applied more.
	cd.ForceKeep = s.HardState.Commit
	if s.Backend != nil && s.Backend.Err == "" && s.Backend.ConsistentIndex > cd.ForceKeep {
		cd.ForceKeep = min(s.Backend.ConsistentIndex, max(s.LastIndex, s.HardState.Commit))
	}
	if s.LastIndex > cd.ForceKeep {
		cd.ForceDiscard = s.LastIndex - cd.ForceKeep
	}
	cd.ForceLoses = c.ProvenCommit - min(c.ProvenCommit, cd.ForceKeep)
	cd.RecoverKeep = max(cd.Proven, cd.ForceKeep)
	if t, ok := s.log.TermAt(c.ProvenCommit); ok && t == c.ProvenTerm {
		cd.RecoverKeep = max(cd.RecoverKeep, c.ProvenCommit)
	} else if c.ProvenCommit > cd.RecoverKeep {
		// A donor that holds the proven commit's entry and agrees with s
		// up to somewhere at or after s's commit.
		var donor *Replica
		var at uint64
		for _, d := range reps {
			if d == s || (d.Status != StatusOK && d.Status != StatusWarning) {
				continue
			}
			if t, ok := d.log.TermAt(c.ProvenCommit); !ok || t != c.ProvenTerm {
				continue
			}
			m := ag(s, d)
			if m < s.HardState.Commit || m < s.start() || m < d.start() {
				continue
			}
			if donor == nil || m > at {
				donor, at = d, m
			}
		}
		if donor != nil {
			cd.RecoverKeep, cd.Donor, cd.AppendFrom = c.ProvenCommit, donor.Server, at+1
		}
	}
	cd.RecoverLoses = c.ProvenCommit - min(c.ProvenCommit, cd.RecoverKeep)
	if s.Backend != nil && s.Backend.Err == "" && s.Backend.ConsistentIndex > cd.RecoverKeep {
		cd.BackendAhead = true
	}
	return cd
}

// reason explains the recommendation.
func (c *Comparison) reason(best *Candidate, elect *Replica) string {
	var why string
	switch {
	case best.RecoverLoses == 0 && best.RecoverKeep == best.ForceKeep:
		why = fmt.Sprintf("its own commit (%d) already covers every provably committed entry (up to %d, proven by %s)", best.ForceKeep, c.ProvenCommit, c.ProvenBy)
	case best.RecoverLoses == 0 && best.Donor == "":
		why = fmt.Sprintf("its log holds every provably committed entry (up to %d, proven by %s); raftctl recover raises its commit from %d", c.ProvenCommit, c.ProvenBy, best.ForceKeep)
	case best.RecoverLoses == 0:
		why = fmt.Sprintf("raftctl recover raises its commit from %d to %d (proven by %s) and appends entries %d..%d from %s", best.ForceKeep, c.ProvenCommit, c.ProvenBy, best.AppendFrom, best.RecoverKeep, best.Donor)
	default:
		why = fmt.Sprintf("it keeps the most provably committed entries (up to %d of %d)", best.RecoverKeep, c.ProvenCommit)
	}
	if elect != nil && elect.Server != best.Server {
		e := c.Candidate(elect.Server)
		why += fmt.Sprintf("; Raft's election rule would pick %s, where --force-new-cluster keeps up to %d and loses %d committed entries", elect.Server, e.ForceKeep, e.ForceLoses)
	}
	return why
}

// EntriesAround returns the replica's effective entries with index in
// [from, to], for showing a divergence. It reads the replica's log once
// more and stops early.
func (r *Replica) EntriesAround(ctx context.Context, from, to uint64) ([]EntryInfo, error) {
	if r.summary {
		return nil, fmt.Errorf("%s: read from a summary: its entries are on its host", r.Server)
	}
	segs, _, err := OpenGroup(r.Group)
	if err != nil {
		return nil, err
	}
	var out []EntryInfo
	stop := fmt.Errorf("done")
	err = EffectiveEntries(ctx, segs, r.log, func(e *Entry, _ *Record) error {
		if e.Index > to {
			return stop
		}
		if e.Index >= from {
			out = append(out, EntryInfo{Index: e.Index, Term: e.Term, Type: e.Type.String(), Size: len(e.Data)})
		}
		return nil
	})
	if err != nil && err != stop {
		return nil, err
	}
	return out, nil
}

// EntryInfo is an entry without its payload.
type EntryInfo struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	Type  string `json:"type"`
	Size  int    `json:"size"`
}

// committed is the highest index the replica proves committed: its
// HardState's commit, or the consistent index of its etcd backend when
// that is higher and its log holds the entry (etcd applies only committed
// entries, and wal.Save does not sync a HardState whose commit alone
// changed, so the backend can be ahead).
func (r *Replica) committed() uint64 {
	c := r.HardState.Commit
	if b := r.Backend; b != nil && b.Err == "" && b.ConsistentIndex > c && r.log != nil {
		if _, ok := r.log.TermAt(b.ConsistentIndex); ok {
			c = b.ConsistentIndex
		}
	}
	return c
}
