package inspect

import (
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/repair/durable"
)

// segSizeMu serialises changes of wal.SegmentSizeBytes.
var segSizeMu sync.Mutex

// op is one step of a scripted WAL: entries [from, to] at term, an optional
// HardState, and an optional snapshot record.
type op struct {
	from, to, term uint64
	size           int
	commit         uint64
	snap           *[2]uint64 // index, term
}

// writeWAL writes dir/wal with etcd's real wal package, cutting segments at
// segSize bytes, and returns the WAL directory.
func writeWAL(t testing.TB, dir string, segSize int64, ops []op) string {
	t.Helper()
	segSizeMu.Lock()
	defer segSizeMu.Unlock()
	defer durable.LockSegmentSize(segSize)()
	walDir := filepath.Join(dir, "wal")
	w, err := wal.Create(zap.NewNop(), walDir, []byte("raftctl-test"))
	if err != nil {
		t.Fatal(err)
	}
	w.SetUnsafeNoFsync()
	var hs raftpb.HardState
	for _, o := range ops {
		if o.snap != nil {
			if err := w.SaveSnapshot(&walpb.Snapshot{Index: proto.Uint64(o.snap[0]), Term: proto.Uint64(o.snap[1]), ConfState: &raftpb.ConfState{Voters: []uint64{1}}}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var ents []*raftpb.Entry
		for i := o.from; i <= o.to && o.to != 0; i++ {
			data := make([]byte, o.size)
			for k := range data {
				data[k] = byte(i*7 + uint64(k))
			}
			ents = append(ents, &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(o.term), Type: raftpb.EntryNormal.Enum(), Data: data})
		}
		hs = raftpb.HardState{Term: proto.Uint64(max(o.term, hs.GetTerm())), Vote: proto.Uint64(1), Commit: proto.Uint64(max(o.commit, hs.GetCommit()))}
		if err := w.Save(&hs, ents); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return walDir
}
