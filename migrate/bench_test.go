package migrate_test

// Benchmarks of the commit log migration against etcd's own WAL writer.
//
//	go test -run '^$' -bench . -benchtime 3x ./migrate/
//
// The source is a generated legacy instance directory of RAFTCTL_BENCH_MB
// megabytes (default 50; 50 MiB rotation like the original writer), built
// once per process. At 500 MB:
//
//	RAFTCTL_BENCH_MB=500 go test -run '^$' -bench . -benchtime 3x -timeout 30m ./migrate/
//
// BenchmarkCommitlog is the whole durable migration (read, decode, write
// with segWriter, fsync, read back and verify, rename). BenchmarkWALSaveNoFsync
// is the baseline: the same entries, already in memory, written with etcd's
// wal.Save in the same batches after SetUnsafeNoFsync. Both report MB/s of
// legacy bytes and the peak live heap sampled during the run
// (peak-heap-MB). BenchmarkWriters (segwriter_test.go) compares the two
// writers alone on the same batches.

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/migrate"
	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

var (
	benchOnce sync.Once
	benchRoot string
	benchFx   *legacytest.Fixture
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

// benchFixture returns the shared generated source directory.
func benchFixture(b *testing.B) *legacytest.Fixture {
	b.Helper()
	benchOnce.Do(func() {
		mb := int64(50)
		if s := os.Getenv("RAFTCTL_BENCH_MB"); s != "" {
			if mb, benchErr = strconv.ParseInt(s, 10, 64); benchErr != nil {
				return
			}
		}
		if benchRoot, benchErr = os.MkdirTemp("", "raftctl-bench-"); benchErr != nil {
			return
		}
		benchFx, benchErr = legacytest.Generate(filepath.Join(benchRoot, "m"), legacytest.Config{
			Bytes: mb * 1000 * 1000, Seed: 1, EqualTSEvery: 3,
		})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchFx
}

// peakHeap samples the live heap every few milliseconds until stopped.
type peakHeap struct {
	stop chan struct{}
	done chan struct{}
	peak uint64
}

func startPeakHeap() *peakHeap {
	runtime.GC()
	p := &peakHeap{stop: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(p.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			p.peak = max(p.peak, sample[0].Value.Uint64())
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakHeap) end() uint64 {
	close(p.stop)
	<-p.done
	return p.peak
}

func BenchmarkCommitlog(b *testing.B) {
	fx := benchFixture(b)
	b.SetBytes(fx.Bytes)
	b.ReportAllocs()
	var peak uint64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		out := b.TempDir()
		b.StartTimer()
		ph := startPeakHeap()
		res, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, Out: out, Name: "g"})
		peak = max(peak, ph.end())
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if res.Records != fx.Count {
			b.Fatalf("%d records, want %d", res.Records, fx.Count)
		}
		os.RemoveAll(out)
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
}

// BenchmarkCommitlogDryRun is reading and decoding alone.
func BenchmarkCommitlogDryRun(b *testing.B) {
	fx := benchFixture(b)
	b.SetBytes(fx.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, DryRun: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWALSaveNoFsync is the baseline: etcd's wal.Save of the same
// entries (bootstrap plus one per record, 1 MiB batches), already in memory,
// without fsync.
func BenchmarkWALSaveNoFsync(b *testing.B) {
	fx := benchFixture(b)
	d, err := commitlog.Open(fx.Dir)
	if err != nil {
		b.Fatal(err)
	}
	// Load the entries, in batches of about 1 MiB of data.
	var batches [][]*raftpb.Entry
	var cur []*raftpb.Entry
	size := 0
	index := uint64(2)
	term, normal := proto.Uint64(1), raftpb.EntryNormal.Enum()
	r := d.NewReader(commitlog.ReaderOptions{})
	for r.Next() {
		data := append([]byte(nil), r.Record().Raw...)
		cur = append(cur, &raftpb.Entry{Term: term, Index: proto.Uint64(index), Type: normal, Data: data})
		index++
		if size += len(data); size >= 1<<20 {
			batches, cur, size = append(batches, cur), nil, 0
		}
	}
	if r.Err() != nil {
		b.Fatal(r.Err())
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	cc, _ := proto.Marshal(&raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(1)})
	boot := []*raftpb.Entry{{Term: term, Index: proto.Uint64(1), Type: raftpb.EntryConfChange.Enum(), Data: cc}}

	b.SetBytes(fx.Bytes)
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "wal")
		b.StartTimer()
		ph := startPeakHeap()
		w, err := wal.Create(zap.NewNop(), dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		w.SetUnsafeNoFsync()
		if err := w.Save(&raftpb.HardState{Term: term, Commit: proto.Uint64(1)}, boot); err != nil {
			b.Fatal(err)
		}
		for _, ents := range batches {
			hs := &raftpb.HardState{Term: term, Commit: ents[len(ents)-1].Index}
			if err := w.Save(hs, ents); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, ph.end())
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
}

// TestWriteBenchSource writes the benchmark source directory to
// RAFTCTL_BENCH_SOURCE (RAFTCTL_BENCH_MB megabytes, default 50) for
// whole-process measurements of `raftctl migrate commitlog`; skipped
// without it. See BENCHMARKS.md.
func TestWriteBenchSource(t *testing.T) {
	dir := os.Getenv("RAFTCTL_BENCH_SOURCE")
	if dir == "" {
		t.Skip("RAFTCTL_BENCH_SOURCE not set")
	}
	mb := int64(50)
	if s := os.Getenv("RAFTCTL_BENCH_MB"); s != "" {
		var err error
		if mb, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	fx, err := legacytest.Generate(dir, legacytest.Config{Bytes: mb * 1000 * 1000, Seed: 1, EqualTSEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d records, %d bytes", dir, fx.Count, fx.Bytes)
}
