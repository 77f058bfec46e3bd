package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

// BenchmarkReadBack is the read-back step alone (etcd's ReadAll over the
// WAL of a migrated RAFTCTL_BENCH_MB source, default 50 MB), to compare with
// a replacement reader:
//
//	go test -run '^$' -bench ReadBack -benchtime 3x ./migrate/
func BenchmarkReadBack(b *testing.B) {
	mb := int64(50)
	if s := os.Getenv("RAFTCTL_BENCH_MB"); s != "" {
		var err error
		if mb, err = strconv.ParseInt(s, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	src := filepath.Join(b.TempDir(), "m")
	fx, err := legacytest.Generate(src, legacytest.Config{Bytes: mb * 1000 * 1000, Seed: 1, EqualTSEvery: 3})
	if err != nil {
		b.Fatal(err)
	}
	res, err := Commitlog(context.Background(), CommitlogOptions{Source: src, Out: b.TempDir(), Name: "g"})
	if err != nil {
		b.Fatal(err)
	}
	walDir := filepath.Join(res.Output, "wal")
	m := &migration{res: res}
	b.SetBytes(fx.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		s, err := readBack(walDir)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.verify(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitlogNoReadBack is BenchmarkCommitlog without the read-back
// step: read, decode, write with etcd's wal, fsync every file and directory.
// With BenchmarkReadBack it splits the cost of a migration.
func BenchmarkCommitlogNoReadBack(b *testing.B) {
	mb := int64(50)
	if s := os.Getenv("RAFTCTL_BENCH_MB"); s != "" {
		var err error
		if mb, err = strconv.ParseInt(s, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	src := filepath.Join(b.TempDir(), "m")
	fx, err := legacytest.Generate(src, legacytest.Config{Bytes: mb * 1000 * 1000, Seed: 1, EqualTSEvery: 3})
	if err != nil {
		b.Fatal(err)
	}
	d, err := commitlog.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fx.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tmp := b.TempDir()
		b.StartTimer()
		opts := CommitlogOptions{Source: src, Out: tmp, Name: "g"}
		if err := opts.normalize(); err != nil {
			b.Fatal(err)
		}
		m := &migration{opts: &opts, dir: d, res: &Result{FirstIndex: 2}}
		walDir := filepath.Join(tmp, "wal")
		if err := m.writeWAL(context.Background(), walDir); err != nil {
			b.Fatal(err)
		}
		if _, err := syncWALDir(walDir); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(tmp)
		b.StartTimer()
	}
}
