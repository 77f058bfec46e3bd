package cmd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/cmd"
)

// TestInterrupted: a command whose context is cancelled (SIGINT, SIGTERM)
// exits 130 and says so.
func TestInterrupted(t *testing.T) {
	for _, args := range [][]string{
		{"groups", "../testdata/sample"},
		{"verify", "../testdata/sample"},
		{"wal", "dump", "../testdata/sample"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		streams, _, errOut := cmd.TestStreams()
		if code := cmd.Run(ctx, streams, args); code != cmd.ExitInterrupted {
			t.Errorf("%v: exit %d, want 130 (%s)", args, code, errOut)
		}
		if !strings.Contains(errOut.String(), "interrupted") {
			t.Errorf("%v: stderr %q", args, errOut)
		}
	}
}
