//go:build unix

package repair

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestWriteBenchGroup writes the group BENCHMARKS.md measures compact,
// compact --rewrite and repair on, when RAFTCTL_BENCH_GROUP names the
// directory to write it to (skipped otherwise): RAFTCTL_BENCH_MB (64 by
// default) megabytes of 1 KiB entries in etcd's default 64 MB segments,
// written by etcd's wal package in batches of 1000 entries with a
// HardState each, and a snapshot (snap.SaveSnap, then wal.SaveSnapshot)
// every 100,000 entries (RAFTCTL_BENCH_SNAPSHOT_EVERY; at most
// RAFTCTL_BENCH_SNAPSHOTS of them), as
// fixture.LargeGroup writes its groups but with snapshots for compaction to
// start from. With RAFTCTL_BENCH_TORN set, the last sector of the last
// record is then zeroed: a torn tail for repair.
func TestWriteBenchGroup(t *testing.T) {
	dir := os.Getenv("RAFTCTL_BENCH_GROUP")
	if dir == "" {
		t.Skip("RAFTCTL_BENCH_GROUP is not set")
	}
	mb, err := fixture.BenchMB()
	if err != nil {
		t.Fatal(err)
	}
	every, most := uint64(100000), uint64(1<<62)
	if s := os.Getenv("RAFTCTL_BENCH_SNAPSHOT_EVERY"); s != "" {
		if every, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	if s := os.Getenv("RAFTCTL_BENCH_SNAPSHOTS"); s != "" {
		if most, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeBenchWAL(dir, []byte("bench"), int64(mb)<<20, every, most); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("RAFTCTL_BENCH_TORN") == "" {
		return
	}
	// A torn tail repair mends: the last sector of the last record never
	// reached the disk (zeros in the preallocated file).
	segs, err := fixture.WALSegments(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(dir, "wal", filepath.Base(segs[len(segs)-1]))
	recs, err := fixture.RecordOffsets(last)
	if err != nil {
		t.Fatal(err)
	}
	r := recs[len(recs)-1]
	end := r.Offset + r.FrameLen
	from := max(r.DataOffset(), (end-1)/512*512)
	if err := fixture.ZeroRange(last, from, end-from); err != nil {
		t.Fatal(err)
	}
}

// writeBenchWAL writes dir/wal and dir/snap as TestWriteBenchGroup
// describes: size bytes of 1 KiB entries (whole batches of 1000) with
// metadata md, and a snapshot every every entries, at most most of them.
// The entries depend on their index only, so two groups written with
// different sizes hold the same bytes where both hold an index.
func writeBenchWAL(dir string, md []byte, size int64, every, most uint64) error {
	if err := os.MkdirAll(filepath.Join(dir, "snap"), 0o755); err != nil {
		return err
	}
	cs := &raftpb.ConfState{Voters: []uint64{1}}
	return fixture.WithSegmentSize(64*1000*1000, func() error {
		w, err := wal.Create(zap.NewNop(), filepath.Join(dir, "wal"), md)
		if err != nil {
			return err
		}
		w.SetUnsafeNoFsync()
		ss := snap.New(zap.NewNop(), filepath.Join(dir, "snap"))
		data := make([]byte, 1024)
		for k := range data {
			data[k] = byte('a' + k%26)
		}
		var idx uint64
		for written := int64(0); written < size; {
			ents := make([]*raftpb.Entry, 0, 1000)
			for k := 0; k < 1000; k++ {
				idx++
				ents = append(ents, &raftpb.Entry{Index: proto.Uint64(idx), Term: proto.Uint64(1), Type: raftpb.EntryNormal.Enum(), Data: data})
				written += int64(len(data) + 16)
			}
			hs := &raftpb.HardState{Term: proto.Uint64(1), Vote: proto.Uint64(1), Commit: proto.Uint64(idx)}
			if err := w.Save(hs, ents); err != nil {
				w.Close()
				return err
			}
			if idx%every == 0 && idx/every <= most {
				md := &raftpb.SnapshotMetadata{Index: proto.Uint64(idx), Term: proto.Uint64(1), ConfState: cs}
				if err := ss.SaveSnap(&raftpb.Snapshot{Data: []byte(fmt.Sprintf("state at %d", idx)), Metadata: md}); err != nil {
					w.Close()
					return err
				}
				if err := w.SaveSnapshot(&walpb.Snapshot{Index: proto.Uint64(idx), Term: proto.Uint64(1), ConfState: cs}); err != nil {
					w.Close()
					return err
				}
			}
		}
		return w.Close()
	})
}

// recoverBenchPair writes, once, the replicas BenchmarkRecoverApply works
// on under $TMPDIR/raftctl-bench-recover-<mb>-<tail>: m/ (a member of
// RAFTCTL_BENCH_MB megabytes, etcd layout, member ID 1) and d/ (member ID 2
// of the same cluster, holding RAFTCTL_BENCH_TAIL_MB megabytes more:
// the committed tail m lacks), no snapshot.
func recoverBenchPair(b *testing.B) (member, donor string, mb, tail int) {
	b.Helper()
	mb, err := fixture.BenchMB()
	if err != nil {
		b.Fatal(err)
	}
	tail = 8
	if s := os.Getenv("RAFTCTL_BENCH_TAIL_MB"); s != "" {
		if tail, err = strconv.Atoi(s); err != nil || tail <= 0 {
			b.Fatalf("RAFTCTL_BENCH_TAIL_MB=%q", s)
		}
	}
	root := filepath.Join(os.TempDir(), fmt.Sprintf("raftctl-bench-recover-%d-%d", mb, tail))
	member, donor = filepath.Join(root, "m"), filepath.Join(root, "d")
	if _, err := os.Stat(filepath.Join(root, "done")); err == nil {
		return member, donor, mb, tail
	}
	os.RemoveAll(root)
	for _, r := range []struct {
		dir  string
		id   uint64
		size int64
	}{{member, 1, int64(mb) << 20}, {donor, 2, int64(mb+tail) << 20}} {
		md, err := fixture.Metadata(r.id, 0xbe)
		if err != nil {
			b.Fatal(err)
		}
		if err := writeBenchWAL(filepath.Join(r.dir, "member"), md, r.size, 1, 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "done"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return member, donor, mb, tail
}

// procIO reads a /proc/<pid>/io file: wchar (bytes passed to write calls)
// and write_bytes (bytes the process caused to be written to storage,
// counted when it dirties the page cache).
func procIO(b *testing.B, path string) (wchar, writeBytes int64) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "wchar":
			wchar = n
		case "write_bytes":
			writeBytes = n
		}
	}
	return wchar, writeBytes
}

// BenchmarkRecoverApply measures recover apply on a member of
// RAFTCTL_BENCH_MB megabytes (8 segments of 64 MB at 512) that lacks a
// committed tail of RAFTCTL_BENCH_TAIL_MB megabytes (default 8) another
// replica holds: the time, and the bytes written (write_bytes of
// /proc/self/io, and for the whole raftctl process its rusage block
// output). Each run works on a fresh copy of the member; the plan is made
// untimed before (recover plan). It fails when apply writes more than the
// new tail plus one segment (the member's last, rewritten aside) and 1 MiB
// for the manifest.
//
//	RAFTCTL_BENCH_MB=512 go test ./repair -run XXX -bench BenchmarkRecoverApply -benchtime 3x
func BenchmarkRecoverApply(b *testing.B) {
	memberSrc, donor, _, _ := recoverBenchPair(b)
	ctx := context.Background()
	work := b.TempDir()
	var bin string
	// fresh copies the member and plans its recovery.
	fresh := func(b *testing.B, k int) (*RecoverPlan, string) {
		b.Helper()
		m := filepath.Join(work, fmt.Sprintf("m%d", k))
		os.RemoveAll(m)
		if err := fixture.CopyDir(memberSrc, m); err != nil {
			b.Fatal(err)
		}
		servers := []string{m, donor}
		var gs [][]inspect.Group
		for _, s := range servers {
			g, err := inspect.Discover([]string{s}, inspect.DiscoverOptions{})
			if err != nil {
				b.Fatal(err)
			}
			gs = append(gs, g)
		}
		p, err := PlanRecover(ctx, servers, gs, RecoverOptions{Member: m})
		if err != nil || len(p.Refusals) > 0 || p.AppendFrom == 0 {
			b.Fatalf("plan: %+v %v", p, err)
		}
		return p, m
	}
	// limit is the new tail plus one segment (the last) plus 1 MiB.
	limit := func(b *testing.B, p *RecoverPlan, appended int64) int64 {
		return p.Actions[0].Size + appended + 1<<20
	}
	b.Run("library", func(b *testing.B) {
		var written, wchar, newTail int64
		var last int64
		for k := 0; k < b.N; k++ {
			b.StopTimer()
			p, m := fresh(b, k)
			w0, b0 := procIO(b, "/proc/self/io")
			b.StartTimer()
			res, err := ApplyRecover(ctx, p, ApplyOptions{BackupDir: filepath.Join(work, fmt.Sprintf("backup-%d", k))})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			w1, b1 := procIO(b, "/proc/self/io")
			written += b1 - b0
			wchar += w1 - w0
			last = p.Actions[0].Size
			tail := res.BytesWritten - p.Actions[0].Offset
			newTail += tail
			if got, max := b1-b0, limit(b, p, tail); got > max {
				b.Fatalf("recover apply wrote %d bytes (write_bytes), more than the new tail (%d) plus one segment (%d) and 1 MiB", got, tail, last)
			}
			os.RemoveAll(m)
			os.RemoveAll(filepath.Join(work, fmt.Sprintf("backup-%d", k)))
			b.StartTimer()
		}
		n := float64(b.N)
		b.ReportMetric(float64(written)/n, "write_bytes/op")
		b.ReportMetric(float64(wchar)/n, "wchar/op")
		b.ReportMetric(float64(newTail)/n, "tail-B/op")
		b.ReportMetric(float64(last), "last-seg-B")
	})
	b.Run("process", func(b *testing.B) {
		b.StopTimer()
		if bin == "" {
			bin = filepath.Join(work, "raftctl")
			out, err := exec.Command("go", "build", "-o", bin, "github.com/raftctl/raftctl").CombinedOutput()
			if err != nil {
				b.Fatalf("go build: %v\n%s", err, out)
			}
		}
		var written, rss int64
		var wall time.Duration
		for k := 0; k < b.N; k++ {
			b.StopTimer()
			p, m := fresh(b, k)
			raw, err := json.Marshal(p)
			if err != nil {
				b.Fatal(err)
			}
			planFile := filepath.Join(work, "plan.json")
			if err := os.WriteFile(planFile, raw, 0o600); err != nil {
				b.Fatal(err)
			}
			backup := filepath.Join(work, fmt.Sprintf("pbackup-%d", k))
			cmd := exec.Command(bin, "recover", "apply", planFile, "--backup-dir", backup, "-o", "json")
			b.StartTimer()
			t0 := time.Now()
			out, err := cmd.Output()
			wall += time.Since(t0)
			b.StopTimer()
			if err != nil {
				b.Fatalf("raftctl recover apply: %v\n%s", err, out)
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			got := ru.Oublock * 512
			written += got
			rss = max(rss, ru.Maxrss<<10)
			var res RecoverResult
			if err := json.Unmarshal(out, &res); err != nil {
				b.Fatalf("raftctl recover apply -o json: %v\n%s", err, out)
			}
			tail := res.BytesWritten - p.Actions[0].Offset
			if max := limit(b, p, tail); got > max {
				b.Fatalf("raftctl recover apply wrote %d bytes (rusage), more than the new tail (%d) plus one segment (%d) and 1 MiB", got, tail, p.Actions[0].Size)
			}
			os.RemoveAll(m)
			os.RemoveAll(backup)
			b.StartTimer()
		}
		n := float64(b.N)
		b.ReportMetric(float64(written)/n, "oublock-B/op")
		b.ReportMetric(float64(rss), "maxrss-B")
		b.ReportMetric(wall.Seconds()/n, "wall-s/op")
	})
}
