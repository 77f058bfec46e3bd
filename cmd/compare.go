package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

func init() { extraCommands = append(extraCommands, newCompareCmd) }

type compareOptions struct {
	sel     selector
	entries bool
}

func newCompareCmd(g *globals) *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare PATH PATH [PATH...]",
		Short: "Compare a group's replicas: who is ahead, where they diverge, which to recover from",
		Long: `Compare the replicas of each group across servers. Each PATH is one server's
data directory (or one group directory); groups are matched across PATHs by
name, so node-1/group-3 and node-2/group-3 are replicas of group-3 when the
PATHs are node-1 and node-2.

For each group raftctl shows every replica's last index and term, HardState,
newest snapshot and verify status; the divergence point of every pair (the
first index where both hold entries of different terms, using the effective
logs, and starting after a snapshot when a replica's log starts there); the
committed prefix all replicas agree on, and any pair whose committed entries
disagree (a safety violation); and a recommendation: the replica Raft's own
election rule would prefer (highest last term, then highest last index, among
those that verify without error), with what recovering from it would discard
from every other replica, committed and uncommitted.

--entries lists the entries around each divergence point (index, term and
payload size per replica), like a diff.

Exit status 0 means all replicas agree on their committed prefixes; 1 means
committed entries disagree somewhere, or no replica of a group verifies.

Read-only: never changes a byte and takes no lock.

` + exitStatusHelp(),
		Example: `  $ raftctl compare testdata/sample/node-1 testdata/sample/node-2 testdata/sample/node-4
  $ raftctl compare testdata/sample/node-1 testdata/sample/node-4 --group group-1 --entries -o json`,
		Args: cobra.MinimumNArgs(2),
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	cmd.Flags().BoolVar(&o.entries, "entries", false, "list the entries around each divergence point")
	return cmd
}

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
}

func (o *compareOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode()
	if err != nil {
		return err
	}
	var groups [][]inspect.Group
	for _, p := range args {
		gs, err := o.sel.groups(g, []string{p})
		if err != nil {
			return err
		}
		groups = append(groups, gs)
	}
	comps, err := inspect.CompareGroups(cmd.Context(), args, groups, inspect.VerifyOptions{})
	if err != nil {
		return describeFSError(err)
	}
	out := compareJSON{SchemaVersion: 1}
	for _, c := range comps {
		gj := &compareGroupJSON{Comparison: c}
		if o.entries {
			for _, p := range c.Pairs {
				if p.Index == 0 {
					continue
				}
				de := divergenceEntries{A: p.A, B: p.B, Index: p.Index, Replica: map[string][]inspect.EntryInfo{}}
				for _, r := range c.Replicas {
					if r.Server != p.A && r.Server != p.B {
						continue
					}
					from := p.Index - min(p.Index-1, 2)
					ents, err := r.EntriesAround(cmd.Context(), from, p.Index+2)
					if err != nil {
						return err
					}
					de.Replica[r.Server] = ents
				}
				gj.Entries = append(gj.Entries, de)
			}
		}
		out.Groups = append(out.Groups, gj)
		out.Summary.Groups++
		if len(c.Violations) > 0 {
			out.Summary.Violations++
		}
		if c.Recommended == "" {
			out.Summary.NoReplica++
		}
	}
	switch mode {
	case format.ModeJSON:
		err = format.WriteJSON(g.io.Out, out)
	case format.ModeJSONL:
		w := format.NewJSONL(g.io.Out)
		for _, gj := range out.Groups {
			if err = w.Write(gj); err != nil {
				break
			}
		}
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
	default:
		err = renderCompare(g, mode, out.Groups)
	}
	if err != nil {
		return err
	}
	if out.Summary.Violations > 0 || out.Summary.NoReplica > 0 {
		return findings()
	}
	return nil
}

func renderCompare(g *globals, mode format.Mode, groups []*compareGroupJSON) error {
	sc := g.scheme(mode)
	w := g.io.Out
	for k, gj := range groups {
		c := gj.Comparison
		if k > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, sc.Bold("group "+c.Name))
		t := &format.Table{Headers: []string{"replica", "first", "last", "term", "hardstate t/v/c", "snapshot", "status"},
			Truncatable: []bool{true}, Key: []bool{true}, Drop: []int{1, 5, 3}} // first, snapshot, term
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
			t.Rows = append(t.Rows, []string{name, u64(r.FirstIndex), u64(r.LastIndex), u64(r.LastTerm),
				fmt.Sprintf("%d/%d/%d", r.HardState.Term, r.HardState.Vote, r.HardState.Commit), snap, status})
		}
		if err := t.Render(w, mode, format.TableOptions{Width: g.io.Width, PlainHeader: true}); err != nil {
			return err
		}
		for _, p := range c.Pairs {
			switch {
			case p.Index == 0:
				fmt.Fprintf(w, "%s ~ %s: identical up to %d\n", p.A, p.B, p.IdenticalUpTo)
			case p.CommittedConflict:
				fmt.Fprintf(w, "%s ~ %s: %s at index %d (terms %d and %d), identical up to %d\n", p.A, p.B, sc.Err("COMMITTED ENTRIES DIFFER"), p.Index, p.TermA, p.TermB, p.IdenticalUpTo)
			default:
				fmt.Fprintf(w, "%s ~ %s: diverge at index %d (terms %d and %d), identical up to %d\n", p.A, p.B, p.Index, p.TermA, p.TermB, p.IdenticalUpTo)
			}
		}
		for _, de := range gj.Entries {
			fmt.Fprintf(w, "entries around %d:\n", de.Index)
			for _, srv := range []string{de.A, de.B} {
				for _, e := range de.Replica[srv] {
					fmt.Fprintf(w, "  %s\t%d\t%d\t%s\t%d\n", srv, e.Index, e.Term, e.Type, e.Size)
				}
			}
		}
		fmt.Fprintf(w, "agreed commit: %d\n", c.AgreedCommit)
		for _, v := range c.Violations {
			fmt.Fprintln(w, sc.Err("safety violation: ")+v)
		}
		if c.Recommended == "" {
			fmt.Fprintln(w, sc.Err("no replica verifies without error: nothing to recommend"))
			continue
		}
		fmt.Fprintf(w, "recommended: %s\n", sc.OK(c.Recommended))
		for _, l := range c.Losses {
			if l.Committed+l.Uncommitted == 0 {
				fmt.Fprintf(w, "  recovering %s from it discards nothing\n", l.Server)
				continue
			}
			fmt.Fprintf(w, "  recovering %s from it discards %d committed and %d uncommitted entries from index %d\n", l.Server, l.Committed, l.Uncommitted, l.From)
		}
	}
	return nil
}
