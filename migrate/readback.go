package migrate

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
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

// readBack reads the WAL in walDir through raftctl's own streaming reader
// (inspect: every record's CRC and the CRC chain checked, overwrites
// resolved as etcd's ReadAll does, memory flat whatever the size) and
// summarises it, checking its shape: contiguous indexes from 1, conf
// changes (AddNode, term 1) first, then normal entries of one term. Any
// decode problem, a torn tail included, is an error: Commitlog wrote the
// files itself and fsynced them.
func readBack(walDir string) (*walSummary, error) {
	ctx := context.Background()
	segs, _, err := inspect.ListSegments(walDir)
	if err != nil {
		return nil, err
	}
	l, err := inspect.ReadLog(ctx, segs)
	if err != nil {
		return nil, err
	}
	if l.Stop != nil {
		return nil, l.Stop
	}
	if l.Overwritten != 0 || len(l.Gaps) != 0 || l.MetadataConflict {
		return nil, fmt.Errorf("unexpected log shape: %d overwritten entries, %d gaps", l.Overwritten, len(l.Gaps))
	}
	if len(l.Snapshots) == 0 || l.Snapshots[0].Index != 0 {
		return nil, fmt.Errorf("the WAL does not start with the initial empty snapshot record")
	}
	hs := l.HardState
	s := &walSummary{state: &raftpb.HardState{Term: proto.Uint64(hs.Term), Vote: proto.Uint64(hs.Vote), Commit: proto.Uint64(hs.Commit)}}
	h := xxhash.New()
	var lenBuf [4]byte
	next := uint64(1)
	err = inspect.EffectiveEntries(ctx, segs, l, func(e *inspect.Entry, _ *inspect.Record) error {
		if e.Index != next {
			return fmt.Errorf("entry %d has index %d", next, e.Index)
		}
		next++
		switch e.Type {
		case inspect.EntryConfChange:
			if s.entries > 0 {
				return fmt.Errorf("conf change at index %d after normal entries", e.Index)
			}
			cc, err := e.ConfChange()
			if err != nil {
				return fmt.Errorf("conf change at index %d: %w", e.Index, err)
			}
			if cc.Type != "add-node" || e.Term != 1 {
				return fmt.Errorf("conf change at index %d: %v at term %d, want add-node at term 1",
					e.Index, cc.Type, e.Term)
			}
			s.members = append(s.members, cc.NodeID)
		case inspect.EntryNormal:
			if s.entries == 0 {
				s.term = e.Term
			} else if e.Term != s.term {
				return fmt.Errorf("entry %d at term %d, the previous ones at %d", e.Index, e.Term, s.term)
			}
			s.entries++
			binary.LittleEndian.PutUint32(lenBuf[:], uint32(len(e.Data)))
			h.Write(lenBuf[:])
			h.Write(e.Data)
		default:
			return fmt.Errorf("entry %d has type %v", e.Index, e.Type)
		}
		s.lastIndex = e.Index
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.sum = h.Sum64()
	return s, nil
}
