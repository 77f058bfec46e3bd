package format

import (
	"os"

	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal. A nil f is not.
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// TerminalWidth returns the width in columns of the terminal open on fd, or
// 0 if fd is not a terminal or its size is unknown. It does not read
// $COLUMNS: the caller decides whether that overrides the terminal.
func TerminalWidth(fd uintptr) int {
	w, _, err := term.GetSize(int(fd))
	if err != nil || w <= 0 {
		return 0
	}
	return w
}
