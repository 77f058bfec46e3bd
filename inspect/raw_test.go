package inspect

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestWalkRaw: WalkRaw yields every record ReadLog read, framed back to
// back from each segment's start, each decoded as its kind requires; its
// entries that are not overwritten are the effective log (EffectiveEntries),
// its last state record the Log's HardState, its snapshot and metadata
// records the Log's.
func TestWalkRaw(t *testing.T) {
	ctx := context.Background()
	walDir := writeWAL(t, t.TempDir(), 8<<10, []op{
		{from: 1, to: 30, term: 1, size: 300, commit: 20},
		{from: 31, to: 50, term: 1, size: 300, commit: 40},
		{from: 45, to: 60, term: 2, size: 300, commit: 44}, // overwrites 45..50
		{snap: &[2]uint64{55, 2}},
		{from: 61, to: 90, term: 2, size: 300, commit: 80},
		{from: 91, to: 120, term: 2, size: 300, commit: 110},
	})
	segs := listSegs(t, walDir)
	if len(segs) < 3 {
		t.Fatalf("%d segments: want several", len(segs))
	}
	l, err := ReadLog(ctx, segs)
	if err != nil || l.Stop != nil {
		t.Fatalf("ReadLog: %v %v", err, l.Stop)
	}
	if l.Overwritten == 0 {
		t.Fatal("the fixture overwrites nothing")
	}
	type ent struct {
		index, term uint64
		data        string
	}
	var want []ent
	if err := EffectiveEntries(ctx, segs, l, func(e *Entry, _ *Record) error {
		want = append(want, ent{e.Index, e.Term, string(e.Data)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var (
		got          []ent
		n, overwrite int64
		last         HardState
		snaps        []SnapshotRecordAt
		kinds        = map[string]int{}
		prevSeg      = -1
		end          int64
	)
	err = WalkRaw(ctx, segs, l, func(r *RawRecord) error {
		if r.Err != nil {
			return r.Err
		}
		if r.Seq != n {
			t.Errorf("record %d has Seq %d", n, r.Seq)
		}
		n++
		if r.Segment != prevSeg {
			if r.Offset != 0 || r.Kind.String() != "crc" {
				t.Errorf("segment %d starts with a %s record at offset %d", r.Segment, r.Kind, r.Offset)
			}
			prevSeg, end = r.Segment, 0
		}
		if r.Offset != end || r.Length <= 8 || r.Length%8 != 0 {
			t.Errorf("record %d at %d+%d: the previous one ended at %d", r.Seq, r.Offset, r.Length, end)
		}
		end = r.Offset + r.Length
		kinds[r.Kind.String()]++
		set := 0
		for _, p := range []bool{r.Entry != nil, r.State != nil, r.Snapshot != nil, r.Metadata != nil} {
			if p {
				set++
			}
		}
		if want := map[bool]int{true: 0, false: 1}[r.Kind.String() == "crc"]; set != want {
			t.Errorf("%s record %d: %d payloads set", r.Kind, r.Seq, set)
		}
		switch r.Kind.String() {
		case "entry":
			if r.Overwritten {
				overwrite++
			} else {
				got = append(got, ent{r.Entry.Index, r.Entry.Term, string(r.Entry.Data)})
			}
		case "state":
			last = *r.State
		case "snapshot":
			snaps = append(snaps, SnapshotRecordAt{WALSnapshot: *r.Snapshot, Segment: r.Segment, Offset: r.Offset})
		case "metadata":
			if !bytes.Equal(r.Metadata, l.Metadata) {
				t.Errorf("metadata %q, want %q", r.Metadata, l.Metadata)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != l.Records {
		t.Errorf("%d records, ReadLog read %d", n, l.Records)
	}
	if kinds["crc"] != len(segs) || kinds["metadata"] != len(segs) || kinds["state"] == 0 {
		t.Errorf("record kinds %v", kinds)
	}
	if overwrite == 0 || len(got) != len(want) {
		t.Fatalf("%d entries not overwritten (%d overwritten), the effective log holds %d", len(got), overwrite, len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i].index, want[i].index)
		}
	}
	if last != l.HardState {
		t.Errorf("last state %+v, want %+v", last, l.HardState)
	}
	if len(snaps) != len(l.Snapshots) {
		t.Fatalf("%d snapshot records, want %d", len(snaps), len(l.Snapshots))
	}
	for i := range snaps {
		a, b := snaps[i], l.Snapshots[i]
		if a.Index != b.Index || a.Term != b.Term || a.Segment != b.Segment || a.Offset != b.Offset || !bytes.Equal(a.ConfState, b.ConfState) {
			t.Errorf("snapshot record %d: %+v, want %+v", i, a, b)
		}
	}

	// fn's error stops the walk and comes back.
	stop := errors.New("stop")
	k := 0
	if err := WalkRaw(ctx, segs, l, func(*RawRecord) error { k++; return stop }); err != stop || k != 1 {
		t.Errorf("WalkRaw after an error: %v after %d records", err, k)
	}
}

// TestWalkRawMalformed: a record whose CRC holds but whose payload does
// not decode is the walk's last, reported in Err with its file and offset.
func TestWalkRawMalformed(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		typ  int64
		kind string
	}{{int64(entryRecord), "entry"}, {int64(stateRecord), "state"}, {int64(snapshotRecord), "snapshot"}} {
		walDir := writeWAL(t, t.TempDir(), 1<<20, []op{{from: 1, to: 5, term: 1, size: 10, commit: 5}})
		segs := listSegs(t, walDir)
		appendRecord(t, segs[0], c.typ, []byte{0xff}) // a truncated tag
		segs = listSegs(t, walDir)
		l, err := ReadLog(ctx, segs)
		if err != nil || l.Stop == nil || l.Stop.Kind != KindMalformed {
			t.Fatalf("%s: ReadLog: %v, stop %v", c.kind, err, l.Stop)
		}
		var bad []*DecodeError
		var lastKind string
		err = WalkRaw(ctx, segs, l, func(r *RawRecord) error {
			lastKind = r.Kind.String()
			if r.Err != nil {
				if r.Entry != nil || r.State != nil || r.Snapshot != nil {
					t.Errorf("%s: a payload is set beside Err", c.kind)
				}
				bad = append(bad, r.Err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) != 1 || lastKind != c.kind {
			t.Fatalf("%s: %d records with Err, the last a %s record", c.kind, len(bad), lastKind)
		}
		if de := bad[0]; de.Offset != l.Stop.Offset || de.Path != segs[0].Path || de.Kind != KindMalformed {
			t.Errorf("%s: Err %+v, ReadLog stopped at %+v", c.kind, de, l.Stop)
		}
	}
}

// TestRaftEntryAndConfState: the typed decoders for writers give what
// proto.Unmarshal gives, unknown fields included.
func TestRaftEntryAndConfState(t *testing.T) {
	pe := &raftpb.Entry{Index: proto.Uint64(7), Term: proto.Uint64(3), Type: raftpb.EntryConfChange.Enum(), Data: []byte("x")}
	b, err := proto.Marshal(pe)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, 0x48, 0x01) // field 9, varint 1: unknown to raftpb.Entry
	got, err := (&Record{Data: b}).RaftEntry()
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := proto.Marshal(got); !bytes.Equal(out, b) {
		t.Errorf("RaftEntry re-encodes as %x, want %x", out, b)
	}
	if _, err := (&Record{Data: []byte{0xff}}).RaftEntry(); err == nil {
		t.Error("RaftEntry of a truncated tag: no error")
	}

	cs := &raftpb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}
	cb, _ := proto.Marshal(cs)
	s := WALSnapshot{Index: 5, Term: 2, ConfState: cb}
	if got, err := s.RaftConfState("/nonexistent"); err != nil || !proto.Equal(got, cs) {
		t.Errorf("RaftConfState: %v, %v", got, err)
	}
	if got, err := (&WALSnapshot{}).RaftConfState(""); err != nil || !proto.Equal(got, &raftpb.ConfState{}) {
		t.Errorf("RaftConfState of an empty record: %v, %v", got, err)
	}
	if _, err := (&WALSnapshot{}).RaftConfState("/nonexistent"); err == nil {
		t.Error("RaftConfState from a missing file: no error")
	}
}

// TestConfChange: Entry.ConfChange decodes what raft writes.
func TestConfChange(t *testing.T) {
	b, err := proto.Marshal(&raftpb.ConfChange{Type: raftpb.ConfChangeAddLearnerNode.Enum(), NodeId: proto.Uint64(9), Context: []byte("ctx")})
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{Index: 3, Term: 1, Type: EntryConfChange, Data: b}
	cc, err := e.ConfChange()
	if err != nil || cc.Type != "add-learner" || cc.NodeID != 9 || string(cc.Context) != "ctx" {
		t.Errorf("ConfChange: %+v, %v", cc, err)
	}
	e.Type = EntryNormal
	if _, err := e.ConfChange(); err == nil {
		t.Error("ConfChange of a normal entry: no error")
	}
	e.Type, e.Data = EntryConfChange, []byte{0xff}
	if _, err := e.ConfChange(); err == nil {
		t.Error("ConfChange of a truncated tag: no error")
	}
}
