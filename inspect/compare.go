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
	Dir        string    `json:"dir"`
	FirstIndex uint64    `json:"first_index"`
	LastIndex  uint64    `json:"last_index"`
	LastTerm   uint64    `json:"last_term"`
	HardState  HardState `json:"hard_state"`
	Snapshot   *SnapRef  `json:"snapshot"`
	// Status is the replica's verify status (ok, warning, error, unknown).
	Status string `json:"status"`
	// Findings are verify's codes at warning or error.
	Findings []string `json:"findings"`

	log *Log
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
	// IdenticalUpTo is the last index up to which they agree.
	IdenticalUpTo uint64 `json:"identical_up_to"`
	// CommittedConflict is true when Index is at or below both replicas'
	// commit index: committed entries disagree, a safety violation.
	CommittedConflict bool `json:"committed_conflict"`
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

// Comparison is the comparison of one group's replicas.
type Comparison struct {
	Name     string       `json:"name"`
	Replicas []*Replica   `json:"replicas"`
	Pairs    []Divergence `json:"divergence"`
	// AgreedCommit is the highest index up to which every replica that
	// holds it has the same entries and that all replicas have committed.
	AgreedCommit uint64 `json:"agreed_commit"`
	// Violations lists pairs whose committed entries disagree.
	Violations []string `json:"violations"`
	// Recommended is the server Raft's election rule would prefer among
	// the replicas that verify without error ("" when none does).
	Recommended string `json:"recommended"`
	// Losses says, for every other replica, what recovering from the
	// recommended one would discard.
	Losses []Loss `json:"losses"`
}

// CompareGroups matches groups across servers by name and compares the
// replicas of each group. servers[i] is the PATH groups[i] were found
// under. Groups found on a single server are compared too (one replica).
// Each replica's log is read once, by Verify (twice when it is damaged),
// replicas in parallel.
func CompareGroups(ctx context.Context, servers []string, groups [][]Group, opts VerifyOptions) ([]*Comparison, error) {
	byName := map[string][]*Replica{}
	var names []string
	for k, gs := range groups {
		for _, g := range gs {
			r := &Replica{Server: servers[k], Group: g, Dir: g.Dir}
			if _, ok := byName[g.Name]; !ok {
				names = append(names, g.Name)
			}
			byName[g.Name] = append(byName[g.Name], r)
		}
	}
	sort.Strings(names)
	// Read every replica once, opts.Parallel (or the CPUs) at a time.
	eg, ectx := errgroup.WithContext(ctx)
	par := opts.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	eg.SetLimit(par)
	for _, name := range names {
		for _, r := range byName[name] {
			eg.Go(func() error { return r.load(ectx, opts) })
		}
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	var out []*Comparison
	for _, name := range names {
		out = append(out, compareReplicas(name, byName[name]))
	}
	return out, nil
}

func (r *Replica) load(ctx context.Context, opts VerifyOptions) error {
	rep, err := Verify(ctx, r.Group, opts)
	if err != nil {
		return err
	}
	l := rep.log
	if l == nil {
		// Verify read the WAL in several parts (it is damaged): read it
		// once more the way every other command does.
		s, err := Summarize(ctx, r.Group)
		if err != nil {
			return fmt.Errorf("%s: group %s: %w", r.Server, r.Group.Name, err)
		}
		l = s.Log
	}
	r.log = l
	r.FirstIndex, r.LastIndex, r.LastTerm, r.HardState = l.FirstIndex, l.LastIndex, l.LastTerm, l.HardState
	if snap, ok := l.LatestSnapshot(); ok {
		r.Snapshot = &SnapRef{Index: snap.Index, Term: snap.Term}
	}
	r.Status = rep.Status
	r.Findings = []string{}
	for _, f := range rep.Findings {
		if f.Severity.AtLeast(SeverityWarning) {
			r.Findings = append(r.Findings, f.Code)
		}
	}
	return nil
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
			return d
		}
		// Jump to the next index where either log's term may change.
		i = min(nextRun(a.log, i), nextRun(b.log, i))
	}
	d.IdenticalUpTo = to
	return d
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

func compareReplicas(name string, reps []*Replica) *Comparison {
	c := &Comparison{Name: name, Replicas: reps, Pairs: []Divergence{}, Violations: []string{}, Losses: []Loss{}}
	agreed := ^uint64(0)
	for _, r := range reps {
		agreed = min(agreed, r.HardState.Commit)
	}
	for i := 0; i < len(reps); i++ {
		for j := i + 1; j < len(reps); j++ {
			d := diverge(reps[i], reps[j])
			c.Pairs = append(c.Pairs, d)
			if d.Index != 0 && d.Index-1 < agreed {
				agreed = d.Index - 1
			}
			if d.CommittedConflict {
				c.Violations = append(c.Violations, fmt.Sprintf("%s and %s disagree at committed index %d (terms %d and %d)", d.A, d.B, d.Index, d.TermA, d.TermB))
			}
		}
	}
	if len(reps) == 0 {
		agreed = 0
	}
	c.AgreedCommit = agreed
	// Raft's election rule: the highest last term, then the highest last
	// index, among replicas that verify without error.
	var best *Replica
	for _, r := range reps {
		if r.Status != StatusOK && r.Status != StatusWarning {
			continue
		}
		if best == nil || r.LastTerm > best.LastTerm || (r.LastTerm == best.LastTerm && r.LastIndex > best.LastIndex) {
			best = r
		}
	}
	if best == nil {
		return c
	}
	c.Recommended = best.Server
	for _, r := range reps {
		if r == best {
			continue
		}
		d := diverge(best, r)
		l := Loss{Server: r.Server}
		if d.Index != 0 {
			l.From = d.Index
		} else if r.LastIndex > best.LastIndex {
			l.From = best.LastIndex + 1
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
	return c
}

// EntriesAround returns the replica's effective entries with index in
// [from, to], for showing a divergence. It reads the replica's log once
// more and stops early.
func (r *Replica) EntriesAround(ctx context.Context, from, to uint64) ([]EntryInfo, error) {
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
