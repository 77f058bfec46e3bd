//go:build unix

package repair

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

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
	if err := os.MkdirAll(filepath.Join(dir, "snap"), 0o755); err != nil {
		t.Fatal(err)
	}
	cs := &raftpb.ConfState{Voters: []uint64{1}}
	err = fixture.WithSegmentSize(64*1000*1000, func() error {
		w, err := wal.Create(zap.NewNop(), filepath.Join(dir, "wal"), []byte("bench"))
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
		for written := int64(0); written < int64(mb)<<20; {
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
	if err != nil {
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
