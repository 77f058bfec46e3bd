package repair

import (
	"context"
	"errors"
	"fmt"
	"os"

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
	return verifyLocked(ctx, g, nil)
}

// verifyLocked is verifyForChange under lock: Verify reads the segments
// through the lock's descriptors.
func verifyLocked(ctx context.Context, g inspect.Group, lock *GroupLock) (*inspect.GroupReport, error) {
	rep, err := inspect.Verify(ctx, g, inspect.VerifyOptions{NoLockCheck: true, Held: lock.held()})
	if err != nil {
		return nil, err
	}
	if rep.Err != "" {
		return nil, &NoVerdictError{Group: g.Name, Reason: rep.Err}
	}
	return rep, nil
}

// verifyHeld is verifyForChange reading the segments found in held
// through those descriptors.
func verifyHeld(ctx context.Context, g inspect.Group, held map[string]*os.File) (*inspect.GroupReport, error) {
	rep, err := inspect.Verify(ctx, g, inspect.VerifyOptions{NoLockCheck: true, Held: held})
	if err != nil {
		return nil, err
	}
	if rep.Err != "" {
		return nil, &NoVerdictError{Group: g.Name, Reason: rep.Err}
	}
	return rep, nil
}

// lockAndVerify locks the group's segments (for writing, or for reading
// where they cannot be written: a dry run on read-only media; see
// lockGroup) and verifies it through the lock's descriptors: the one read
// of the group a round plans from. A group that cannot be locked for a
// reason other than a live process is verified without the lock, so that
// an unreadable group is a *NoVerdictError as before.
func lockAndVerify(ctx context.Context, g inspect.Group) (*GroupLock, *inspect.GroupReport, error) {
	lock, err := lockGroup(g, true)
	if err != nil {
		var le *LockedError
		if !errors.As(err, &le) {
			if _, verr := verifyForChange(ctx, g); verr != nil {
				return nil, nil, verr
			}
		}
		return nil, nil, err
	}
	rep, err := verifyLocked(ctx, g, lock)
	if err != nil {
		lock.Release()
		return nil, nil, err
	}
	return lock, rep, nil
}

// verifyAfter verifies the group after a change, under a fresh lock when
// it can take one (its descriptors then serve the next round), else
// without one, as before the change was made (the lock is then nil).
func verifyAfter(ctx context.Context, g inspect.Group) (*GroupLock, *inspect.GroupReport, error) {
	lock, err := lockGroup(g, true)
	if err != nil {
		rep, err := verifyForChange(ctx, g)
		return nil, rep, err
	}
	rep, err := verifyLocked(ctx, g, lock)
	if err != nil {
		lock.Release()
		return nil, nil, err
	}
	return lock, rep, nil
}

// Repair locks the group, verifies it, plans what can be mended without
// losing anything from that one read, applies the plan with a backup under
// the same lock, and verifies again, for up to three rounds (a round that
// plans nothing ends it). A plan with refusals is not applied at all: what
// cannot be mended is left exactly as it is, with advice. The group counts
// as a problem unless it is ok at the end (info findings allowed).
//
// Each round reads the group once: the lock opens every segment, verify
// reads through those descriptors and its log is the planner's, the plan's
// pins and the backup read through them too, and Apply checks the plan's
// fingerprint instead of planning again (TestSegmentOpens counts the
// opens).
func Repair(ctx context.Context, g inspect.Group, opts RunOptions) (*Outcome, error) {
	lock, rep, err := lockAndVerify(ctx, g)
	if err != nil {
		return nil, err
	}
	defer func() { lock.Release() }()
	out := &Outcome{StatusBefore: rep.Status}
	for round := 1; round <= maxRounds; round++ {
		plan, err := planRepair(ctx, g, rep.Findings, readInput{lock: lock, rep: rep})
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
		if lock, rep, err = applyRound(ctx, g, plan, opts, round, lock, out); err != nil {
			return nil, err
		}
	}
	out.finish(rep)
	return out, nil
}

// Compact locks the group, verifies it, plans a compaction (opts.Compact)
// from that read, applies it with a backup under the same lock unless
// something is refused or it is a dry run, and verifies again.
func Compact(ctx context.Context, g inspect.Group, opts RunOptions) (*Outcome, error) {
	lock, rep, err := lockAndVerify(ctx, g)
	if err != nil {
		return nil, err
	}
	defer func() { lock.Release() }()
	out := &Outcome{StatusBefore: rep.Status}
	co := opts.Compact
	co.Findings = rep.Findings
	plan, err := planCompact(ctx, g, co, readInput{lock: lock, rep: rep})
	if err != nil {
		return nil, err
	}
	out.Plan = plan
	out.Refused = len(plan.Refusals) > 0
	if opts.DryRun || out.Refused || len(plan.Actions) == 0 {
		out.Problem = out.Refused || (opts.DryRun && !plan.Empty()) || rep.Status != inspect.StatusOK
		return out, nil
	}
	if lock, rep, err = applyRound(ctx, g, plan, opts, 1, lock, out); err != nil {
		return nil, err
	}
	out.finish(rep)
	return out, nil
}

// applyRound applies a plan made under lock, records the round in out,
// releases the lock and verifies the group again under a new one, which it
// returns with the verify's report. On an error the lock it returns is the
// one to release (the old one, or the new one).
func applyRound(ctx context.Context, g inspect.Group, plan *Plan, opts RunOptions, round int, lock *GroupLock, out *Outcome) (*GroupLock, *inspect.GroupReport, error) {
	res, err := apply(ctx, plan, opts, round, lock)
	if err != nil {
		return lock, nil, err
	}
	out.Rounds = append(out.Rounds, res)
	lock.Release()
	return verifyAfter(ctx, g)
}

// apply applies a plan made under lock. A lock that fell back to reading
// (a segment that cannot be opened for writing) is replaced by Apply's
// write lock, which then fails as it would have.
func apply(ctx context.Context, plan *Plan, opts RunOptions, round int, lock *GroupLock) (*Result, error) {
	if opts.OnPlan != nil {
		opts.OnPlan(plan)
	}
	var dir string
	if opts.BackupDir != nil {
		dir = opts.BackupDir(round)
	}
	if lock == nil || lock.readOnly {
		// No lock (see verifyAfter), or read locks, which would conflict
		// with Apply's write locks.
		lock.Release()
		return Apply(ctx, plan, ApplyOptions{BackupDir: dir})
	}
	return applyLocked(ctx, plan, ApplyOptions{BackupDir: dir}, lock, newResult(plan, false))
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
// restarts from it in memory), reading the segments found in held through
// those descriptors, and fails with its error findings when there are any
// or no verdict was reached. It returns the log it read and the segments
// (reading through held) it read it from: verify's one pass, or, when
// verify read the WAL in parts, a pass of ReadLog.
func verifyDeepAfter(ctx context.Context, g inspect.Group, what string, held map[string]*os.File) (*inspect.Log, []inspect.Segment, error) {
	rep, err := inspect.Verify(ctx, g, inspect.VerifyOptions{Deep: true, NoLockCheck: true, Held: held})
	if err != nil {
		return nil, nil, err
	}
	if rep.Status == inspect.StatusError || rep.Status == inspect.StatusUnknown {
		var codes []string
		for _, f := range rep.Findings {
			if f.Severity.AtLeast(inspect.SeverityError) {
				codes = append(codes, f.Code+": "+f.Message)
			}
		}
		return nil, nil, fmt.Errorf("verify after %s: %s %v %s", what, rep.Status, codes, rep.Err)
	}
	l, segs := rep.Read()
	if l == nil {
		if segs, _, err = inspect.OpenGroup(g); err != nil {
			return nil, nil, err
		}
		if l, err = inspect.ReadLog(ctx, inspect.HoldSegments(segs, held)); err != nil {
			return nil, nil, err
		}
	}
	return l, inspect.HoldSegments(segs, held), nil
}
