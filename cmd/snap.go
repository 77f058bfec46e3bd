package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

func newSnapCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snap",
		Short: "Read snapshot files",
		Long: `Read the .snap files of Raft groups.

` + exitStatusHelp(),
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return usageErrorf("missing subcommand: list")
		}),
	}
	cmd.AddCommand(newSnapListCmd(g))
	return cmd
}

type snapListOptions struct{ sel selector }

func newSnapListCmd(g *globals) *cobra.Command {
	o := &snapListOptions{}
	cmd := &cobra.Command{
		Use:   "list [PATH...]",
		Short: "List each .snap file: term, index, members, size, CRC and WAL record",
		Long: `List every .snap file of each group, newest first as etcd tries them: the
term and index of the snapshot, the voters and learners of its ConfState, the
size of its data, whether its CRC holds, and whether the WAL holds the
matching snapshot record (without it etcd will not restart from the file).

Files are read with etcd's own snap.Read, which, unlike etcd's Snapshotter,
never renames an unreadable file to .broken. Read-only: never changes a byte
and takes no lock. Voters and learners are member IDs in hex, as etcd
prints them (strings in JSON, schema_version 2).

` + dirsHelp + `

` + exitStatusHelp(),
		Example: `  $ raftctl snap list testdata/sample`,
		RunE:    run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	o.sel.addDirFlags(cmd)
	return cmd
}

type snapJSON struct {
	Group string `json:"group"`
	inspect.SnapFile
	// Voters and Learners shadow SnapFile's: hex IDs as strings.
	Voters   []string `json:"voters"`
	Learners []string `json:"learners"`
	InWAL    bool     `json:"in_wal"`
}

func (o *snapListOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, sums, err := readGroups(cmd, g, &o.sel, args)
	if err != nil {
		return err
	}
	var rows []snapJSON
	for _, s := range sums {
		files, err := inspect.ListSnapFiles(s.SnapDir)
		if err != nil {
			return fmt.Errorf("group %s: %w", s.Name, describeFSError(err))
		}
		for _, f := range files {
			in := false
			for _, r := range s.Log.Snapshots {
				if f.OK && r.Index == f.Index && r.Term == f.Term {
					in = true
				}
			}
			rows = append(rows, snapJSON{Group: s.Name, SnapFile: f, InWAL: in,
				Voters: hexIDs(f.Voters), Learners: hexIDs(f.Learners)})
		}
	}
	err = renderListV(g, mode, idSchemaVersion, "snapshots", rows, func() *format.Table {
		sc := g.scheme(mode)
		t := &format.Table{
			Headers:     []string{"group", "file", "term", "index", "voters", "learners", "data", "crc", "in wal"},
			Truncatable: []bool{true, true},
			Key:         []bool{true, true},
			// term and index are in the file's name.
			Drop: []int{2, 3, 5, 6, 4}, // term, index, learners, data, voters
		}
		for _, r := range rows {
			crc, in := sc.OK("ok"), sc.OK("yes")
			if !r.OK {
				crc = sc.Err("bad")
			}
			if !r.InWAL {
				in = sc.Warn("no")
			}
			t.Rows = append(t.Rows, []string{r.Group, r.Name, u64(r.Term), u64(r.Index), ids(r.SnapFile.Voters), ids(r.SnapFile.Learners),
				walBytes(mode, int64(r.DataSize)), crc, in})
		}
		return t
	})
	if err != nil {
		return err
	}
	return reportStops(g, sums)
}
