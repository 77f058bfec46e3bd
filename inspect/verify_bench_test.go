package inspect

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// BenchmarkVerify compares Verify, in default and deep mode, with etcd's
// wal.Verify over the same generated group (RAFTCTL_BENCH_MB megabytes,
// default 64, in 64 MB segments, the last one preallocated). MB/s is over
// the segment files' total size, the preallocated tail included, which
// Verify reads to classify and wal.Verify does not.
func BenchmarkVerify(b *testing.B) {
	walDir, size := benchGroup(b, 1024)
	g := Group{Name: "bench", Dir: filepath.Dir(walDir), WALDir: walDir}
	b.Run("etcd-wal.Verify", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wal.Verify(zap.NewNop(), walDir, &walpb.Snapshot{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name string
		opts VerifyOptions
	}{
		{"raftctl-verify", VerifyOptions{}},
		{"raftctl-verify-deep", VerifyOptions{Deep: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				rep, err := Verify(context.Background(), g, c.opts)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Status != StatusOK {
					b.Fatalf("bench group: %s\n%s", rep.Status, dumpFindings(rep))
				}
			}
		})
	}
}

// linkGroups makes n groups under root whose files are hard links to the
// files of the group at src (a directory holding wal/ and snap/), so that
// many groups cost no disk space. It is cached: a "done" marker guards it.
func linkGroups(b *testing.B, src, root string, n int) []Group {
	b.Helper()
	if _, err := os.Stat(filepath.Join(root, "done")); err != nil {
		os.RemoveAll(root)
		for k := 0; k < n; k++ {
			for _, sub := range []string{"wal", "snap"} {
				dst := filepath.Join(root, fmt.Sprintf("g-%05d", k), sub)
				if err := os.MkdirAll(dst, 0o755); err != nil {
					b.Fatal(err)
				}
				entries, _ := os.ReadDir(filepath.Join(src, sub))
				for _, e := range entries {
					if err := os.Link(filepath.Join(src, sub, e.Name()), filepath.Join(dst, e.Name())); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		if err := os.WriteFile(filepath.Join(root, "done"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	groups, err := Discover([]string{root}, DiscoverOptions{})
	if err != nil || len(groups) != n {
		b.Fatalf("%d groups, %v", len(groups), err)
	}
	return groups
}

// BenchmarkVerifyAll verifies four groups of RAFTCTL_BENCH_MB megabytes
// each (512 for the BENCHMARKS.md figure) in parallel, beside a plain read
// of the same files (the `cat` baseline) and etcd's wal.Verify of each.
func BenchmarkVerifyAll(b *testing.B) {
	walDir, size := benchGroup(b, 1024)
	groups := linkGroups(b, filepath.Dir(walDir), filepath.Join(os.TempDir(), fmt.Sprintf("raftctl-bench-4x%d", size)), 4)
	total := 4 * size
	b.Run("cat", func(b *testing.B) {
		b.SetBytes(total)
		buf := make([]byte, 1<<20)
		for b.Loop() {
			for _, g := range groups {
				segs, _, _ := ListSegments(g.WALDir)
				for _, s := range segs {
					f, err := os.Open(s.Path)
					if err != nil {
						b.Fatal(err)
					}
					io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{f}, buf)
					f.Close()
				}
			}
		}
	})
	b.Run("raftctl-verify-all", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			rep, err := VerifyAll(context.Background(), groups, VerifyOptions{})
			if err != nil || rep.Summary.OK != 4 {
				b.Fatalf("%v %+v", err, rep.Summary)
			}
		}
	})
	b.Run("etcd-wal.Verify", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			for _, g := range groups {
				if _, err := wal.Verify(zap.NewNop(), g.WALDir, &walpb.Snapshot{}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkVerifyManySmall verifies 10,000 small groups (300 entries of
// 100 bytes each, with a snapshot), discovery included.
func BenchmarkVerifyManySmall(b *testing.B) {
	src := filepath.Join(os.TempDir(), "raftctl-bench-small-src")
	if _, err := os.Stat(filepath.Join(src, "done")); err != nil {
		os.RemoveAll(src)
		if _, err := fixture.WriteGroup(fixture.GroupSpec{Dir: src, Entries: 300, EntrySize: 100, SegmentSize: 16 * 1024, SnapshotEvery: 100}); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, "done"), nil, 0o644)
	}
	root := filepath.Join(os.TempDir(), "raftctl-bench-10k")
	linkGroups(b, src, root, 10000)
	b.ResetTimer()
	for b.Loop() {
		groups, err := Discover([]string{root}, DiscoverOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := VerifyAll(context.Background(), groups, VerifyOptions{})
		if err != nil || rep.Summary.OK != 10000 {
			b.Fatalf("%v %+v", err, rep.Summary)
		}
	}
}

// BenchmarkCompare compares three replicas (hard links to one
// RAFTCTL_BENCH_MB group) beside verifying one of them.
func BenchmarkCompare(b *testing.B) {
	walDir, size := benchGroup(b, 1024)
	root := filepath.Join(os.TempDir(), fmt.Sprintf("raftctl-bench-3x%d", size))
	var servers []string
	var groups [][]Group
	for k := 0; k < 3; k++ {
		srv := filepath.Join(root, fmt.Sprintf("server-%d", k))
		gs := linkGroups(b, filepath.Dir(walDir), srv, 1)
		servers = append(servers, srv)
		groups = append(groups, gs)
	}
	b.Run("verify-one", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := Verify(context.Background(), groups[0][0], VerifyOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compare-three", func(b *testing.B) {
		b.SetBytes(3 * size)
		b.ReportAllocs()
		for b.Loop() {
			cs, err := CompareGroups(context.Background(), servers, groups, VerifyOptions{})
			if err != nil || len(cs) != 1 || cs[0].Recommended == "" {
				b.Fatal(err)
			}
		}
	})
}
