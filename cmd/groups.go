package cmd

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

type groupsOptions struct {
	sel selector
}

func newGroupsCmd(g *globals) *cobra.Command {
	o := &groupsOptions{}
	cmd := &cobra.Command{
		Use:   "groups [PATH...]",
		Short: "List the Raft groups under each PATH with their log bounds and HardState",
		Long: `List every Raft group found under each PATH, one row per group: WAL
segments and bytes, the first and last index and last term of the effective
log (entries overwritten after a leader change resolved as raft does), the
HardState (term, vote, commit), the newest snapshot recorded in the WAL at or
below the commit index (what etcd restarts from) and the number of .snap
files.

Read-only: never changes a byte and takes no lock.

` + exitStatusHelp(),
		Example: `  $ raftctl groups testdata/sample
  $ raftctl groups testdata/sample --group 'node-1/*' -o json`,
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	return cmd
}

func (o *groupsOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, sums, err := readGroups(cmd, g, &o.sel, args)
	if err != nil {
		return err
	}
	err = renderList(g, mode, "groups", sums, func() *format.Table {
		t := &format.Table{
			Headers:     []string{"group", "segs", "wal", "first", "last", "term", "hardstate t/v/c", "snapshot", "snaps"},
			Truncatable: []bool{true},
			Key:         []bool{true},
			Drop:        []int{8, 1, 3, 5, 2}, // snaps, segs, first, term, wal
		}
		for _, s := range sums {
			snap := "-"
			if s.Snapshot != nil {
				snap = fmt.Sprintf("%d@%d", s.Snapshot.Index, s.Snapshot.Term)
			}
			hs := fmt.Sprintf("%d/%d/%d", s.HardState.Term, s.HardState.Vote, s.HardState.Commit)
			if !s.Log.HasHardState {
				hs = "-"
			}
			t.Rows = append(t.Rows, []string{s.Name, strconv.Itoa(s.Segments), walBytes(mode, s.WALBytes),
				u64(s.FirstIndex), u64(s.LastIndex), u64(s.LastTerm), hs, snap, strconv.Itoa(s.SnapFiles)})
		}
		return t
	})
	if err != nil {
		return err
	}
	return reportStops(g, sums)
}

// reportStops warns about torn tails and fails on corruption met while
// reading.
func reportStops(g *globals, sums []*inspect.GroupSummary) error {
	var first error
	for _, s := range sums {
		warn, err := stopProblem(s.Group, s.Log)
		if warn != "" {
			fmt.Fprintln(g.io.ErrOut, g.errScheme().Warn("warning: ")+warn)
		}
		if err != nil && first == nil {
			first = err
		} else if err != nil {
			fmt.Fprintln(g.io.ErrOut, "raftctl: "+err.Error())
		}
	}
	return first
}

func walBytes(m format.Mode, n int64) string {
	if m == format.ModeTable {
		return format.Bytes(n)
	}
	return strconv.FormatInt(n, 10)
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }
