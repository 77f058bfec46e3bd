package cmd

import (
	"bytes"
	"io"
	"os"

	"github.com/raftctl/raftctl/format"
)

// IOStreams is the seam between commands and the process: data goes to
// Out, messages to ErrOut; tests use TestStreams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY and ErrTTY say whether Out and ErrOut are terminals.
	OutTTY, ErrTTY bool
	// Width is the terminal's width, 0 when not a terminal or unknown.
	Width int
	// Getenv reads the environment (commands only; libraries never do).
	Getenv func(string) string
	// LookupEnv reads the environment and says whether a variable is set.
	LookupEnv func(string) (string, bool)
}

// System returns the process's streams.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv, LookupEnv: os.LookupEnv}
	s.OutTTY = format.IsTerminal(os.Stdout)
	s.ErrTTY = format.IsTerminal(os.Stderr)
	if s.OutTTY {
		s.Width = format.TerminalWidth(os.Stdout.Fd())
	}
	return s
}

// TestStreams returns streams writing to buffers, not terminals, with an
// empty environment.
func TestStreams() (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{
		In: &bytes.Buffer{}, Out: out, ErrOut: errOut,
		Getenv:    func(string) string { return "" },
		LookupEnv: func(string) (string, bool) { return "", false },
	}, out, errOut
}
