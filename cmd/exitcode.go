package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/raftctl/raftctl/migrate"
	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/repair"
)

// Exit codes: the contract with CI pipelines. Every command's help ends
// with this table (exitStatusHelp).
const (
	ExitOK          = 0   // done; nothing at or above --fail-on
	ExitFindings    = 1   // done, and problems were found (or a dry run has work to do)
	ExitUsage       = 2   // bad flag, argument or configuration; nothing read or written
	ExitNoVerdict   = 3   // I/O or permission error, not a Raft directory, corrupt data met, WAL locked
	ExitInterrupted = 130 // interrupted
)

// exitStatus is the EXIT STATUS table; a test keeps it free of duplicates
// and in step with the constants above.
var exitStatus = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "done; for verify-like commands, nothing at or above --fail-on"},
	{ExitFindings, "done, and problems were found (verify findings; a dry run that has work to do)"},
	{ExitUsage, "usage: bad flag, argument or configuration; nothing read or written"},
	{ExitNoVerdict, "could not reach a verdict: I/O or permission error, not a Raft directory, corrupt record, WAL locked by a live process"},
	{ExitInterrupted, "interrupted"},
}

func exitStatusHelp() string {
	s := "EXIT STATUS\n"
	for _, e := range exitStatus {
		s += fmt.Sprintf("  %-4d %s\n", e.Code, e.Meaning)
	}
	return s
}

// exitError carries an exit code and, unless silent, a message.
type exitError struct {
	code   int
	err    error
	usage  bool // print the command's usage after the message
	silent bool // the command already said everything
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a usage error (exit 2) followed by the pointer to the
// command's help.
func usageErrorf(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// usageError is usageErrorf for an error at hand.
func usageError(err error) error { return &exitError{code: ExitUsage, err: err, usage: true} }

// inputErrorf is a usage error (exit 2) about the input named rather than
// the command line's shape (a selection that matches nothing): no pointer
// to the help.
func inputErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// noVerdictf is an error after which no verdict could be reached (exit 3).
func noVerdictf(format string, args ...any) error {
	return &exitError{code: ExitNoVerdict, err: fmt.Errorf(format, args...)}
}

// exitWith gives err the exit code code, chosen by one of the mappings
// in this file (migrateExitCode).
func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

// notFound is the usage error of a PATH or FILE argument that does not
// exist.
func notFound(p string) error { return inputErrorf("%s: no such file or directory", p) }

// noVerdict gives a command's error its exit code: an exitError keeps
// its own, a cancellation is interrupted (130), anything else could not
// reach a verdict (3).
func noVerdict(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return interrupted()
	}
	return &exitError{code: ExitNoVerdict, err: err}
}

// interrupted is the error of a command stopped by a signal.
func interrupted() error { return &exitError{code: ExitInterrupted, err: errors.New("interrupted")} }

// commandError is what a command's work returned, with its exit code
// (see run): interrupted once ctx is done, whatever the work returned;
// else noVerdict.
func commandError(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return interrupted()
	}
	return noVerdict(err)
}

// findings is the silent exit 1: the output already shows the problems.
func findings() error { return &exitError{code: ExitFindings, silent: true} }

// refused is exit 1 with err's message: a plan that refuses, applied
// (nothing was changed).
func refused(err error) error { return &exitError{code: ExitFindings, err: err} }

// verdictError ends a verify-like command (verify, report): exit 3 with
// noVerdictErr when something could not be judged, whatever the rest
// holds; else the silent exit 1 when failing (findings at or above
// --fail-on); else 0.
func verdictError(noVerdictErr error, failing bool) error {
	switch {
	case noVerdictErr != nil:
		return &exitError{code: ExitNoVerdict, err: noVerdictErr}
	case failing:
		return findings()
	}
	return nil
}

// migrateExitCode is the exit code of a migration that failed with err:
// interrupted (130); a usage error (2) for options that do not hold, a
// target that exists, a selection or prefix to decide, or a source that
// does not exist; else 3.
func migrateExitCode(ctx context.Context, err error) int {
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return ExitInterrupted
	case anyIs(err, migrate.ErrInvalidOptions, migrate.ErrExists, commitlog.ErrSelection, commitlog.ErrAmbiguousPrefix, os.ErrNotExist):
		return ExitUsage
	}
	return ExitNoVerdict
}

// anyIs reports whether err, or one of the errors joined in it, is one of
// targets.
func anyIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// runError is what Run reports for what the command tree returned: nil
// when it succeeded; interrupted when ctx is done (whatever the command
// returned); an error carrying an exitError as it is; anything else (what
// cobra itself returns: an unknown command or flag, a wrong number of
// arguments) a usage error. errors.As finds an *exitError in every non-nil
// result.
func runError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return interrupted()
	}
	if err == nil {
		return nil
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		return &exitError{code: ExitUsage, err: err, usage: true}
	}
	return err
}

// exitCode maps an error returned by a command to the process's exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	return ExitNoVerdict
}

// changeError maps the repair package's errors to exit codes.
func changeError(group string, err error) error {
	var le *repair.LockedError
	var se *repair.StaleError
	var pe *repair.PartialError
	var nv *repair.NoVerdictError
	switch {
	case errors.As(err, &nv):
		return noVerdict(err)
	case errors.As(err, &le):
		return &exitError{code: ExitNoVerdict, err: fmt.Errorf("group %s: %s is locked (%s lock) by a live process: stop it first; nothing was changed", group, le.Path, le.Kind)}
	case errors.As(err, &se):
		return &exitError{code: ExitNoVerdict, err: fmt.Errorf("group %s: it changed while raftctl was planning (%s); nothing was changed, run the command again", group, se.Reason)}
	case errors.As(err, &pe):
		if errors.Is(pe.Err, context.Canceled) {
			return &exitError{code: ExitInterrupted, err: fmt.Errorf("group %s: interrupted after %d actions; `raftctl restore %s` puts it back", group, pe.Done, pe.BackupDir)}
		}
		return &exitError{code: ExitNoVerdict, err: fmt.Errorf("group %s: %v; `raftctl restore %s` puts it back", group, pe.Err, pe.BackupDir)}
	}
	return &exitError{code: ExitNoVerdict, err: fmt.Errorf("group %s: %w", group, describeFSError(err))}
}
