package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The decoders below follow proto.Unmarshal for proto2 messages: the last
// occurrence of a scalar wins, a field with an unexpected wire type is kept
// as an unknown field (so it is skipped, not an error), and malformed tags,
// varints and lengths are errors. They copy nothing: bytes fields alias the
// input.

var errEndGroup = errors.New("unexpected end-group tag")

// skipField consumes one field value of any wire type.
func skipField(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	n := protowire.ConsumeFieldValue(num, typ, b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	return n, nil
}

func consumeTag(b []byte) (protowire.Number, protowire.Type, int, error) {
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, 0, 0, protowire.ParseError(n)
	}
	// protobuf rejects field numbers outside [1, 2^29-1] (ConsumeTag alone
	// lets numbers that overflow int32 through).
	if v>>3 < uint64(protowire.MinValidNumber) || v>>3 > uint64(protowire.MaxValidNumber) {
		return 0, 0, 0, errors.New("invalid field number")
	}
	num, typ := protowire.Number(v>>3), protowire.Type(v&7)
	if typ == protowire.EndGroupType {
		return 0, 0, 0, errEndGroup
	}
	return num, typ, n, nil
}

// parseRecord decodes a walpb.Record {1: type int64, 2: crc uint32, 3: data bytes}.
func parseRecord(b []byte) (typ RecordType, crc uint32, data []byte, err error) {
	for len(b) > 0 {
		// Fast path for the three one-byte tags etcd writes.
		switch b[0] {
		case 0x08, 0x10:
			v, n := protowire.ConsumeVarint(b[1:])
			if n < 0 {
				return 0, 0, nil, protowire.ParseError(n)
			}
			if b[0] == 0x08 {
				typ = RecordType(int64(v))
			} else {
				crc = uint32(v)
			}
			b = b[1+n:]
			continue
		case 0x1a:
			v, n := protowire.ConsumeBytes(b[1:])
			if n < 0 {
				return 0, 0, nil, protowire.ParseError(n)
			}
			data = v
			b = b[1+n:]
			continue
		}
		// Any other encoding of a tag (or another field).
		num, wt, n, err := consumeTag(b)
		if err != nil {
			return 0, 0, nil, err
		}
		b = b[n:]
		switch {
		case (num == 1 || num == 2) && wt == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return 0, 0, nil, protowire.ParseError(m)
			}
			if num == 1 {
				typ = RecordType(int64(v))
			} else {
				crc = uint32(v)
			}
			b = b[m:]
		case num == 3 && wt == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return 0, 0, nil, protowire.ParseError(m)
			}
			data = v
			b = b[m:]
		default:
			m, err := skipField(num, wt, b)
			if err != nil {
				return 0, 0, nil, err
			}
			b = b[m:]
		}
	}
	return typ, crc, data, nil
}

// EntryType mirrors raftpb.EntryType.
type EntryType int32

// The entry types raft writes.
const (
	EntryNormal       EntryType = 0
	EntryConfChange   EntryType = 1
	EntryConfChangeV2 EntryType = 2
)

// String names the type as raftctl's JSON does.
func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "normal"
	case EntryConfChange:
		return "conf-change"
	case EntryConfChangeV2:
		return "conf-change-v2"
	}
	return fmt.Sprintf("type-%d", int32(t))
}

// ParseEntryType parses a name printed by EntryType.String.
func ParseEntryType(s string) (EntryType, error) {
	switch s {
	case "normal":
		return EntryNormal, nil
	case "conf-change", "confchange":
		return EntryConfChange, nil
	case "conf-change-v2", "confchangev2":
		return EntryConfChangeV2, nil
	}
	return 0, fmt.Errorf("unknown entry type %q (want normal, conf-change or conf-change-v2)", s)
}

// Entry is a raft log entry. Data aliases the scanner's buffer.
type Entry struct {
	Term  uint64
	Index uint64
	Type  EntryType
	Data  []byte
}

// parseEntry decodes a raftpb.Entry {1: Type enum, 2: Term, 3: Index, 4: Data}.
// Like protobuf-go for raftpb, an enum value raft does not know is kept as
// it is (truncated to int32); raft applies such an entry as a normal one.
func parseEntry(b []byte, e *Entry) error {
	*e = Entry{}
	for len(b) > 0 {
		// Fast path for the one-byte tags raft writes.
		switch b[0] {
		case 0x08, 0x10, 0x18:
			var v uint64
			n := 0
			if len(b) > 1 && b[1] < 0x80 {
				v, n = uint64(b[1]), 1
			} else if v, n = protowire.ConsumeVarint(b[1:]); n < 0 {
				return protowire.ParseError(n)
			}
			switch b[0] {
			case 0x08:
				e.Type = EntryType(int32(v))
			case 0x10:
				e.Term = v
			default:
				e.Index = v
			}
			b = b[1+n:]
			continue
		case 0x22:
			v, n := protowire.ConsumeBytes(b[1:])
			if n < 0 {
				return protowire.ParseError(n)
			}
			e.Data = v
			b = b[1+n:]
			continue
		}
		num, wt, n, err := consumeTag(b)
		if err != nil {
			return err
		}
		b = b[n:]
		switch {
		case num >= 1 && num <= 3 && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case 1:
				e.Type = EntryType(int32(v))
			case 2:
				e.Term = v
			case 3:
				e.Index = v
			}
		case num == 4 && wt == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			e.Data = v
			b = b[n:]
		default:
			m, err := skipField(num, wt, b)
			if err != nil {
				return err
			}
			b = b[m:]
		}
	}
	return nil
}

// HardState mirrors raftpb.HardState.
//
// In JSON the vote is a member ID, written as etcd prints IDs: a string of
// lower-case hex ("bdae9bbc11dd390d", "0" for none), because IDs above 2^53
// do not survive readers that parse numbers as doubles (jq 1.6). Reading
// accepts that string and, for documents written before (summaries, plan
// files), a bare number.
type HardState struct {
	Term   uint64 `json:"term"`
	Vote   uint64 `json:"vote"`
	Commit uint64 `json:"commit"`
}

// hardStateJSON is HardState's JSON form.
type hardStateJSON struct {
	Term   uint64          `json:"term"`
	Vote   json.RawMessage `json:"vote"`
	Commit uint64          `json:"commit"`
}

// MarshalJSON writes the vote as a hex string.
func (h HardState) MarshalJSON() ([]byte, error) {
	return json.Marshal(hardStateJSON{Term: h.Term, Vote: strconv.AppendQuote(nil, strconv.FormatUint(h.Vote, 16)), Commit: h.Commit})
}

// UnmarshalJSON reads the vote as a hex string or, as older documents
// wrote it, a decimal number.
func (h *HardState) UnmarshalJSON(b []byte) error {
	var j hardStateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = HardState{Term: j.Term, Commit: j.Commit}
	v := bytes.TrimSpace(j.Vote)
	switch {
	case len(v) == 0 || string(v) == "null":
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		id, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			return fmt.Errorf("hard_state.vote %q is not a hex member ID", s)
		}
		h.Vote = id
	default:
		id, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("hard_state.vote %s is not a member ID", v)
		}
		h.Vote = id
	}
	return nil
}

// parseHardState decodes a raftpb.HardState {1: term, 2: vote, 3: commit}.
func parseHardState(b []byte) (HardState, error) {
	var hs HardState
	for len(b) > 0 {
		num, wt, n, err := consumeTag(b)
		if err != nil {
			return HardState{}, err
		}
		b = b[n:]
		if num >= 1 && num <= 3 && wt == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return HardState{}, protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case 1:
				hs.Term = v
			case 2:
				hs.Vote = v
			case 3:
				hs.Commit = v
			}
			continue
		}
		m, err := skipField(num, wt, b)
		if err != nil {
			return HardState{}, err
		}
		b = b[m:]
	}
	return hs, nil
}

// WALSnapshot is a snapshot record of the WAL (walpb.Snapshot): the point
// from which a restart may replay the log.
type WALSnapshot struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	// ConfState is the raw raftpb.ConfState, nil when absent (etcd before
	// 3.5 and the initial empty snapshot).
	ConfState []byte `json:"-"`
}

// parseWALSnapshot decodes a walpb.Snapshot {1: index, 2: term, 3: conf_state}.
func parseWALSnapshot(b []byte) (WALSnapshot, error) {
	var s WALSnapshot
	for len(b) > 0 {
		num, wt, n, err := consumeTag(b)
		if err != nil {
			return WALSnapshot{}, err
		}
		b = b[n:]
		switch {
		case (num == 1 || num == 2) && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return WALSnapshot{}, protowire.ParseError(n)
			}
			b = b[n:]
			if num == 1 {
				s.Index = v
			} else {
				s.Term = v
			}
		case num == 3 && wt == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return WALSnapshot{}, protowire.ParseError(n)
			}
			// protobuf rejects an embedded message that does not decode.
			if err := proto.Unmarshal(v, &raftpb.ConfState{}); err != nil {
				return WALSnapshot{}, err
			}
			// Repeated occurrences of a message field merge in protobuf;
			// keep the bytes concatenated so that decoding merges too.
			s.ConfState = append(s.ConfState[:len(s.ConfState):len(s.ConfState)], v...)
			b = b[n:]
		default:
			m, err := skipField(num, wt, b)
			if err != nil {
				return WALSnapshot{}, err
			}
			b = b[m:]
		}
	}
	return s, nil
}
