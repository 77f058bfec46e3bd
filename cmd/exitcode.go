package cmd

import (
	"context"
	"errors"
	"fmt"
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

func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...), usage: true}
}

func noVerdict(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return &exitError{code: ExitInterrupted, err: errors.New("interrupted")}
	}
	return &exitError{code: ExitNoVerdict, err: err}
}

// findings is the silent exit 1: the output already shows the problems.
func findings() error { return &exitError{code: ExitFindings, silent: true} }

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
