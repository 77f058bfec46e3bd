package cmd

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

type segmentsOptions struct{ sel selector }

func newWALSegmentsCmd(g *globals) *cobra.Command {
	o := &segmentsOptions{}
	cmd := &cobra.Command{
		Use:   "segments [PATH...]",
		Short: "List each WAL segment file with its records, entry range and zero tail",
		Long: `List the WAL segment files of each group in the order etcd reads them: the
sequence number and start index from the name, the file's size, the number
of complete records, the first and last entry index written in it, and the
bytes of zero tail (segments are preallocated: a zero tail is the end of the
log, not corruption), and for etcd the member and cluster ID of the WAL's
metadata (hex, as etcd prints them).

` + dirsHelp + `

Read-only: never changes a byte and takes no lock.

` + exitStatusHelp(),
		Example: `  $ raftctl wal segments testdata/sample --group node-1/group-1`,
		RunE:    run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	o.sel.addDirFlags(cmd)
	return cmd
}

type segmentJSON struct {
	Group string `json:"group"`
	inspect.SegmentSummary
	walMeta
}

func (o *segmentsOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, sums, err := readGroups(cmd, g, &o.sel, args)
	if err != nil {
		return err
	}
	var rows []segmentJSON
	for _, s := range sums {
		for _, seg := range s.Log.Segments {
			rows = append(rows, segmentJSON{Group: s.Name, SegmentSummary: seg, walMeta: walMetaOf(s.Log)})
		}
	}
	err = renderListV(g, mode, idSchemaVersion, "segments", rows, func() *format.Table {
		t := &format.Table{
			Headers:     []string{"group", "segment", "seq", "index", "size", "records", "first", "last", "zero tail", "member", "cluster"},
			Truncatable: []bool{true, true},
			Key:         []bool{true, true},
			// seq and index are in the segment's name.
			Drop: []int{2, 3, 10, 9, 8, 5, 6}, // seq, index, cluster, member, zero tail, records, first
		}
		for _, r := range rows {
			recs := strconv.FormatInt(r.Records, 10)
			if !r.Read {
				recs = "?"
			}
			name := r.Name
			if !r.Canonical {
				name += " (non-canonical)"
			}
			t.Rows = append(t.Rows, []string{r.Group, name, u64(r.Seq), u64(r.Index), walBytes(mode, r.Size), recs,
				u64(r.FirstEntry), u64(r.LastEntry), walBytes(mode, r.ZeroTail), cell(r.MemberID), cell(r.ClusterID)})
		}
		return t
	})
	if err != nil {
		return err
	}
	return reportStops(g, sums)
}
