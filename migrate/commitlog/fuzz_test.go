package commitlog

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// goldenRecord is the spec's golden record (see testdata/golden.hexdump).
var goldenRecord = []byte{
	0x00, 0x00, 0xfb, 0xf0, 0xee, 0x09, 0x70, 0x14, 0x14, 0x93, 0xce, 0xe0, 0x40, 0x00, 0x00, 0x00,
	0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x20, 0x00, 0x18, 0x00,
	0x00, 0x00, 0x14, 0x00, 0x08, 0x00, 0x07, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x0c, 0xfe, 0xfa, 0xf0, 0xee, 0x09, 0x70, 0x14, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
}

// FuzzReader feeds arbitrary bytes to the reader, as the only (last) file
// and split into a rotated file and the current file. It must never panic,
// never grow its buffer beyond the file being read, and on success account
// for every byte (records + dropped tail = file sizes).
func FuzzReader(f *testing.F) {
	two := append(bytes.Clone(goldenRecord), goldenRecord...)
	f.Add(goldenRecord, uint16(0))
	f.Add(two, uint16(80))
	f.Add(two[:100], uint16(80))
	f.Add(append(bytes.Clone(goldenRecord), make([]byte, 40)...), uint16(0))
	neg := bytes.Clone(goldenRecord)
	binary.LittleEndian.PutUint32(neg[12:], 0xffffffff)
	f.Add(neg, uint16(0))
	huge := bytes.Clone(goldenRecord)
	binary.LittleEndian.PutUint32(huge[12:], 0x7fffffff)
	f.Add(huge, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		dir := t.TempDir()
		cut := int(split)
		if cut > len(data) {
			cut = len(data)
		}
		rotated := filepath.Join(dir, RotatedName(DefaultPrefix, 1))
		current := filepath.Join(dir, CurrentName(DefaultPrefix))
		if err := os.WriteFile(rotated, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(current, data[cut:], 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, decode := range []bool{false, true} {
			for _, strict := range []bool{false, true} {
				const bufSize = 64
				r := d.NewReader(ReaderOptions{Decode: decode, Strict: strict, BufferSize: bufSize})
				var n int64
				for r.Next() {
					rec := r.Record()
					if len(rec.Raw) != HeaderSize+int(rec.Size) || &rec.Payload[0] != &rec.Raw[HeaderSize] {
						t.Fatalf("record %+v inconsistent", rec)
					}
					n += int64(len(rec.Raw))
				}
				if c := cap(r.buf); c > max(bufSize, cut, len(data)-cut) {
					t.Fatalf("buffer grew to %d for files of %d and %d bytes", c, cut, len(data)-cut)
				}
				st := r.Stats()
				if r.Err() == nil && n+st.DroppedBytes != int64(len(data)) {
					t.Fatalf("read %d + dropped %d of %d bytes", n, st.DroppedBytes, len(data))
				}
				if r.Err() == nil && strict && st.DroppedBytes != 0 {
					t.Fatal("strict mode dropped bytes")
				}
				r.Close()
			}
		}
	})
}

// FuzzDecodePosting: arbitrary payloads never panic; a decoded value lies
// inside the payload.
func FuzzDecodePosting(f *testing.F) {
	f.Add(goldenRecord[HeaderSize:])
	f.Add([]byte{})
	f.Add([]byte{4, 0, 0, 0, 0xfc, 0xff, 0xff, 0xff})
	// A value edge with a label (uid 2^64-1, value "abc", source "x").
	f.Add([]byte{
		0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x1c, 0x00, 0x10, 0x00, 0x0c, 0x00, 0x08, 0x00,
		0x0e, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	})
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := DecodePosting(payload)
		if err != nil {
			return
		}
		if p.Op != OpSet && p.Op != OpDel {
			t.Fatalf("op %d accepted", p.Op)
		}
		if len(p.Value) > 0 {
			start := &p.Value[0]
			inside := false
			for i := range payload {
				if &payload[i] == start {
					inside = i+len(p.Value) <= len(payload)
				}
			}
			if !inside {
				t.Fatal("value outside the payload")
			}
		}
	})
}
