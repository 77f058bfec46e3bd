package inspect

import (
	"bytes"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// FuzzWire requires raftctl's hand-written protobuf decoders of
// walpb.Record, raftpb.Entry, raftpb.HardState and walpb.Snapshot to accept
// exactly what proto.Unmarshal accepts and to read the same values.
func FuzzWire(f *testing.F) {
	seeds := []proto.Message{
		&walpb.Record{Type: proto.Int64(2), Crc: proto.Uint32(0xdeadbeef), Data: []byte("payload")},
		&raftpb.Entry{Term: proto.Uint64(3), Index: proto.Uint64(1 << 40), Type: raftpb.EntryConfChangeV2.Enum(), Data: []byte{0, 1, 2}},
		&raftpb.HardState{Term: proto.Uint64(9), Vote: proto.Uint64(2), Commit: proto.Uint64(77)},
		&walpb.Snapshot{Index: proto.Uint64(5), Term: proto.Uint64(2), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}},
	}
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x08, 0x80, 0x80, 0x80, 0x80, 0x10}) // enum value beyond int32
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec walpb.Record
		perr := proto.Unmarshal(b, &rec)
		typ, crc, data, err := parseRecord(b)
		if (err == nil) != (perr == nil) {
			t.Fatalf("record: raftctl %v, protobuf %v", err, perr)
		}
		if err == nil && (int64(typ) != rec.GetType() || crc != rec.GetCrc() || !bytes.Equal(data, rec.GetData())) {
			t.Fatalf("record differs: %v %x %x vs %v", typ, crc, data, &rec)
		}

		var ent raftpb.Entry
		perr = proto.Unmarshal(b, &ent)
		var e Entry
		err = parseEntry(b, &e)
		if (err == nil) != (perr == nil) {
			t.Fatalf("entry: raftctl %v, protobuf %v", err, perr)
		}
		if err == nil && (e.Term != ent.GetTerm() || e.Index != ent.GetIndex() || int32(e.Type) != int32(ent.GetType()) || !bytes.Equal(e.Data, ent.GetData())) {
			t.Fatalf("entry differs: %+v vs %v", e, &ent)
		}

		var hs raftpb.HardState
		perr = proto.Unmarshal(b, &hs)
		h, err := parseHardState(b)
		if (err == nil) != (perr == nil) {
			t.Fatalf("hardstate: raftctl %v, protobuf %v", err, perr)
		}
		if err == nil && (h.Term != hs.GetTerm() || h.Vote != hs.GetVote() || h.Commit != hs.GetCommit()) {
			t.Fatalf("hardstate differs: %+v vs %v", h, &hs)
		}

		var ws walpb.Snapshot
		perr = proto.Unmarshal(b, &ws)
		s, err := parseWALSnapshot(b)
		if (err == nil) != (perr == nil) {
			t.Fatalf("snapshot: raftctl %v, protobuf %v", err, perr)
		}
		if err == nil && (s.Index != ws.GetIndex() || s.Term != ws.GetTerm()) {
			t.Fatalf("snapshot differs: %+v vs %v", s, &ws)
		}
	})
}
