package commitlog

import (
	"encoding/binary"
	"fmt"
)

// Op is the operation of a posting.
type Op uint8

// Operations.
const (
	OpSet Op = 0x01
	OpDel Op = 0x02
)

// MarshalText renders OpSet and OpDel as "set" and "del" (in JSON too).
func (o Op) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

func (o Op) String() string {
	switch o {
	case OpSet:
		return "set"
	case OpDel:
		return "del"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// ValueUID is the uid of a value edge (an edge to a value, not to a node).
const ValueUID = ^uint64(0)

// Posting is the flatbuffer table types.Posting of a record's payload.
type Posting struct {
	// UID is the object uid; ValueUID marks a value edge.
	UID uint64 `json:"uid"`
	// Value is the value of a value edge, nil when absent. It is borrowed
	// from the payload given to DecodePosting.
	Value []byte `json:"value,omitempty"`
	// Source is the N-Quad label, or "_assigner_"; "" when empty or absent.
	Source string `json:"source"`
	// TS is the edge's own timestamp. It is not the header ts and does not
	// define order.
	TS int64 `json:"ts"`
	// Op is OpSet or OpDel.
	Op Op `json:"op"`
}

// Slots of types.Posting: field id i is at vtable byte 4+2i.
const (
	slotUID = iota
	slotValue
	slotSource
	slotTS
	slotOp
)

// DecodePosting decodes payload as a finished flatbuffer types.Posting
// (no file identifier, no size prefix), checking every offset against the
// payload's bounds before following it. It never panics: garbage is an error
// wrapping ErrInvalidPosting that names what is wrong. The returned Value
// aliases payload.
//
// Layout (all integers little-endian; offsets from the start of payload):
//
//	payload
//	+0       u32 root       ---------------------------+
//	...                                                 |
//	vt       u16 vtlen  u16 tlen  u16 field[0..n)  <--+ |   vt = t - soff
//	...                                               | |
//	t        i32 soff  -------------------------------+ <+  (the table)
//	t+field[i]  field i: u64 uid, u32 uoffset value, u32 uoffset source,
//	            i64 ts, u8 op   (a field with offset 0 or beyond vtlen is absent)
//	...
//	v        u32 n  n bytes              (value vector, v = its slot + uoffset)
//	s        u32 n  n bytes  0x00        (source string, NUL-terminated)
//
// Absent scalars read as their default (0); an absent source reads as "".
// The op must be OpSet or OpDel: the writer always set it.
func DecodePosting(payload []byte) (Posting, error) {
	tab, err := openFlatTable(payload)
	if err != nil {
		return Posting{}, err
	}
	var p Posting
	pos, err := tab.field(slotUID, 8, "uid")
	if err != nil {
		return Posting{}, err
	}
	if pos != 0 {
		p.UID = binary.LittleEndian.Uint64(payload[pos:])
	}
	if pos, err = tab.field(slotValue, 4, "value"); err != nil {
		return Posting{}, err
	}
	if pos != 0 {
		if p.Value, err = tab.vector(pos, "value", false); err != nil {
			return Posting{}, err
		}
	}
	if pos, err = tab.field(slotSource, 4, "source"); err != nil {
		return Posting{}, err
	}
	if pos != 0 {
		s, err := tab.vector(pos, "source", true)
		if err != nil {
			return Posting{}, err
		}
		p.Source = string(s)
	}
	if pos, err = tab.field(slotTS, 8, "ts"); err != nil {
		return Posting{}, err
	}
	if pos != 0 {
		p.TS = int64(binary.LittleEndian.Uint64(payload[pos:]))
	}
	if pos, err = tab.field(slotOp, 1, "op"); err != nil {
		return Posting{}, err
	}
	if pos != 0 {
		p.Op = Op(payload[pos])
	}
	if p.Op != OpSet && p.Op != OpDel {
		return Posting{}, postingErr("op %d is neither set (1) nor del (2)", uint8(p.Op))
	}
	return p, nil
}

// flatTable is the root table of a flatbuffer whose root offset, vtable
// and table lengths have been checked against the payload's bounds (see
// DecodePosting's diagram): n is the payload's length, t the table's
// offset, vt the vtable's, vtLen and tLen their lengths.
type flatTable struct {
	payload     []byte
	n, t        uint64
	vt          uint64
	vtLen, tLen uint64
}

// openFlatTable finds and checks the root table of payload.
func openFlatTable(payload []byte) (flatTable, error) {
	n := uint64(len(payload))
	if n < 4 {
		return flatTable{}, postingErr("%d bytes, shorter than the root offset", n)
	}
	t := uint64(binary.LittleEndian.Uint32(payload))
	if t+4 > n {
		return flatTable{}, postingErr("root table offset %d past the end (%d bytes)", t, n)
	}
	vt := int64(t) - int64(int32(binary.LittleEndian.Uint32(payload[t:])))
	if vt < 0 || uint64(vt)+4 > n {
		return flatTable{}, postingErr("vtable offset %d out of bounds (%d bytes)", vt, n)
	}
	vtLen := uint64(binary.LittleEndian.Uint16(payload[vt:]))
	tLen := uint64(binary.LittleEndian.Uint16(payload[vt+2:]))
	if vtLen < 4 || vtLen%2 != 0 || uint64(vt)+vtLen > n {
		return flatTable{}, postingErr("vtable length %d at offset %d invalid (%d bytes)", vtLen, vt, n)
	}
	if tLen < 4 || t+tLen > n {
		return flatTable{}, postingErr("table length %d at offset %d invalid (%d bytes)", tLen, t, n)
	}
	return flatTable{payload: payload, n: n, t: t, vt: uint64(vt), vtLen: vtLen, tLen: tLen}, nil
}

// field returns the position in the payload of the field in slot, of
// size bytes, or 0 when the field is absent; a field that does not fit
// in the table is an error.
func (tab flatTable) field(slot int, size uint64, name string) (uint64, error) {
	at := 4 + 2*uint64(slot)
	if at+2 > tab.vtLen {
		return 0, nil
	}
	fo := uint64(binary.LittleEndian.Uint16(tab.payload[tab.vt+at:]))
	if fo == 0 {
		return 0, nil
	}
	if fo < 4 || fo+size > tab.tLen {
		return 0, postingErr("field %s at table offset %d outside the %d-byte table", name, fo, tab.tLen)
	}
	return tab.t + fo, nil
}

// vector returns the bytes of the vector (or, with nul, the
// NUL-terminated string) that the uoffset at pos refers to.
func (tab flatTable) vector(pos uint64, name string, nul bool) ([]byte, error) {
	payload, n := tab.payload, tab.n
	v := pos + uint64(binary.LittleEndian.Uint32(payload[pos:]))
	if v+4 > n {
		return nil, postingErr("%s offset %d past the end (%d bytes)", name, v, n)
	}
	l := uint64(binary.LittleEndian.Uint32(payload[v:]))
	end := v + 4 + l
	if end > n || (nul && end+1 > n) {
		return nil, postingErr("%s of %d bytes at offset %d past the end (%d bytes)", name, l, v, n)
	}
	if nul && payload[end] != 0 {
		return nil, postingErr("%s at offset %d not NUL-terminated", name, v)
	}
	return payload[v+4 : end : end], nil
}

func postingErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPosting, fmt.Sprintf(format, args...))
}
