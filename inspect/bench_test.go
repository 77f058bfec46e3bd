package inspect

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// benchGroup returns the WAL directory of fixture.LargeGroup and its
// size: RAFTCTL_BENCH_MB megabytes (64 by default) of entries of entrySize
// bytes, cached under the temp directory between runs.
func benchGroup(b *testing.B, entrySize int) (string, int64) {
	b.Helper()
	mb, err := fixture.BenchMB()
	if err != nil {
		b.Fatal(err)
	}
	dir, err := fixture.LargeGroup(os.TempDir(), mb, entrySize)
	if err != nil {
		b.Fatal(err)
	}
	walDir := filepath.Join(dir, "wal")
	var size int64
	for _, s := range benchSegs(b, walDir) {
		size += s.Size
	}
	return walDir, size
}

func benchSegs(b *testing.B, walDir string) []Segment {
	segs, _, err := ListSegments(walDir)
	if err != nil {
		b.Fatal(err)
	}
	return segs
}

// BenchmarkRead compares raftctl's reader with etcd's decoder, etcd's
// ReadAll and a plain read of the files (the `cat` baseline), over the
// same group. MB/s is over the segment files' total size.
func BenchmarkRead(b *testing.B) {
	for _, es := range []int{1024, 100} {
		walDir, size := benchGroup(b, es)
		segs := benchSegs(b, walDir)
		b.Run(fmt.Sprintf("entry=%d/cat", es), func(b *testing.B) {
			b.SetBytes(size)
			buf := make([]byte, 1<<20)
			for b.Loop() {
				for _, s := range segs {
					f, err := os.Open(s.Path)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{f}, buf); err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
			}
		})
		b.Run(fmt.Sprintf("entry=%d/raftctl-scan", es), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				sc := newScanner(segs, scanOptions{})
				var e Entry
				n = 0
				for sc.Next() {
					if r := sc.Record(); r.Type == entryRecord {
						if err := parseEntry(r.Data, &e); err != nil {
							b.Fatal(err)
						}
						n++
					}
				}
				if sc.Err() != nil {
					b.Fatal(sc.Err())
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
		b.Run(fmt.Sprintf("entry=%d/raftctl-readlog", es), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				l, err := ReadLog(context.Background(), segs)
				if err != nil || l.Stop != nil {
					b.Fatal(err, l.Stop)
				}
			}
		})
		b.Run(fmt.Sprintf("entry=%d/raftctl-effective", es), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				l, err := ReadLog(context.Background(), segs)
				if err != nil {
					b.Fatal(err)
				}
				if err := EffectiveEntries(context.Background(), segs, l, func(*Entry, *Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("entry=%d/etcd-decoder", es), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				var rs []fileutil.FileReader
				var fs []*os.File
				for _, s := range segs {
					f, err := os.Open(s.Path)
					if err != nil {
						b.Fatal(err)
					}
					fs = append(fs, f)
					rs = append(rs, fileutil.NewFileReader(f))
				}
				dec := wal.NewDecoder(rs...)
				rec := &walpb.Record{}
				var err error
				for err = dec.Decode(rec); err == nil; err = dec.Decode(rec) {
					if RecordType(rec.GetType()) == entryRecord {
						wal.MustUnmarshalEntry(rec.Data)
					}
				}
				if err != io.EOF {
					b.Fatal(err)
				}
				for _, f := range fs {
					f.Close()
				}
			}
		})
		b.Run(fmt.Sprintf("entry=%d/etcd-readall", es), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				w, err := wal.OpenForRead(zap.NewNop(), walDir, &walpb.Snapshot{})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, _, err := w.ReadAll(); err != nil {
					b.Fatal(err)
				}
				w.Close()
			}
		})
	}
}
