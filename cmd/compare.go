package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

func init() { extraCommands = append(extraCommands, newCompareCmd) }

type compareOptions struct {
	sel       selector
	dirs      replicaDirs
	entries   bool
	summaries []string // fleet mode: --summary FILE
}

func newCompareCmd(g *globals) *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare PATH PATH [PATH...]",
		Short: "Compare a group's replicas: who is ahead, where they diverge, which to recover from",
		Long: `Compare the replicas of each group across servers: who is ahead, where they
diverge, and which one to restart the cluster from when it lost its quorum.

Each PATH is one server's data directory (or one group directory). PATHs that
each hold one group are replicas of one group when their WAL metadata names the
same etcd cluster ID, whatever the directories are called (infra1.etcd,
infra2.etcd, ...); replicas of different clusters are never paired, and a note
says so. Groups without etcd metadata, and servers holding several groups, are
paired by the group's path below each PATH (node-1/group-3 and node-2/group-3).

For each group raftctl shows every replica's member ID (hex, as etcd prints
it), last index and term, HardState, newest snapshot, the consistent index of
etcd's backend database (snap/db, read-only) and verify status; the divergence
point of every pair (the first index where both hold entries of different
terms); and the proven commit: the highest HardState commit of any replica.
By Raft's log matching property every entry up to it is committed on every
replica that holds the same index and term there.

Then, per replica, what each way of restarting the cluster from it keeps:
etcd's --force-new-cluster keeps the member's entries up to its own HardState
commit and discards the rest; raftctl recover first raises that commit to the
proven commit its own log reaches and appends the committed entries it lacks
from a replica that holds them. The recommendation is the replica that keeps
the most provably committed entries (not Raft's election rule, which is shown
for comparison), with the reason.

` + replicaDirsHelp + `

--entries lists the entries around each divergence point (index, term and
payload size per replica), like a diff (replicas read from a directory only).

Fleet mode: a PATH ending in .json (or a --summary FILE) is a summary written
by raftctl summary on the replica's host; directories and summaries mix
freely and give the same comparison. Content hashes in the summaries (and
computed the same way for directories) show replicas holding different bytes
under the same index and term: a safety violation, corruption or a bug.

Exit status 0 means every group has several replicas that agree on their
committed entries and one to recover from; 1 means a group was found only
once (nothing was compared), committed entries disagree somewhere, or no
replica of a group verifies.

Read-only: never changes a byte and takes no lock (bbolt holds a shared lock
on snap/db for the moment it reads it, and gives up at once on a live member).

` + exitStatusHelp(),
		Example: `  $ raftctl compare testdata/sample/node-1 testdata/sample/node-2 testdata/sample/node-4
  $ raftctl compare testdata/sample/node-1 testdata/sample/node-4 --group group-1 --entries -o json
  $ raftctl compare testdata/sample/node-1/group-2 testdata/sample/node-3/group-2
  $ raftctl compare testdata/fleet/node-1.json testdata/sample/node-2 --summary testdata/fleet/node-4.json`,
		Args: cobra.ArbitraryArgs,
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	o.dirs.addFlags(cmd)
	cmd.Flags().BoolVar(&o.entries, "entries", false, "list the entries around each divergence point")
	cmd.Flags().StringArrayVar(&o.summaries, "summary", nil, "a summary file written by raftctl summary, as a replica (repeatable)")
	return cmd
}

// compareSchemaVersion is the version of compare's JSON: 3 writes the
// HardState's vote as a hex string, as every other ID (see ids.go).
const compareSchemaVersion = 3

type compareJSON struct {
	SchemaVersion int                 `json:"schema_version"`
	Groups        []*compareGroupJSON `json:"groups"`
	Summary       compareSummaryJSON  `json:"summary"`
}

type compareGroupJSON struct {
	*inspect.Comparison
	Entries []divergenceEntries `json:"entries,omitempty"`
}

type divergenceEntries struct {
	A       string                         `json:"a"`
	B       string                         `json:"b"`
	Index   uint64                         `json:"index"`
	Replica map[string][]inspect.EntryInfo `json:"replicas"`
}

type compareSummaryJSON struct {
	Groups     int `json:"groups"`
	Violations int `json:"violations"`
	NoReplica  int `json:"no_recommendation"`
	Single     int `json:"single_replica"`
}

func (o *compareOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, srcs, cleanup, err := readReplicas(cmd, g, &o.sel, &o.dirs, args, o.summaries)
	if err != nil {
		return err
	}
	defer cleanup()
	comps, err := inspect.CompareSources(cmd.Context(), srcs, inspect.VerifyOptions{})
	if err != nil {
		return describeFSError(err)
	}
	out := compareJSON{SchemaVersion: compareSchemaVersion}
	for _, c := range comps {
		gj := &compareGroupJSON{Comparison: c}
		if o.entries {
			if gj.Entries, err = entriesAroundDivergences(cmd.Context(), c); err != nil {
				return err
			}
		}
		out.add(gj)
	}
	err = renderDoc(g, mode, out, out.Groups, func() error { return renderCompare(g, mode, out.Groups) })
	if err != nil {
		return err
	}
	if out.Summary.Violations > 0 || out.Summary.NoReplica > 0 || out.Summary.Single > 0 {
		return findings()
	}
	return nil
}

// readReplicas is the start of compare and recover plan: the output
// mode and the replicas, the PATHs and --summary files (at least two in
// all). cleanup releases what opening them took; call it when done.
func readReplicas(cmd *cobra.Command, g *globals, sel *selector, dirs *replicaDirs, args, summaries []string) (mode format.Mode, srcs []inspect.CompareSource, cleanup func(), err error) {
	if mode, err = g.mode(); err != nil {
		return "", nil, nil, err
	}
	if len(args)+len(summaries) < 2 {
		return "", nil, nil, usageErrorf("requires at least 2 arg(s) (PATHs or --summary files), only received %d", len(args)+len(summaries))
	}
	srcs, cleanup, err = compareSources(cmd, g, sel, dirs, args, summaries)
	return mode, srcs, cleanup, err
}

// entriesAroundDivergences lists, for each pair of c's replicas that
// diverge, the entries of both (those read from directories) from two
// before the divergence to two after it.
func entriesAroundDivergences(ctx context.Context, c *inspect.Comparison) ([]divergenceEntries, error) {
	var out []divergenceEntries
	for _, p := range c.Pairs {
		if p.Index == 0 {
			continue
		}
		de := divergenceEntries{A: p.A, B: p.B, Index: p.Index, Replica: map[string][]inspect.EntryInfo{}}
		for _, r := range c.Replicas {
			if (r.Server != p.A && r.Server != p.B) || r.FromSummary() {
				continue
			}
			from := p.Index - min(p.Index-1, 2)
			ents, err := r.EntriesAround(ctx, from, p.Index+2)
			if err != nil {
				return nil, err
			}
			de.Replica[r.Server] = ents
		}
		out = append(out, de)
	}
	return out, nil
}

// add appends a group and counts it in the summary.
func (out *compareJSON) add(gj *compareGroupJSON) {
	c := gj.Comparison
	out.Groups = append(out.Groups, gj)
	out.Summary.Groups++
	if len(c.Violations) > 0 {
		out.Summary.Violations++
	}
	switch {
	case c.Single:
		out.Summary.Single++
	case c.Recommended == "":
		out.Summary.NoReplica++
	}
}

// renderCompare writes each group's comparison, a blank line between
// groups (renderCompareGroup).
func renderCompare(g *globals, mode format.Mode, groups []*compareGroupJSON) error {
	sc := g.scheme(mode)
	for k, gj := range groups {
		if k > 0 {
			fmt.Fprintln(g.io.Out)
		}
		if err := renderCompareGroup(g, mode, sc, gj); err != nil {
			return err
		}
	}
	return nil
}

// renderCompareGroup writes one group: its title, the replicas' table,
// the notes, how each pair compares, the entries around divergences, the
// proven commit and safety violations, then (with several replicas) what
// each candidate keeps and the recommendation.
func renderCompareGroup(g *globals, mode format.Mode, sc *format.Scheme, gj *compareGroupJSON) error {
	c := gj.Comparison
	w := g.io.Out
	title := "group " + c.Name
	if c.ClusterID != "" && !strings.Contains(c.Name, c.ClusterID) {
		title += " (cluster " + c.ClusterID + ")"
	}
	fmt.Fprintln(w, sc.Bold(title))
	if err := compareReplicaTable(sc, c).Render(w, mode, format.TableOptions{Width: g.io.Width, PlainHeader: true}); err != nil {
		return err
	}
	for _, n := range c.Notes {
		fmt.Fprintln(w, sc.Warn("note: ")+n)
	}
	for _, p := range c.Pairs {
		fmt.Fprintln(w, comparePairLine(sc, p))
	}
	for _, de := range gj.Entries {
		fmt.Fprintf(w, "entries around %d:\n", de.Index)
		for _, srv := range []string{de.A, de.B} {
			for _, e := range de.Replica[srv] {
				fmt.Fprintf(w, "  %s\t%d\t%d\t%s\t%d\n", srv, e.Index, e.Term, e.Type, e.Size)
			}
		}
	}
	if c.ProvenBy != "" {
		fmt.Fprintf(w, "proven commit: %d (term %d, HardState of %s)\n", c.ProvenCommit, c.ProvenTerm, c.ProvenBy)
	}
	for _, v := range c.Violations {
		fmt.Fprintln(w, sc.Err("safety violation: ")+v)
	}
	if c.Single {
		fmt.Fprintln(w, sc.Err("single replica: nothing compared, nothing to recommend"))
		return nil
	}
	if err := renderCandidates(g, mode, c); err != nil {
		return err
	}
	writeRecommendation(w, sc, c)
	return nil
}

// compareReplicaTable is a row per replica: member, log bounds,
// HardState, snapshot, applied index and status; the recommended one is
// starred.
func compareReplicaTable(sc *format.Scheme, c *inspect.Comparison) *format.Table {
	t := &format.Table{Headers: []string{"replica", "member", "first", "last", "term", "hardstate t/v/c", "snapshot", "applied", "status"},
		Truncatable: []bool{true}, Key: []bool{true}, Drop: []int{2, 6, 4}} // first, snapshot, term
	for _, r := range c.Replicas {
		snap := "-"
		if r.Snapshot != nil {
			snap = fmt.Sprintf("%d@%d", r.Snapshot.Index, r.Snapshot.Term)
		}
		status := r.Status
		switch status {
		case inspect.StatusOK:
			status = sc.OK(status)
		case inspect.StatusWarning:
			status = sc.Warn(status + " " + strings.Join(r.Findings, ","))
		default:
			status = sc.Err(status + " " + strings.Join(r.Findings, ","))
		}
		name := r.Server
		if name == c.Recommended {
			name += " *"
		}
		t.Rows = append(t.Rows, []string{name, orDash(r.MemberID), u64(r.FirstIndex), u64(r.LastIndex), u64(r.LastTerm),
			fmt.Sprintf("%d/%x/%d", r.HardState.Term, r.HardState.Vote, r.HardState.Commit), snap, backendCell(r.Backend), status})
	}
	return t
}

// comparePairLine says how two replicas' logs compare.
//
// The "DIFFERENT BYTES" case is unreachable as written (the case before
// it takes every pair with Index 0); it is kept so that the output stays
// as it was (the violation line reports the differing bytes).
func comparePairLine(sc *format.Scheme, p inspect.Divergence) string {
	switch {
	case p.BytesDifferFrom != 0:
		// Checked first: the terms may agree all along, and this is the
		// one thing honest replicas never show.
		line := fmt.Sprintf("%s ~ %s: %s at indexes %d..%d (same terms), identical up to %d", p.A, p.B, sc.Err("DIFFERENT BYTES"), p.BytesDifferFrom, p.BytesDifferTo, p.IdenticalUpTo)
		if p.Index != 0 {
			line += fmt.Sprintf("; diverge at index %d (terms %d and %d)", p.Index, p.TermA, p.TermB)
		}
		return line
	case p.Index == 0 && p.IdenticalUpTo == 0:
		return fmt.Sprintf("%s ~ %s: the logs do not overlap", p.A, p.B)
	case p.Index == 0:
		return fmt.Sprintf("%s ~ %s: identical up to %d", p.A, p.B, p.IdenticalUpTo)
	case p.CommittedConflict:
		return fmt.Sprintf("%s ~ %s: %s at index %d (terms %d and %d), identical up to %d", p.A, p.B, sc.Err("COMMITTED ENTRIES DIFFER"), p.Index, p.TermA, p.TermB, p.IdenticalUpTo)
	}
	return fmt.Sprintf("%s ~ %s: diverge at index %d (terms %d and %d), identical up to %d", p.A, p.B, p.Index, p.TermA, p.TermB, p.IdenticalUpTo)
}

// writeRecommendation names the replica to recover from and why, the
// next step, and what recovering each other replica from it discards;
// or why there is none.
func writeRecommendation(w io.Writer, sc *format.Scheme, c *inspect.Comparison) {
	if c.Recommended == "" {
		fmt.Fprintln(w, sc.Err("nothing to recommend: ")+c.Reason)
		return
	}
	fmt.Fprintf(w, "recommended: %s\n", sc.OK(c.Recommended))
	fmt.Fprintf(w, "  because %s\n", c.Reason)
	if cd := c.Candidate(c.Recommended); cd != nil && cd.RecoverKeep > cd.ForceKeep {
		fmt.Fprintf(w, "  next: raftctl recover plan %s\n", recoverArgs(c))
	}
	for _, l := range c.Losses {
		if l.Committed+l.Uncommitted == 0 {
			fmt.Fprintf(w, "  recovering %s from it discards nothing\n", l.Server)
			continue
		}
		fmt.Fprintf(w, "  recovering %s from it discards %d committed and %d uncommitted entries from index %d\n", l.Server, l.Committed, l.Uncommitted, l.From)
	}
}

// replicaDirs are --wal-dir and --snap-dir for the commands that read
// several replicas (compare, recover plan): one per directory PATH, in
// order, "" for a PATH whose WAL (or snapshots) are in place.
type replicaDirs struct {
	walDirs, snapDirs []string
}

func (d *replicaDirs) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&d.walDirs, "wal-dir", nil, "the WAL directory of a PATH whose WAL is kept apart from its data directory (etcd's --wal-dir); one per PATH, in order, '' for a PATH whose WAL is in place")
	cmd.Flags().StringArrayVar(&d.snapDirs, "snap-dir", nil, "the snapshot directory of a PATH whose snapshots are kept apart; one per PATH, in order, '' for one in place")
}

// replicaDirsHelp documents replicaDirs in a command's help.
const replicaDirsHelp = `--wal-dir DIR reads a replica's WAL from DIR, as etcd's --wal-dir places it
apart from the data directory; --snap-dir DIR likewise its snapshots. Give
one per directory PATH, in the order of the PATHs, '' for a PATH whose WAL
(or snapshots) are in place, for example
  infra1 infra2 --wal-dir /wal/infra1 --wal-dir /wal/infra2
A PATH with either then names one member (its data directory); summary
files (.json) take none.`

// check validates the counts against the PATHs (summaries excluded).
func (d *replicaDirs) check(dirPaths []string) error {
	for _, l := range []struct {
		flag string
		v    []string
	}{{"--wal-dir", d.walDirs}, {"--snap-dir", d.snapDirs}} {
		if len(l.v) > 0 && len(l.v) != len(dirPaths) {
			return usageErrorf("%s given %d times for %d directory PATHs: give one per PATH, in order ('' for a PATH whose directory is in place)", l.flag, len(l.v), len(dirPaths))
		}
	}
	return nil
}

// forPath is sel with the k-th directory PATH's --wal-dir and --snap-dir.
func (d *replicaDirs) forPath(sel *selector, k int) *selector {
	s := *sel
	if k < len(d.walDirs) {
		s.walDir = d.walDirs[k]
	}
	if k < len(d.snapDirs) {
		s.snapDir = d.snapDirs[k]
	}
	return &s
}

// any reports whether a PATH has its WAL or snapshots apart.
func (d *replicaDirs) any(k int) bool {
	return (k < len(d.walDirs) && d.walDirs[k] != "") || (k < len(d.snapDirs) && d.snapDirs[k] != "")
}

// renderCandidates shows what each replica keeps.
func renderCandidates(g *globals, mode format.Mode, c *inspect.Comparison) error {
	t := &format.Table{Headers: []string{"restart from", "force-new-cluster keeps", "discards", "loses committed", "recover keeps", "loses committed", "recover does"},
		Truncatable: []bool{true}, Key: []bool{true}}
	for _, cd := range c.Candidates {
		name := cd.Server
		if name == c.ElectionChoice {
			name += " (election rule)"
		}
		if !cd.Eligible {
			t.Rows = append(t.Rows, []string{name, "-", "-", "-", "-", "-", "not eligible: " + cd.Why})
			continue
		}
		does := "nothing"
		switch {
		case cd.Donor != "":
			does = fmt.Sprintf("commit %d->%d, append %d..%d from %s", cd.ForceKeep, cd.RecoverKeep, cd.AppendFrom, cd.RecoverKeep, cd.Donor)
		case cd.RecoverKeep > cd.ForceKeep:
			does = fmt.Sprintf("commit %d->%d", cd.ForceKeep, cd.RecoverKeep)
		}
		if cd.BackendAhead {
			does += " (backend applied past it)"
		}
		t.Rows = append(t.Rows, []string{name, "<= " + u64(cd.ForceKeep), u64(cd.ForceDiscard), u64(cd.ForceLoses), "<= " + u64(cd.RecoverKeep), u64(cd.RecoverLoses), does})
	}
	return t.Render(g.io.Out, mode, format.TableOptions{Width: g.io.Width, PlainHeader: true})
}

// recoverArgs lists the comparison's servers for `raftctl recover plan`,
// the recommended one first.
func recoverArgs(c *inspect.Comparison) string {
	args := []string{c.Recommended}
	for _, r := range c.Replicas {
		if r.Server != c.Recommended {
			args = append(args, r.Server)
		}
	}
	return strings.Join(args, " ")
}

func backendCell(b *inspect.Backend) string {
	switch {
	case b == nil:
		return "-"
	case b.Err != "":
		return "? (" + b.Err + ")"
	}
	return u64(b.ConsistentIndex)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
