package migrate

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"

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
//
// The segments are read one by one (see readBacker), so that a migration
// can read each back as soon as it is complete, while the next one is
// written (writeSegments); readBack then returns what that read-back found
// for walDir (once) instead of reading the files again.
func readBack(walDir string) (*walSummary, error) {
	if v, ok := readBackDone.LoadAndDelete(walDir); ok {
		r := v.(readBackResult)
		return r.s, r.err
	}
	segs, _, err := inspect.ListSegments(walDir)
	if err != nil {
		return nil, err
	}
	rb := newReadBacker(context.Background())
	for _, seg := range segs {
		if err := rb.segment(seg); err != nil {
			return nil, err
		}
	}
	return rb.finish(walDir)
}

// readBackResult is the outcome of a read-back made while writing.
type readBackResult struct {
	s   *walSummary
	err error
}

// readBackDone holds, by WAL directory, the read-backs that writeSegments
// made while it wrote, until readBack takes them.
var readBackDone sync.Map

// readBacker reads a WAL back segment by segment, in order. Each segment is
// read with inspect.ReadLog (every record's CRC, the chain inside the
// segment, the log's shape) and its records streamed a second time; the
// segments are joined by checking that each one's opening crc record
// carries the running CRC at the end of the one before, and that indexes
// continue without a gap or an overwrite. For the WAL a migration writes
// (no overwrites, indexes contiguous from 1) this accepts exactly what
// reading the whole WAL at once accepts.
type readBacker struct {
	ctx    context.Context
	s      *walSummary
	h      *xxhash.Digest
	lenBuf [4]byte
	next   uint64 // the index the next entry must have
	crc    uint32 // the running CRC after the last segment
	paths  []string
	state  bool // a HardState was read
}

func newReadBacker(ctx context.Context) *readBacker {
	return &readBacker{ctx: ctx, s: &walSummary{}, h: xxhash.New(), next: 1}
}

// segmentAt describes the segment file at path for the reader.
func segmentAt(path string) (inspect.Segment, error) {
	name := filepath.Base(path)
	seq, index, canonical, err := inspect.ParseSegmentName(name)
	if err != nil {
		return inspect.Segment{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return inspect.Segment{}, err
	}
	return inspect.Segment{Path: path, Name: name, Seq: seq, Index: index, Size: fi.Size(), Canonical: canonical}, nil
}

// segment reads the next segment back.
func (rb *readBacker) segment(seg inspect.Segment) error {
	first := len(rb.paths) == 0
	rb.paths = append(rb.paths, seg.Path)
	segs := []inspect.Segment{seg}
	l, err := inspect.ReadLog(rb.ctx, segs)
	if err != nil {
		return err
	}
	if l.Stop != nil {
		return l.Stop
	}
	if l.Overwritten != 0 || len(l.Gaps) != 0 || l.MetadataConflict || l.UnconfirmedSnapshot != 0 {
		return fmt.Errorf("%s: unexpected log shape: %d overwritten entries, %d gaps", seg.Name, l.Overwritten, len(l.Gaps))
	}
	switch {
	case first && (len(l.Snapshots) != 1 || l.Snapshots[0].Index != 0 || l.Snapshots[0].Term != 0):
		return fmt.Errorf("the WAL does not start with the initial empty snapshot record")
	case !first && len(l.Snapshots) != 0:
		return fmt.Errorf("%s: unexpected snapshot record", seg.Name)
	}
	if l.HasHardState {
		hs := l.HardState
		rb.s.state = &raftpb.HardState{Term: proto.Uint64(hs.Term), Vote: proto.Uint64(hs.Vote), Commit: proto.Uint64(hs.Commit)}
		rb.state = true
	}
	n := 0
	err = inspect.WalkRaw(rb.ctx, segs, l, func(r *inspect.RawRecord) error {
		if n++; n == 1 {
			if r.Kind.String() != "crc" || r.CRC != rb.crc {
				return fmt.Errorf("%s: opens with a %v record (crc %08x), want a crc record carrying %08x", seg.Name, r.Kind, r.CRC, rb.crc)
			}
		}
		if r.Err != nil {
			return r.Err
		}
		if r.Entry == nil {
			return nil
		}
		return rb.entry(r.Entry)
	})
	if err != nil {
		return err
	}
	rb.crc = l.FinalCRC
	return nil
}

// entry checks and summarises the next entry.
func (rb *readBacker) entry(e *inspect.Entry) error {
	s := rb.s
	if e.Index != rb.next {
		return fmt.Errorf("entry %d has index %d", rb.next, e.Index)
	}
	rb.next++
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
		binary.LittleEndian.PutUint32(rb.lenBuf[:], uint32(len(e.Data)))
		rb.h.Write(rb.lenBuf[:])
		rb.h.Write(e.Data)
	default:
		return fmt.Errorf("entry %d has type %v", e.Index, e.Type)
	}
	s.lastIndex = e.Index
	return nil
}

// finish checks that the segments read are exactly those of walDir, in
// order, and returns the summary.
func (rb *readBacker) finish(walDir string) (*walSummary, error) {
	segs, ignored, err := inspect.ListSegments(walDir)
	if err != nil {
		return nil, err
	}
	if len(ignored) != 0 {
		return nil, fmt.Errorf("files other than segments in %s: %v", walDir, ignored)
	}
	if len(segs) != len(rb.paths) {
		return nil, fmt.Errorf("%d segments read back, %d in %s", len(rb.paths), len(segs), walDir)
	}
	for i, seg := range segs {
		if seg.Path != rb.paths[i] {
			return nil, fmt.Errorf("segment %d is %s, %s was read back", i, seg.Path, rb.paths[i])
		}
	}
	if !rb.state {
		return nil, fmt.Errorf("no HardState read back")
	}
	rb.s.sum = rb.h.Sum64()
	return rb.s, nil
}
