package format

import (
	"os"
	"testing"
)

func TestTerminalOnAFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("IsTerminal(regular file) = true")
	}
	if IsTerminal(nil) {
		t.Error("IsTerminal(nil) = true")
	}
	if w := TerminalWidth(f.Fd()); w != 0 {
		t.Errorf("TerminalWidth(regular file) = %d, want 0", w)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) || TerminalWidth(w.Fd()) != 0 {
		t.Error("a pipe is taken for a terminal")
	}
}
