package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair"
)

func init() { extraCommands = append(extraCommands, newRecoverCmd) }

func newRecoverCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Prepare the member to restart a cluster that lost its quorum from, keeping every provably committed entry",
		Long: `When a cluster lost its quorum for good, it is restarted from one surviving
member (etcd: --force-new-cluster), which keeps that member's entries up to its
own HardState commit and discards the rest. Members learn the commit index at
different times, so the member Raft's election rule prefers can hold a lower
commit than another member proves, and the difference is lost.

raftctl recover plan compares the survivors (as raftctl compare does), picks
the member that keeps the most provably committed entries, and plans to raise
its HardState commit to the highest commit any survivor proves, appending the
committed entries it lacks from a survivor that holds them. raftctl recover
apply does it under the same protocol as repair (locks, plan again, backup
with a manifest, write aside and rename, verify after) and prints the next
step.

` + exitStatusHelp(),
	}
	cmd.AddCommand(newRecoverPlanCmd(g), newRecoverApplyCmd(g))
	return cmd
}

type recoverPlanOptions struct {
	sel       selector
	dirs      replicaDirs
	member    string
	planFile  string
	summaries []string // fleet mode: --summary FILE
}

func newRecoverPlanCmd(g *globals) *cobra.Command {
	o := &recoverPlanOptions{}
	cmd := &cobra.Command{
		Use:   "plan PATH PATH [PATH...]",
		Short: "Plan the recovery of one member from the surviving replicas of a group",
		Long: `Compare the surviving replicas of one group (each PATH is a member's data
directory; etcd members are paired by the cluster ID in their WAL metadata)
and plan the recovery of one member: the recommended one, or --member.

The plan says what etcd's --force-new-cluster would keep on that member as it
is, what it keeps after recovery, the HardState before and after (the commit
raised; the term raised only to the term of an appended entry; the vote kept),
the entries appended and from which replica, and the file changed. It refuses
when replicas disagree on a committed entry, when the member cannot restart,
or when its log does not end cleanly (repair it first).

--plan-file writes the plan as JSON for raftctl recover apply. Every replica
is locked while it is read (a live member is refused); nothing is changed.

` + replicaDirsHelp + ` The plan file
records every replica's directories, so recover apply needs no flag.

Fleet mode: a PATH ending in .json (or a --summary FILE) is a summary written
by raftctl summary on the replica's host. The comparison is the same as from
the directories, and the plan says what recovery does, but it refuses
(from-summary): recover apply needs every replica's directory.

Exit status 0 means a plan was made (possibly with nothing to change); 1
means the plan refuses.

` + exitStatusHelp(),
		Example: `  $ raftctl recover plan testdata/sample/node-1/group-1 testdata/sample/node-2/group-1
  $ raftctl recover plan testdata/sample/node-1 testdata/sample/node-4 --group group-3 --member testdata/sample/node-4 -o json`,
		Args: cobra.ArbitraryArgs,
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	o.dirs.addFlags(cmd)
	cmd.Flags().StringVar(&o.member, "member", "", "the PATH of the member to recover (default: the recommended one)")
	cmd.Flags().StringVar(&o.planFile, "plan-file", "", "write the plan as JSON to this file, for recover apply")
	cmd.Flags().StringArrayVar(&o.summaries, "summary", nil, "a summary file written by raftctl summary, as a replica (repeatable)")
	return cmd
}

func (o *recoverPlanOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, srcs, cleanup, err := readReplicas(cmd, g, &o.sel, &o.dirs, args, o.summaries)
	if err != nil {
		return err
	}
	defer cleanup()
	plan, err := repair.PlanRecoverSources(cmd.Context(), srcs, repair.RecoverOptions{Member: o.member})
	if err != nil {
		var le *repair.LockedError
		if errors.As(err, &le) {
			return changeError(le.Path, err)
		}
		if plan == nil && !isFSError(err) {
			return usageErrorf("%v", err)
		}
		return describeFSError(err)
	}
	if o.planFile != "" {
		if err := writePlanFile(o.planFile, plan); err != nil {
			return err
		}
	}
	err = renderDoc(g, mode, plan, []*repair.RecoverPlan{plan}, func() error { return renderRecoverPlan(g, plan, o.planFile) })
	if err != nil {
		return err
	}
	if len(plan.Refusals) > 0 {
		return findings()
	}
	return nil
}

// writePlanFile writes the plan to the file p for recover apply, as -o
// json writes it to stdout (the same encoder: one JSON contract).
func writePlanFile(p string, plan *repair.RecoverPlan) error {
	var b bytes.Buffer
	if err := format.WriteJSON(&b, plan); err != nil {
		return err
	}
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		return describeFSError(err)
	}
	return nil
}

// isFSError reports whether err comes from the file system.
func isFSError(err error) bool {
	var pe *os.PathError
	var nr *inspect.NotRaftError
	return errors.As(err, &pe) || errors.As(err, &nr)
}

func renderRecoverPlan(g *globals, p *repair.RecoverPlan, planFile string) error {
	sc := g.scheme(format.ModeTable)
	w := g.io.Out
	for _, r := range p.Refusals {
		fmt.Fprintf(w, "%s %s\n  advice: %s\n", sc.Err("refused ("+r.Code+"):"), r.Message, r.Advice)
	}
	if p.Member == "" {
		return nil
	}
	id := ""
	if p.MemberID != "" {
		id = fmt.Sprintf(" (member %s of cluster %s)", p.MemberID, p.ClusterID)
	}
	fmt.Fprintf(w, "member: %s%s\n", p.Member, id)
	if p.Recommended != "" && p.Recommended != p.Member {
		fmt.Fprintf(w, "  note: compare recommends %s: %s\n", p.Recommended, p.Reason)
	}
	fmt.Fprintf(w, "proven commit: %d (term %d, HardState of %s)\n", p.ProvenCommit, p.ProvenTerm, p.ProvenBy)
	t := &format.Table{Headers: []string{"", "hardstate t/v/c", "keeps up to", "loses committed"}}
	t.Rows = append(t.Rows,
		[]string{"--force-new-cluster now", fmt.Sprintf("%d/%x/%d", p.HardState.Term, p.HardState.Vote, p.HardState.Commit), u64(p.ForceKeep), u64(p.ProvenCommit - min(p.ProvenCommit, p.ForceKeep))})
	if len(p.Refusals) == 0 {
		t.Rows = append(t.Rows, []string{"after raftctl recover", fmt.Sprintf("%d/%x/%d", p.NewHardState.Term, p.NewHardState.Vote, p.NewHardState.Commit), u64(p.Keep), u64(p.Loses)})
	}
	if err := t.Render(w, format.ModeTable, format.TableOptions{Width: g.io.Width}); err != nil {
		return err
	}
	if p.Backend != nil {
		if p.Backend.Err != "" {
			fmt.Fprintf(w, "backend %s: %s\n", p.Backend.Path, p.Backend.Err)
		} else {
			fmt.Fprintf(w, "backend consistent index: %d (applied; recovery keeps up to %d)\n", p.Backend.ConsistentIndex, p.Keep)
		}
	}
	for _, a := range p.Actions {
		fmt.Fprintf(w, "%s %s: %s\n", a.Kind, a.Path, a.Message)
	}
	for _, n := range p.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	if len(p.Refusals) > 0 {
		return nil
	}
	switch {
	case !p.Empty() && planFile != "":
		fmt.Fprintf(w, "next: raftctl recover apply %s, then %s\n", planFile, p.NextStep)
	case !p.Empty():
		fmt.Fprintf(w, "next: raftctl recover plan ... --plan-file FILE, then raftctl recover apply FILE\n")
	default:
		fmt.Fprintf(w, "next: %s\n", p.NextStep)
	}
	return nil
}

type recoverApplyOptions struct {
	backupDir string
	dryRun    bool
}

func newRecoverApplyCmd(g *globals) *cobra.Command {
	o := &recoverApplyOptions{}
	cmd := &cobra.Command{
		Use:   "apply PLAN_FILE",
		Short: "Recover a member as a plan from recover plan says",
		Long: `Apply a plan written by raftctl recover plan --plan-file: lock every replica
(a live member is refused), plan again and refuse if anything changed, check
that the member's and the donor's entries are byte-identical wherever both
hold them, back the member's last segment up (with a manifest; raftctl restore
puts it back), write the new last segment aside (its records, the donor's
entries, the new HardState) and rename it over the old one, then verify the
member (raft restarts from it in memory) and the appended entries. A member
that fails that verification gets its old segment back.

It writes the member's last segment and the new tail, nothing else, and
prints the next step: for etcd, start the member with --force-new-cluster.

WARNING: recover changes the member's WAL; stop every member first.

` + exitStatusHelp(),
		Example:     `  $ raftctl recover apply recover-plan.json`,
		Annotations: map[string]string{"mutating": "true"},
		Args:        cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			mode, err := g.mode()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return describeFSError(err)
			}
			var plan repair.RecoverPlan
			if err := json.Unmarshal(b, &plan); err != nil || plan.Operation != repair.OpRecover {
				return usageErrorf("%s is not a plan written by raftctl recover plan --plan-file (%v)", args[0], err)
			}
			res, err := repair.ApplyRecover(cmd.Context(), &plan, repair.ApplyOptions{BackupDir: o.backupDir, DryRun: o.dryRun})
			if errors.Is(err, repair.ErrRefused) {
				return refused(err)
			}
			if err != nil {
				return changeError(plan.Group.Name, err)
			}
			if mode == format.ModeJSON || mode == format.ModeJSONL {
				return renderDoc(g, mode, res, []*repair.RecoverResult{res}, nil)
			}
			w := g.io.Out
			switch {
			case o.dryRun:
				for _, a := range res.Actions {
					fmt.Fprintf(w, "would %s %s: %s\n", a.Kind, a.Path, a.Message)
				}
			case len(res.Actions) == 0:
				fmt.Fprintln(w, "nothing to change")
			default:
				for _, a := range res.Actions {
					fmt.Fprintf(w, "%s %s: %s\n", a.Kind, a.Path, a.Message)
				}
				fmt.Fprintf(w, "HardState now %d/%x/%d; %d entries appended; backup in %s\n", res.HardState.Term, res.HardState.Vote, res.HardState.Commit, res.Appended, res.BackupDir)
			}
			fmt.Fprintf(w, "next: %s\n", res.NextStep)
			if o.dryRun && len(res.Actions) > 0 {
				return findings()
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&o.dryRun, "dry-run", "n", false, "print what would change and change nothing (exit 1 when there is work to do)")
	cmd.Flags().StringVar(&o.backupDir, "backup-dir", "", "where the backup goes (default <member>/.raftctl-backup/<UTC time>)")
	return cmd
}
