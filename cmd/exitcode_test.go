package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/inspect"
)

// TestPermissionErrors: a permission error anywhere below a command says
// which path and what to do, and exits 3. (The script tests that chmod a
// directory skip when run as root, as CI is; this covers the mapping.)
func TestPermissionErrors(t *testing.T) {
	perm := &fs.PathError{Op: "open", Path: "/data/node-1/group-1/wal", Err: fs.ErrPermission}
	for _, err := range []error{
		perm,
		fmt.Errorf("group node-1/group-1: %w", describeFSError(perm)),
		describeFSError(fmt.Errorf("discover: %w", perm)),
	} {
		e := noVerdict(err)
		if code := exitCode(e); code != ExitNoVerdict {
			t.Errorf("%v: exit %d, want 3", err, code)
		}
	}
	msg := describeFSError(perm).Error()
	if !strings.Contains(msg, "/data/node-1/group-1/wal: permission denied") || !strings.Contains(msg, "run as the user that owns the data") {
		t.Errorf("message %q", msg)
	}
	// Decode errors name the file and offset.
	de := &inspect.DecodeError{Path: "/d/x.wal", Offset: 4096, Kind: inspect.KindCRC, Msg: "CRC mismatch"}
	if got := de.Error(); got != "/d/x.wal: offset 4096: CRC mismatch" {
		t.Errorf("decode error %q", got)
	}
	if exitCode(noVerdict(errors.New("anything else"))) != ExitNoVerdict {
		t.Error("unknown errors must not reach a verdict")
	}
}

// TestExitCodesInOnePlace: every exit code is chosen in exitcode.go; the
// other files of cmd return its helpers' errors (usageErrorf, inputErrorf,
// noVerdict, noVerdictf, changeError, exitWith ...), never an exitError of
// their own.
func TestExitCodesInOnePlace(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f == "exitcode.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "&exitError{") || strings.Contains(string(b), "exitError{code") {
			t.Errorf("%s builds an exitError itself: choose the code in exitcode.go", f)
		}
	}
}
