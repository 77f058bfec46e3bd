package inspect

import (
	"context"
	"path/filepath"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"
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
