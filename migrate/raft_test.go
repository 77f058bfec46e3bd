package migrate_test

import (
	"io"
	"log"
	"path/filepath"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// readGroup reads <group>/wal with etcd's reader, as a restarting node does.
func readGroup(t testing.TB, group string) (*raftpb.HardState, []*raftpb.Entry) {
	t.Helper()
	w, err := wal.OpenForRead(zap.NewNop(), filepath.Join(group, "wal"), &walpb.Snapshot{})
	if err != nil {
		t.Fatal(err)
	}
	_, st, ents, err := w.ReadAll()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return st, ents
}

// node is a real raft.RawNode restarted from a migrated group: its
// MemoryStorage holds the HardState and entries read from the WAL, and it
// applies committed entries like an application would (conf changes through
// ApplyConfChange, normal entries collected).
type node struct {
	t         testing.TB
	id        uint64
	rn        *raft.RawNode
	ms        *raft.MemoryStorage
	applied   [][]byte // Data of applied EntryNormal entries, empty ones skipped
	appliedTo uint64
	conf      *raftpb.ConfState
	outbox    []*raftpb.Message
}

func restartNode(t testing.TB, id uint64, st *raftpb.HardState, ents []*raftpb.Entry) *node {
	t.Helper()
	ms := raft.NewMemoryStorage()
	if err := ms.SetHardState(st); err != nil {
		t.Fatal(err)
	}
	if err := ms.Append(ents); err != nil {
		t.Fatal(err)
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              id,
		Storage:         ms,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Applied:         0,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		Logger:          &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &node{t: t, id: id, rn: rn, ms: ms}
}

// process handles every pending Ready: persist, collect messages, apply.
func (n *node) process() {
	n.t.Helper()
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if !raft.IsEmptyHardState(rd.HardState) {
			if err := n.ms.SetHardState(rd.HardState); err != nil {
				n.t.Fatal(err)
			}
		}
		if err := n.ms.Append(rd.Entries); err != nil {
			n.t.Fatal(err)
		}
		n.outbox = append(n.outbox, rd.Messages...)
		for _, e := range rd.CommittedEntries {
			switch e.GetType() {
			case raftpb.EntryConfChange:
				var cc raftpb.ConfChange
				if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
					n.t.Fatal(err)
				}
				n.conf = n.rn.ApplyConfChange(&cc)
			case raftpb.EntryNormal:
				if len(e.GetData()) > 0 {
					n.applied = append(n.applied, e.GetData())
				}
			default:
				n.t.Fatalf("node %d: unexpected entry type %v", n.id, e.GetType())
			}
			n.appliedTo = e.GetIndex()
		}
		n.rn.Advance(rd)
	}
}

// cluster pumps messages between nodes until done or a step limit.
func runCluster(t testing.TB, nodes []*node, done func() bool) {
	t.Helper()
	byID := map[uint64]*node{}
	for _, n := range nodes {
		byID[n.id] = n
	}
	for step := 0; step < 10000; step++ {
		for _, n := range nodes {
			n.process()
		}
		if done() {
			return
		}
		delivered := false
		for _, n := range nodes {
			msgs := n.outbox
			n.outbox = nil
			for _, m := range msgs {
				to := byID[m.GetTo()]
				if to == nil {
					t.Fatalf("message to unknown node %d", m.GetTo())
				}
				if err := to.rn.Step(m); err != nil {
					t.Fatalf("node %d: step %v: %v", to.id, m.GetType(), err)
				}
				delivered = true
			}
		}
		if !delivered {
			for _, n := range nodes {
				n.rn.Tick()
			}
		}
	}
	t.Fatal("cluster did not converge")
}
