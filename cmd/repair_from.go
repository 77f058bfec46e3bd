package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair"
)

// repairFromHelp is the part of repair's help about --from.
const repairFromHelp = `With --from REPLICA, a member whose log is damaged in its middle (a CRC
mismatch, a zeroed region, a missing or truncated segment, with readable
segments after it) is mended from another member's copy of the group: its WAL
is rewritten from its snapshot with the replica's entries, which must be
provably committed (the replica's HardState commit, or the member's own where
both logs hold the same term) and byte-identical to every entry the member
can still read, followed by the member's own later entries and its own newest
HardState (term, vote and commit kept). The new WAL is written aside by etcd's
wal package, read back with etcd's reader, swapped in with one directory
exchange and verified; the old segments stay in the backup. REPLICA is a data
directory holding one group, or several matched by name. Refused when the
replica does not prove the entries, disagrees with the member or belongs to
another cluster. Damage in the last segment is read past when records that
chain by CRC follow it (their HardState must agree with the member's earlier
ones and with the replica); refused when none do. --from-wal-dir DIR and --from-snap-dir DIR
place the replica's WAL and snapshots apart from its data directory, as
--wal-dir and --snap-dir do for the member.`

// runRepairFrom is repair --from: each group asked for is rewritten from
// its copy under the replica's PATH.
// dsel carries --from-wal-dir and --from-snap-dir: the replica's WAL (or
// snapshots) kept apart from its data directory.
func (o *changeOptions) runRepairFrom(cmd *cobra.Command, g *globals, args []string, from string, dsel selector) error {
	if from == "" {
		return usageErrorf("--from-wal-dir and --from-snap-dir describe the --from replica: give --from DIR, its data directory")
	}
	if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
		return usageErrorf("--from %s: no such file or directory", from)
	}
	var donors []inspect.Group
	var err error
	if dsel.walDir != "" || dsel.snapDir != "" {
		// The replica is one group, its directories as given.
		donors, err = dsel.groups(g, []string{from})
		if err != nil {
			return err
		}
	} else if donors, err = inspect.Discover([]string{from}, inspect.DiscoverOptions{}); err != nil {
		// Not a Raft directory, like any PATH: no verdict.
		return noVerdict(fmt.Errorf("--from %s: %w", from, describeFSError(err)))
	}
	if len(donors) == 0 {
		return usageErrorf("--from %s holds no group", from)
	}
	// Resolve the replica of every group before changing anything.
	members, err := o.sel.groups(g, args)
	if err != nil {
		return err
	}
	pick := map[string]inspect.Group{}
	for _, m := range members {
		d, ok := donorFor(m, donors, len(members) == 1)
		if !ok {
			return usageErrorf("--from %s holds no group named %s (it holds %d groups)", from, m.Name, len(donors))
		}
		if sameFile(m.WALDir, d.WALDir) {
			return usageErrorf("--from %s is the member %s itself", from, m.Name)
		}
		pick[m.Dir] = d
	}
	return o.eachGroup(cmd, g, args, "repair", repair.RepairFrom(func(m inspect.Group) inspect.Group { return pick[m.Dir] }), repair.RunOptions{})
}

// donorFor picks the replica's copy of a group: the only group under the
// replica's PATH when one group is repaired, or the one with the same name.
func donorFor(m inspect.Group, donors []inspect.Group, one bool) (inspect.Group, bool) {
	if len(donors) == 1 && one {
		return donors[0], true
	}
	for _, d := range donors {
		if d.Name == m.Name {
			return d, true
		}
	}
	return inspect.Group{}, false
}

// sameFile reports whether two paths name the same directory.
func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(fa, fb)
}
