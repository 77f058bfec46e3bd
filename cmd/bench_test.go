package cmd_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/raftctl/raftctl/cmd"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// BenchmarkCommands runs whole commands on fixture.LargeGroup
// (RAFTCTL_BENCH_MB, default 64) with their output discarded. MB/s is over
// the group's WAL size.
func BenchmarkCommands(b *testing.B) {
	mb, err := fixture.BenchMB()
	if err != nil {
		b.Fatal(err)
	}
	for _, es := range []int{1024, 100} {
		dir, err := fixture.LargeGroup(os.TempDir(), mb, es)
		if err != nil {
			b.Fatal(err)
		}
		var size int64
		segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
		for _, s := range segs {
			fi, err := os.Stat(s)
			if err != nil {
				b.Fatal(err)
			}
			size += fi.Size()
		}
		for _, c := range []struct {
			name string
			args []string
		}{
			{"groups", []string{"groups", dir}},
			{"dump-jsonl-len", []string{"wal", "dump", dir, "-o", "jsonl", "--data", "len"}},
			{"dump-plain-none", []string{"wal", "dump", dir, "--data", "none"}},
			{"dump-plain-text", []string{"wal", "dump", dir}},
			{"dump-table-text", []string{"wal", "dump", dir, "-o", "table"}},
			{"dump-jsonl-base64", []string{"wal", "dump", dir, "-o", "jsonl"}},
			{"dump-jsonl-none", []string{"wal", "dump", dir, "-o", "jsonl", "--data", "none"}},
			{"dump-range", []string{"wal", "dump", dir, "--start-index", "1000", "--end-index", "1100"}},
		} {
			b.Run(c.name+"/entry="+strconv.Itoa(es), func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					streams, _, errOut := cmd.TestStreams()
					streams.Out = io.Discard
					if code := cmd.Run(context.Background(), streams, c.args); code != 0 {
						b.Fatalf("exit %d: %s", code, errOut)
					}
				}
			})
		}
	}
}
