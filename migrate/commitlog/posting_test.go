package commitlog_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

func TestDecodePostingRoundTrip(t *testing.T) {
	for _, p := range []commitlog.Posting{
		{UID: 42, TS: 7, Op: commitlog.OpSet},
		{UID: commitlog.ValueUID, Value: []byte("alice"), Op: commitlog.OpSet},
		{UID: commitlog.ValueUID, Value: bytes.Repeat([]byte{0xab}, 100), Source: "rdf-import", TS: -3, Op: commitlog.OpDel},
		{UID: 1, Source: "_assigner_", Op: commitlog.OpSet},
		{UID: 0, Op: commitlog.OpDel}, // defaults omitted
	} {
		b := legacytest.EncodePosting(p)
		got, err := commitlog.DecodePosting(b)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if got.UID != p.UID || !bytes.Equal(got.Value, p.Value) || got.Source != p.Source || got.TS != p.TS || got.Op != p.Op {
			t.Fatalf("decoded %+v, want %+v", got, p)
		}
		if (p.Value == nil) != (got.Value == nil) {
			t.Fatalf("value presence: got %v, want %v", got.Value, p.Value)
		}
	}
}

// The spec's typical sizes: uid edge without label 80 B, short value edge
// 96 B, 100 B value with a label 192 B (records, header included).
func TestTypicalRecordSizes(t *testing.T) {
	for _, c := range []struct {
		p    commitlog.Posting
		size int
	}{
		{commitlog.Posting{UID: 42, TS: 1, Op: commitlog.OpSet}, 80},
		{commitlog.Posting{UID: commitlog.ValueUID, Value: []byte("short"), TS: 1, Op: commitlog.OpSet}, 96},
		{commitlog.Posting{UID: commitlog.ValueUID, Value: make([]byte, 100), Source: "rdf", TS: 1, Op: commitlog.OpSet}, 192},
	} {
		if n := commitlog.HeaderSize + len(legacytest.EncodePosting(c.p)); n != c.size {
			t.Errorf("%+v: %d bytes, want %d", c.p, n, c.size)
		}
	}
}

func TestDecodePostingGarbage(t *testing.T) {
	golden := specGolden(t)[16:] // root 0x18, vtable at 10, table at 24
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(golden)) }
	put32 := func(b []byte, at int, v uint32) []byte { binary.LittleEndian.PutUint32(b[at:], v); return b }
	put16 := func(b []byte, at int, v uint16) []byte { binary.LittleEndian.PutUint16(b[at:], v); return b }
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than the root offset"},
		{"root past end", mod(func(b []byte) []byte { return put32(b, 0, 62) }), "root table offset"},
		{"vtable before start", mod(func(b []byte) []byte { return put32(b, 24, 100) }), "vtable offset"},
		{"vtable after end", mod(func(b []byte) []byte { return put32(b, 24, 0xffffff00) }), "vtable offset"},
		{"odd vtable length", mod(func(b []byte) []byte { return put16(b, 10, 13) }), "vtable length"},
		{"vtable too long", mod(func(b []byte) []byte { return put16(b, 10, 60) }), "vtable length"},
		{"table too long", mod(func(b []byte) []byte { return put16(b, 12, 41) }), "table length"},
		{"uid outside table", mod(func(b []byte) []byte { return put16(b, 14, 30) }), "field uid"},
		{"op inside soffset", mod(func(b []byte) []byte { return put16(b, 22, 2) }), "field op"},
		{"source offset past end", mod(func(b []byte) []byte { return put32(b, 44, 100) }), "source offset"},
		{"source length past end", mod(func(b []byte) []byte { return put32(b, 56, 5) }), "source of 5 bytes"},
		{"source not NUL-terminated", mod(func(b []byte) []byte { b[60] = 'x'; return b }), "not NUL-terminated"},
		{"value offset past end", mod(func(b []byte) []byte { return put32(put16(b, 16, 20), 44, 1000) }), "value offset"},
		{"op 3", mod(func(b []byte) []byte { b[31] = 3; return b }), "op 3"},
		{"op absent", mod(func(b []byte) []byte { return put16(b, 22, 0) }), "op 0"},
		{"zeros", make([]byte, 64), "vtable length 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := commitlog.DecodePosting(c.b)
			if !errors.Is(err, commitlog.ErrInvalidPosting) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	// Every truncation: an error or a consistent posting, never a panic.
	for n := range golden {
		if p, err := commitlog.DecodePosting(golden[:n]); err == nil && p.UID != 42 {
			t.Fatalf("truncated to %d: %+v", n, p)
		}
	}
}

func TestPostingJSON(t *testing.T) {
	b, err := json.Marshal(commitlog.Posting{UID: 1, Value: []byte("v"), Source: "s", TS: 2, Op: commitlog.OpDel})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"uid":1,"value":"dg==","source":"s","ts":2,"op":"del"}`; string(b) != want {
		t.Fatalf("%s, want %s", b, want)
	}
}
