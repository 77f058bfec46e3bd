package inspect

import (
	"context"
	"fmt"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// RawRecord is one WAL record as written, its payload decoded: what
// `wal dump --raw` shows and what a caller needs who walks the records
// rather than the effective log. Of Entry, State, Snapshot and Metadata
// the one that matches Kind is set (none for a crc record, whose payload
// is CRC, nor for a record whose payload does not decode: see Err).
//
// Entry, State and Snapshot point into memory that WalkRaw reuses, and
// Entry.Data and Metadata alias its read buffer: they are valid only
// during the call.
type RawRecord struct {
	// Kind is the record's type (its String is raftctl's name for it:
	// entry, state, snapshot, crc, metadata).
	Kind RecordType
	// Segment indexes the walk's segment list; Offset is the byte offset
	// of the frame's length word in it, Length the size of the whole frame
	// (length word, record, padding).
	Segment int
	Offset  int64
	Length  int64
	// Seq numbers records from 0 across all segments.
	Seq int64
	// CRC is the record's crc field as stored: for a crc record, the
	// running CRC of the segments before; for any other, the running CRC
	// after its payload.
	CRC uint32

	// Entry is an entry record's entry; Overwritten says whether a later
	// record replaces it (overwritten at the same or a lower index, or
	// dropped for a snapshot ahead of it), so that it is not part of the
	// effective log.
	Entry       *Entry
	Overwritten bool
	// State is a state record's HardState.
	State *HardState
	// Snapshot is a snapshot record's walpb.Snapshot.
	Snapshot *WALSnapshot
	// Metadata is a metadata record's payload (ParseMetadata reads
	// etcd's).
	Metadata []byte

	// Err is set when the payload does not decode as its kind requires
	// (Kind KindMalformed, naming the file and offset); Entry, State and
	// Snapshot are then nil. ReadLog stops at such a record, so it is the
	// walk's last.
	Err *DecodeError
}

// WalkRaw calls fn with every record ReadLog read, in the order written,
// decoded, and stops where ReadLog stopped (so a log that grew in between
// reads the same). It reads the segments once more. It stops at the first
// error fn returns and returns it, and returns ctx's error when ctx is
// cancelled; a payload that does not decode is reported to fn in
// RawRecord.Err, not returned.
func WalkRaw(ctx context.Context, segs []Segment, l *Log, fn func(r *RawRecord) error) error {
	sup := l.newSupersession()
	var (
		rr RawRecord
		e  Entry
		hs HardState
		ws WALSnapshot
	)
	return walkRecords(ctx, segs, l, func(r *Record) error {
		rr = RawRecord{Kind: r.Type, Segment: r.Segment, Offset: r.Offset, Length: r.FrameSize, Seq: r.Seq, CRC: r.CRC}
		var err error
		what := ""
		switch r.Type {
		case entryRecord:
			if err = parseEntry(r.Data, &e); err == nil {
				rr.Entry = &e
				rr.Overwritten = sup.superseded(r.Seq, e.Index)
			}
			what = "entry"
		case stateRecord:
			if hs, err = parseHardState(r.Data); err == nil {
				rr.State = &hs
			}
			what = "state"
		case snapshotRecord:
			if ws, err = parseWALSnapshot(r.Data); err == nil {
				rr.Snapshot = &ws
			}
			what = "snapshot"
		case metadataRecord:
			rr.Metadata = r.Data
		}
		if err != nil {
			rr.Err = &DecodeError{Path: segs[r.Segment].Path, Segment: r.Segment, Offset: r.Offset, Kind: KindMalformed,
				Msg: what + " record does not decode: " + err.Error(), Err: err}
		}
		return fn(&rr)
	})
}

// RaftEntry decodes an entry record's data as etcd's decoder does
// (proto.Unmarshal into a new raftpb.Entry, unknown fields kept): for
// writers that hand the entries of the effective log (EffectiveEntries)
// to etcd's wal.Save unchanged.
func (r *Record) RaftEntry() (*raftpb.Entry, error) {
	pe := &raftpb.Entry{}
	if err := proto.Unmarshal(r.Data, pe); err != nil {
		return nil, err
	}
	return pe, nil
}

// RaftConfState returns the ConfState that a restart from this snapshot
// record restores, for writers that save the record again: the record's
// own (etcd 3.5 on), else, for a record without one (etcd before 3.5),
// that of the snapshot file snapFile (read with etcd's snap.Read, which
// changes nothing), else, when snapFile is "", an empty one.
func (s *WALSnapshot) RaftConfState(snapFile string) (*raftpb.ConfState, error) {
	cs := &raftpb.ConfState{}
	switch {
	case s.ConfState != nil:
		if err := proto.Unmarshal(s.ConfState, cs); err != nil {
			return nil, fmt.Errorf("snapshot record's ConfState: %w", err)
		}
	case snapFile != "":
		sn, err := snap.Read(zap.NewNop(), snapFile)
		if err != nil {
			return nil, err
		}
		cs = sn.GetMetadata().GetConfState()
	}
	return cs, nil
}

// ConfChange is the payload of a conf-change entry (raftpb.ConfChange).
type ConfChange struct {
	// Type is add-node, remove-node, update-node, add-learner, or type-N
	// for a type raft does not know.
	Type    string
	NodeID  uint64
	Context []byte
}

// ConfChange decodes a conf-change entry's payload as raft does.
func (e *Entry) ConfChange() (ConfChange, error) {
	if e.Type != EntryConfChange {
		return ConfChange{}, fmt.Errorf("entry %d is %s, not conf-change", e.Index, e.Type)
	}
	var cc raftpb.ConfChange
	if err := proto.Unmarshal(e.Data, &cc); err != nil {
		return ConfChange{}, err
	}
	return ConfChange{Type: confChangeType(cc.GetType()), NodeID: cc.GetNodeId(), Context: cc.GetContext()}, nil
}
