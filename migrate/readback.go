package migrate

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// readBackFunc is readBack; tests replace it to simulate a mismatch.
var readBackFunc = readBack

// walSummary is what readBack finds in a WAL written by Commitlog.
type walSummary struct {
	state *raftpb.HardState
	// members are the node ids of the leading EntryConfChange AddNode
	// entries.
	members []uint64
	// entries is the number of EntryNormal entries after them, term their
	// (single) term, sum the checksum of their data as in Result.Checksum.
	entries   int64
	term      uint64
	sum       uint64
	lastIndex uint64
}

// readBack reads the WAL in walDir the way a restarting node would (etcd's
// wal.OpenForRead and ReadAll, which check every record's CRC, the metadata
// and the initial snapshot record) and summarises it, checking its shape:
// contiguous indexes from 1, conf changes (AddNode, term 1) first, then
// normal entries of one term.
//
// ReadAll holds every entry in memory at once, so this is the one step whose
// memory grows with the input (about the output's size). It is kept in this
// one function so that a streaming reader can replace it.
func readBack(walDir string) (*walSummary, error) {
	w, err := wal.OpenForRead(zap.NewNop(), walDir, &walpb.Snapshot{})
	if err != nil {
		return nil, err
	}
	_, st, ents, err := w.ReadAll()
	w.Close() // read mode: ReadAll has closed the files; nothing to sync
	if err != nil {
		return nil, err
	}
	s := &walSummary{state: st}
	h := xxhash.New()
	var lenBuf [4]byte
	for i, e := range ents {
		if e.GetIndex() != uint64(i)+1 {
			return nil, fmt.Errorf("entry %d has index %d", i+1, e.GetIndex())
		}
		switch e.GetType() {
		case raftpb.EntryConfChange:
			if s.entries > 0 {
				return nil, fmt.Errorf("conf change at index %d after normal entries", e.GetIndex())
			}
			var cc raftpb.ConfChange
			if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
				return nil, fmt.Errorf("conf change at index %d: %w", e.GetIndex(), err)
			}
			if cc.GetType() != raftpb.ConfChangeAddNode || e.GetTerm() != 1 {
				return nil, fmt.Errorf("conf change at index %d: %v at term %d, want AddNode at term 1",
					e.GetIndex(), cc.GetType(), e.GetTerm())
			}
			s.members = append(s.members, cc.GetNodeId())
		case raftpb.EntryNormal:
			if s.entries == 0 {
				s.term = e.GetTerm()
			} else if e.GetTerm() != s.term {
				return nil, fmt.Errorf("entry %d at term %d, the previous ones at %d", e.GetIndex(), e.GetTerm(), s.term)
			}
			s.entries++
			binary.LittleEndian.PutUint32(lenBuf[:], uint32(len(e.GetData())))
			h.Write(lenBuf[:])
			h.Write(e.GetData())
		default:
			return nil, fmt.Errorf("entry %d has type %v", e.GetIndex(), e.GetType())
		}
		s.lastIndex = e.GetIndex()
	}
	s.sum = h.Sum64()
	return s, nil
}
