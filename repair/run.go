package repair

import (
	"context"
	"fmt"

	"github.com/raftctl/raftctl/inspect"
)

// RunOptions tune Repair and Compact.
type RunOptions struct {
	// DryRun plans and changes nothing.
	DryRun bool
	// BackupDir returns the backup directory of a round (1, 2, ...).
	BackupDir func(round int) string
	// OnPlan, if set, is told each plan just before it is applied.
	OnPlan func(*Plan)
	// Compact holds compaction's options (Compact only).
	Compact CompactOptions
}

// maxRounds bounds Repair's rounds: some damage shows only once other
// damage is mended (an orphan snapshot once the log reads to its end).
const maxRounds = 3

// Outcome is what Repair or Compact did to one group.
type Outcome struct {
	// StatusBefore and StatusAfter are verify's status before and after
	// (StatusAfter empty when nothing was applied).
	StatusBefore string
	StatusAfter  string
	// Rounds are the results of the plans applied, in order.
	Rounds []*Result
	// Plan is the plan to show when none was applied: a dry run's, one
	// with refusals (nothing of it is applied), or an empty one.
	Plan *Plan
	// FindingsLeft lists the codes at warning or above after the change.
	FindingsLeft []string
	// Refused is set when something could not be mended: nothing of that
	// plan was changed.
	Refused bool
	// Problem is what the exit status reports: a dry run with work to do,
	// a refusal, or a group that is not ok at the end.
	Problem bool
}

// NoVerdictError says that verification reached no verdict on a group
// (an I/O or permission problem), so nothing was planned.
type NoVerdictError struct {
	Group  string
	Reason string
}

func (e *NoVerdictError) Error() string { return fmt.Sprintf("group %s: %s", e.Group, e.Reason) }

// verifyForChange verifies a group the way a change needs it: no lock
// check (the change takes the locks itself), and no verdict is an error.
func verifyForChange(ctx context.Context, g inspect.Group) (*inspect.GroupReport, error) {
	rep, err := inspect.Verify(ctx, g, inspect.VerifyOptions{NoLockCheck: true})
	if err != nil {
		return nil, err
	}
	if rep.Err != "" {
		return nil, &NoVerdictError{Group: g.Name, Reason: rep.Err}
	}
	return rep, nil
}

// Repair verifies a group, plans what can be mended without losing
// anything, applies the plan with a backup, and verifies again, for up to
// three rounds (a round that plans nothing ends it). A plan with
// refusals is not applied at all: what cannot be mended is left exactly
// as it is, with advice. The group counts as a problem unless it is ok at
// the end (info findings allowed).
func Repair(ctx context.Context, g inspect.Group, opts RunOptions) (*Outcome, error) {
	rep, err := verifyForChange(ctx, g)
	if err != nil {
		return nil, err
	}
	out := &Outcome{StatusBefore: rep.Status}
	for round := 1; round <= maxRounds; round++ {
		plan, err := PlanRepair(ctx, g, rep.Findings)
		if err != nil {
			return nil, err
		}
		if opts.DryRun {
			out.Plan = plan
			out.Refused = len(plan.Refusals) > 0
			out.Problem = !plan.Empty() || out.Refused
			return out, nil
		}
		if len(plan.Refusals) > 0 {
			out.Plan, out.Refused = plan, true
			break
		}
		if len(plan.Actions) == 0 {
			if round == 1 {
				out.Plan = plan
			}
			break
		}
		res, err := apply(ctx, plan, opts, round)
		if err != nil {
			return nil, err
		}
		out.Rounds = append(out.Rounds, res)
		if rep, err = verifyForChange(ctx, g); err != nil {
			return nil, err
		}
	}
	out.finish(rep)
	return out, nil
}

// Compact plans a compaction (opts.Compact), applies it with a backup
// unless something is refused or it is a dry run, and verifies again.
func Compact(ctx context.Context, g inspect.Group, opts RunOptions) (*Outcome, error) {
	rep, err := verifyForChange(ctx, g)
	if err != nil {
		return nil, err
	}
	out := &Outcome{StatusBefore: rep.Status}
	co := opts.Compact
	co.Findings = rep.Findings
	plan, err := PlanCompact(ctx, g, co)
	if err != nil {
		return nil, err
	}
	out.Plan = plan
	out.Refused = len(plan.Refusals) > 0
	if opts.DryRun || out.Refused || len(plan.Actions) == 0 {
		out.Problem = out.Refused || (opts.DryRun && !plan.Empty()) || rep.Status != inspect.StatusOK
		return out, nil
	}
	res, err := apply(ctx, plan, opts, 1)
	if err != nil {
		return nil, err
	}
	out.Rounds = append(out.Rounds, res)
	if rep, err = verifyForChange(ctx, g); err != nil {
		return nil, err
	}
	out.finish(rep)
	return out, nil
}

func apply(ctx context.Context, plan *Plan, opts RunOptions, round int) (*Result, error) {
	if opts.OnPlan != nil {
		opts.OnPlan(plan)
	}
	var dir string
	if opts.BackupDir != nil {
		dir = opts.BackupDir(round)
	}
	return Apply(ctx, plan, ApplyOptions{BackupDir: dir})
}

// finish records the verdict after the change.
func (o *Outcome) finish(rep *inspect.GroupReport) {
	o.StatusAfter = rep.Status
	for _, f := range rep.Findings {
		if f.Severity.AtLeast(inspect.SeverityWarning) {
			o.FindingsLeft = append(o.FindingsLeft, f.Code)
		}
	}
	o.Problem = o.Refused || rep.Status != inspect.StatusOK
}

// verifyDeepAfter verifies a group a change rewrote, in deep mode (raft
// restarts from it in memory), and fails with its error findings when
// there are any or no verdict was reached.
func verifyDeepAfter(ctx context.Context, g inspect.Group, what string) error {
	rep, err := inspect.Verify(ctx, g, inspect.VerifyOptions{Deep: true, NoLockCheck: true})
	if err != nil {
		return err
	}
	if rep.Status == inspect.StatusError || rep.Status == inspect.StatusUnknown {
		var codes []string
		for _, f := range rep.Findings {
			if f.Severity.AtLeast(inspect.SeverityError) {
				codes = append(codes, f.Code+": "+f.Message)
			}
		}
		return fmt.Errorf("verify after %s: %s %v %s", what, rep.Status, codes, rep.Err)
	}
	return nil
}
