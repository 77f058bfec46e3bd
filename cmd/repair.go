package cmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair"
)

func init() {
	extraCommands = append(extraCommands, newRepairCmd, newCompactCmd, newRestoreCmd)
}

// changeOptions are the flags every mutating command shares.
type changeOptions struct {
	sel       selector
	dryRun    bool
	backupDir string

	now  time.Time // names default backup directories
	many bool      // several groups: one backup sub-directory each
}

func (o *changeOptions) addFlags(cmd *cobra.Command) {
	o.sel.addFlags(cmd)
	o.sel.addDirFlags(cmd)
	cmd.Flags().BoolVarP(&o.dryRun, "dry-run", "n", false, "print the plan and change nothing (exit 1 when there is work to do)")
	cmd.Flags().StringVar(&o.backupDir, "backup-dir", "", "where the backup goes (default <group>/.raftctl-backup/<UTC time>; a sub-directory per group when several)")
}

// backupFor picks the backup directory of one group's round.
func (o *changeOptions) backupFor(g inspect.Group, round int) string {
	dir := repair.DefaultBackupDir(g, o.now)
	if o.backupDir != "" {
		dir = o.backupDir
		if o.many {
			dir = filepath.Join(dir, filepath.FromSlash(g.Name))
		}
	}
	if round > 1 {
		dir += "-round" + strconv.Itoa(round)
	}
	return dir
}

// changeReport is one group's outcome in JSON.
type changeReport struct {
	Name         string           `json:"name"`
	StatusBefore string           `json:"status_before"`
	StatusAfter  string           `json:"status_after,omitempty"`
	Rounds       []*repair.Result `json:"rounds"`
	Plan         *repair.Plan     `json:"plan,omitempty"`
	FindingsLeft []string         `json:"findings_after,omitempty"`
}

type changeJSON struct {
	SchemaVersion int             `json:"schema_version"`
	Operation     string          `json:"operation"`
	DryRun        bool            `json:"dry_run"`
	Groups        []*changeReport `json:"groups"`
	Summary       struct {
		Groups         int   `json:"groups"`
		Changed        int   `json:"changed"`
		Refused        int   `json:"refused"`
		BytesReclaimed int64 `json:"bytes_reclaimed"`
		BytesChanged   int64 `json:"bytes_changed"`
	} `json:"summary"`
}

const repairWarning = `WARNING: repair changes the only copy of a group's log. Stop every process
using the group first (raftctl refuses a WAL whose segments are locked), run
with --dry-run and read the plan, and keep the backup until the group has
restarted and caught up.`

func newRepairCmd(g *globals) *cobra.Command {
	o := &changeOptions{}
	cmd := &cobra.Command{
		Use:   "repair [PATH...]",
		Short: "Mend what can be mended without guessing: torn tails, empty segments, broken snapshots",
		Long: `Verify each group, plan the repairs that lose nothing, back up every file the
plan touches, apply the plan with atomic writes, and verify again.

Mended: torn-tail (the last segment is zeroed from the end of its last
complete record to its preallocated size, as etcd does when it opens a WAL
for writing; refused when what follows the torn record may be data written
before the damage), empty-segment (removed), snapshot-corrupt and
snapshot-orphan (renamed to .broken or .orphan beside it, so a restart falls
back to the newest good snapshot), segment-name and segment-index (renamed to
the name etcd gave the segment). Everything else (a CRC mismatch in the
middle, a missing segment, index gaps, a commit beyond the log, and every
sign of a lost tail: snapshot files beyond the log are evidence and are never
moved) cannot be repaired offline without losing data or hiding a loss:
repair explains it, suggests what to do (restore from a replica with --from,
re-seed the member) and changes nothing at all in that group. Running repair twice
changes nothing the second time; a group that needs several passes (an
orphan snapshot only shows once the log reads to its end) gets up to three.

Safety: every segment is locked (OFD fcntl and flock) before planning and
until done, so a live server makes repair exit 3 with nothing changed. Every
file changed or removed goes into the backup directory first, with its mode
and a manifest of SHA-256 sums: a file removed or replaced whole is
hard-linked there (no copy), a file that stays in the group is copied;
` + "`raftctl restore BACKUP_DIR`" + ` puts the group back exactly. New content is written aside, fsynced and renamed;
each file is replaced atomically, any prefix of the plan leaves a
readable group, and an interrupted run is undone by raftctl restore.

` + repairFromHelp + `

` + repairWarning + `

Exit status 0: the group is ok afterwards (info findings allowed); 1: a dry
run with work to do, something refused (nothing was changed), or findings at
warning or above remain.

` + exitStatusHelp(),
		Example: `  $ raftctl repair testdata/sample --dry-run
  $ raftctl repair /var/lib/app/raft --group 'shard-*' --backup-dir /backups/raft
  $ raftctl repair testdata/sample/node-1/group-2 --from testdata/sample/node-2 --dry-run`,
		Annotations: map[string]string{"mutating": "true"},
		RunE:        run(func(cmd *cobra.Command, args []string) error { return o.runRepair(cmd, g, args) }),
	}
	o.addFlags(cmd)
	cmd.Flags().String("from", "", "rewrite a member's log damaged in its middle from this replica's copy of the group (a data directory)")
	cmd.Flags().String("from-wal-dir", "", "the --from replica's WAL directory, when it is kept apart from its data directory (etcd's --wal-dir)")
	cmd.Flags().String("from-snap-dir", "", "the --from replica's snapshot directory, when it is kept apart from its data directory")
	return cmd
}

// eachGroup is what repair and compact share: it runs op on each group
// asked for (repair.Repair or repair.Compact: they verify, plan, apply and
// verify again), renders the outcomes and turns problems into exit status
// 1.
func (o *changeOptions) eachGroup(cmd *cobra.Command, g *globals, args []string, op string,
	run func(ctx context.Context, grp inspect.Group, opts repair.RunOptions) (*repair.Outcome, error), opts repair.RunOptions) error {
	mode, err := g.mode()
	if err != nil {
		return err
	}
	groups, err := o.sel.groups(g, args)
	if err != nil {
		return err
	}
	o.now, o.many = time.Now().UTC(), len(groups) > 1
	out := &changeJSON{SchemaVersion: repair.SchemaVersion, Operation: op, DryRun: o.dryRun}
	problems := false
	for _, grp := range groups {
		opts.DryRun = o.dryRun
		opts.BackupDir = func(round int) string { return o.backupFor(grp, round) }
		opts.OnPlan = func(p *repair.Plan) { printPlan(g, grp.Name, p) }
		oc, err := run(cmd.Context(), grp, opts)
		if err != nil {
			return changeError(grp.Name, err)
		}
		cr := &changeReport{Name: grp.Name, StatusBefore: oc.StatusBefore, StatusAfter: oc.StatusAfter, Rounds: oc.Rounds, Plan: oc.Plan, FindingsLeft: oc.FindingsLeft}
		if cr.Rounds == nil {
			cr.Rounds = []*repair.Result{}
		}
		if o.dryRun {
			cr.StatusAfter = ""
		}
		out.Groups = append(out.Groups, cr)
		out.Summary.Groups++
		if oc.Refused {
			out.Summary.Refused++
		}
		if len(oc.Rounds) > 0 {
			out.Summary.Changed++
		}
		for _, r := range oc.Rounds {
			out.Summary.BytesReclaimed += r.BytesReclaimed
			out.Summary.BytesChanged += r.BytesChanged
		}
		if o.dryRun && oc.Plan != nil {
			out.Summary.BytesReclaimed += oc.Plan.BytesReclaimed()
		}
		problems = problems || oc.Problem
	}
	if err := renderChange(g, mode, out); err != nil {
		return err
	}
	if problems {
		return findings()
	}
	return nil
}

func (o *changeOptions) runRepair(cmd *cobra.Command, g *globals, args []string) error {
	from, _ := cmd.Flags().GetString("from")
	fromWAL, _ := cmd.Flags().GetString("from-wal-dir")
	fromSnap, _ := cmd.Flags().GetString("from-snap-dir")
	if from != "" || fromWAL != "" || fromSnap != "" {
		return o.runRepairFrom(cmd, g, args, from, selector{walDir: fromWAL, snapDir: fromSnap})
	}
	return o.eachGroup(cmd, g, args, "repair", repair.Repair, repair.RunOptions{})
}

// printPlan tells, on stderr, what is about to change.
func printPlan(g *globals, name string, p *repair.Plan) {
	sc := g.errScheme()
	for _, a := range p.Actions {
		fmt.Fprintf(g.io.ErrOut, "%s%s: %s\n", sc.Bold("plan: "), name, a.Message)
	}
}

func renderChange(g *globals, mode format.Mode, out *changeJSON) error {
	switch mode {
	case format.ModeJSON:
		return format.WriteJSON(g.io.Out, out)
	case format.ModeJSONL:
		w := format.NewJSONL(g.io.Out)
		for _, gr := range out.Groups {
			if err := w.Write(gr); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	sc := g.scheme(mode)
	w := g.io.Out
	for _, gr := range out.Groups {
		var actions []repair.Action
		var refusals []repair.Refusal
		var notes []string
		if gr.Plan != nil {
			actions, refusals, notes = gr.Plan.Actions, gr.Plan.Refusals, gr.Plan.Notes
		}
		if out.DryRun {
			fmt.Fprintf(w, "%s %s (%s): %d actions planned, %d refused\n", sc.Bold("group"), gr.Name, gr.StatusBefore, len(actions), len(refusals))
		} else {
			n := 0
			for _, r := range gr.Rounds {
				n += len(r.Actions)
			}
			fmt.Fprintf(w, "%s %s: %s -> %s, %d actions done\n", sc.Bold("group"), gr.Name, gr.StatusBefore, statusWord(sc, gr.StatusAfter), n)
			for _, r := range gr.Rounds {
				actions = append(actions, r.Actions...)
				refusals = r.Refusals
				notes = append(notes, r.Notes...)
				if r.BackupDir != "" {
					fmt.Fprintf(w, "  backup: %s (raftctl restore %s)\n", r.BackupDir, r.BackupDir)
				}
			}
		}
		for _, a := range actions {
			fmt.Fprintf(w, "  %s\n", a.Message)
		}
		for _, r := range refusals {
			fmt.Fprintf(w, "  %s %s: %s\n    %s\n", sc.Err("refused"), r.Code, r.Message, r.Advice)
		}
		for _, n := range notes {
			fmt.Fprintf(w, "  %s %s\n", sc.Dim("note"), n)
		}
		if gr.Plan != nil && gr.Plan.Compact != nil {
			c := gr.Plan.Compact
			fmt.Fprintf(w, "  WAL: %d segments, %s -> %d segments, %s; snapshots: %d -> %d\n", c.SegmentsBefore, format.Bytes(c.WALBytesBefore),
				c.SegmentsAfter, format.Bytes(c.WALBytesAfter), c.SnapFilesBefore, c.SnapFilesAfter)
		}
	}
	if out.Operation == "compact" {
		if out.DryRun {
			fmt.Fprintf(w, "total: %s would be reclaimed\n", format.Bytes(out.Summary.BytesReclaimed))
		} else {
			fmt.Fprintf(w, "total: %s reclaimed in %d groups\n", format.Bytes(out.Summary.BytesReclaimed), out.Summary.Changed)
		}
	}
	return nil
}

func statusWord(sc *format.Scheme, s string) string {
	switch s {
	case inspect.StatusOK:
		return sc.OK(s)
	case inspect.StatusWarning:
		return sc.Warn(s)
	}
	return sc.Err(s)
}

type compactOptions struct {
	changeOptions
	keepWAL, keepSnaps int
	rewrite            bool
}

func newCompactCmd(g *globals) *cobra.Command {
	o := &compactOptions{}
	cmd := &cobra.Command{
		Use:   "compact [PATH...]",
		Short: "Drop the WAL segments and snapshot files each group's newest snapshot makes redundant",
		Long: `Drop what each group's newest usable snapshot (present in snap/, recorded in
the WAL, at or below HardState.commit) makes redundant: WAL segments that hold
only entries at or below it (the segment holding it stays, as etcd's purge
keeps it), keeping at least --keep-wal segments; .snap files beyond the newest
--keep-snapshots. With --rewrite the WAL is replaced by a fresh one that starts
at the snapshot (metadata, snapshot record, HardState and the entries after
it, overwrites resolved), swapped in with one atomic directory exchange; it
keeps the group's segment size (the preallocated last segment's, else one the
files show), and removes the .snap files older than the snapshot it starts
from whatever --keep-snapshots says (the new WAL holds neither their records
nor the entries after them, so etcd could never restart from them).

The effective log and HardState from the snapshot on are identical before and
after. A group whose verify status is error is refused. The same safety
protocol as repair applies: locks, a backup with a manifest, atomic renames,
` + "`raftctl restore`" + `.

WARNING: compaction removes files from the only copy of a group. Stop every
process using it first, run with --dry-run, and keep the backup until the
group has restarted.

Exit status 0: the group is ok afterwards (info findings allowed); 1: a dry
run with something to compact, something refused (nothing was changed), or
findings at warning or above remain.

` + exitStatusHelp(),
		Example: `  $ raftctl compact testdata/sample --dry-run
  $ raftctl compact testdata/sample --dry-run --keep-wal 1 --keep-snapshots 1 -o json`,
		Annotations: map[string]string{"mutating": "true"},
		RunE:        run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.addFlags(cmd)
	cmd.Flags().IntVar(&o.keepWAL, "keep-wal", repair.DefaultKeepWAL, "keep at least this many WAL segments (etcd's --max-wals)")
	cmd.Flags().IntVar(&o.keepSnaps, "keep-snapshots", repair.DefaultKeepSnapshots, "keep this many newest .snap files (etcd's --max-snapshots)")
	cmd.Flags().BoolVar(&o.rewrite, "rewrite", false, "write a fresh WAL that starts at the snapshot")
	return cmd
}

func (o *compactOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	if o.keepWAL < 0 || o.keepSnaps < 0 {
		return usageErrorf("--keep-wal and --keep-snapshots must not be negative")
	}
	return o.eachGroup(cmd, g, args, "compact", repair.Compact, repair.RunOptions{
		Compact: repair.CompactOptions{KeepWAL: o.keepWAL, KeepSnapshots: o.keepSnaps, Rewrite: o.rewrite},
	})
}

type restoreOptions struct {
	dryRun, force bool
}

func newRestoreCmd(g *globals) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore BACKUP_DIR",
		Short: "Put a group back exactly as it was before a repair or compaction",
		Long: `Put a group back from a backup that raftctl repair (--from too), raftctl
compact or raftctl recover apply made:
every file changed or removed is written back (atomically, mode kept), files
the operation created are removed, and every file's SHA-256 is checked against
the backup's manifest before and after. An interrupted restore is completed by
running it again.

A group written to since the operation (a member ran and appended) is
refused unless --force: what was written since would be lost.

WARNING: restore changes the group; stop every process using it first.

` + exitStatusHelp(),
		Example:     `  $ raftctl restore /var/lib/app/raft/shard-1/.raftctl-backup/20261123T101500Z`,
		Annotations: map[string]string{"mutating": "true"},
		Args:        cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			mode, err := g.mode()
			if err != nil {
				return err
			}
			res, err := repair.RestoreWith(cmd.Context(), args[0], repair.RestoreOptions{DryRun: o.dryRun, Force: o.force})
			if err != nil {
				var ce *repair.ChangedError
				if errors.As(err, &ce) {
					return noVerdictf("%v; nothing was changed (--force restores anyway, losing what was written since)", err)
				}
				return changeError(args[0], err)
			}
			switch mode {
			case format.ModeJSON, format.ModeJSONL:
				return format.WriteJSON(g.io.Out, res)
			}
			verb := "restored"
			if o.dryRun {
				verb = "would restore"
			}
			for _, p := range res.Restored {
				fmt.Fprintf(g.io.Out, "%s %s\n", verb, p)
			}
			for _, p := range res.Removed {
				fmt.Fprintf(g.io.Out, "removed %s\n", p)
			}
			if o.dryRun && len(res.Restored)+len(res.Removed) > 0 {
				return findings()
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&o.dryRun, "dry-run", "n", false, "check the backup and say what would be put back")
	cmd.Flags().BoolVar(&o.force, "force", false, "restore even if the group was written to since")
	return cmd
}
