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

` + dirsHelp + `

Read-only: never changes a byte and takes no lock.

` + exitStatusHelp(),
		Example: `  $ raftctl groups testdata/sample
  $ raftctl groups testdata/sample --group 'node-1/*' -o json`,
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	o.sel.addDirFlags(cmd)
	return cmd
}

// groupJSON is one row of `groups -o json`: the group's place, its WAL
// metadata, the state read and whether the read reached the end of the log.
type groupJSON struct {
	inspect.Group
	walMeta
	// Status is "ok", "warning" (the read stopped where etcd's would too,
	// as a torn write at the end of the log: etcd restarts) or "damaged" (the read
	// stopped on damage: the fields below describe only the readable
	// prefix, not the group's state). Error says where and why.
	Status     string           `json:"status"`
	Error      string           `json:"error,omitempty"`
	Segments   int              `json:"segments"`
	WALBytes   int64            `json:"wal_bytes"`
	FirstIndex uint64           `json:"first_index"`
	LastIndex  uint64           `json:"last_index"`
	LastTerm   uint64           `json:"last_term"`
	HardState  *hardStateJSON   `json:"hard_state"`
	Snapshot   *inspect.SnapRef `json:"snapshot"`
	SnapFiles  int              `json:"snap_files"`
}

// groupStatus says whether a summary is the group's state or only the
// readable prefix of a damaged group.
func groupStatus(s *inspect.GroupSummary) (status, msg, warn string, err error) {
	warn, err = stopProblem(s.Group, s.Log)
	switch {
	case err != nil:
		return "damaged", err.Error(), warn, err
	case warn != "":
		return "warning", warn, warn, nil
	}
	return "ok", "", "", nil
}

func (o *groupsOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, sums, err := readGroups(cmd, g, &o.sel, args)
	if err != nil {
		return err
	}
	rows := make([]groupJSON, len(sums))
	var firstErr error
	var msgs []string // printed after the table
	for k, s := range sums {
		r := groupJSON{Group: s.Group, walMeta: walMetaOf(s.Log), Segments: s.Segments, WALBytes: s.WALBytes,
			FirstIndex: s.FirstIndex, LastIndex: s.LastIndex, LastTerm: s.LastTerm, Snapshot: s.Snapshot, SnapFiles: s.SnapFiles}
		// One judgement of the end of each log, for the row and for the
		// messages on stderr.
		var warn string
		var err error
		r.Status, r.Error, warn, err = groupStatus(s)
		if warn != "" {
			msgs = append(msgs, g.errScheme().Warn("warning: ")+warn)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		} else if err != nil {
			msgs = append(msgs, "raftctl: "+err.Error())
		}
		if s.Log.HasHardState {
			hs := hardStateOf(s.HardState)
			r.HardState = &hs
		}
		rows[k] = r
	}
	err = renderListV(g, mode, idSchemaVersion, "groups", rows, func() *format.Table {
		t := &format.Table{
			Headers:     []string{"group", "segs", "wal", "first", "last", "term", "hardstate t/v/c", "snapshot", "snaps", "member", "cluster"},
			Truncatable: []bool{true},
			Key:         []bool{true},
			Drop:        []int{10, 8, 1, 3, 5, 2, 9}, // cluster, snaps, segs, first, term, wal, member
		}
		for _, r := range rows {
			snap := "-"
			if r.Snapshot != nil {
				snap = fmt.Sprintf("%d@%d", r.Snapshot.Index, r.Snapshot.Term)
			}
			hs := "-"
			if r.HardState != nil {
				hs = fmt.Sprintf("%d/%s/%d", r.HardState.Term, r.HardState.Vote, r.HardState.Commit)
			}
			name := r.Name
			if r.Status == "damaged" {
				// What follows is only the readable prefix.
				name += " (damaged)"
			}
			t.Rows = append(t.Rows, []string{name, strconv.Itoa(r.Segments), walBytes(mode, r.WALBytes),
				u64(r.FirstIndex), u64(r.LastIndex), u64(r.LastTerm), hs, snap, strconv.Itoa(r.SnapFiles),
				cell(r.MemberID), cell(r.ClusterID)})
		}
		return t
	})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		fmt.Fprintln(g.io.ErrOut, m)
	}
	return firstErr
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
