package inspect

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestReadAtLikeFileReadAt compares readAt with f.ReadAt at offsets and
// lengths around the end of a file: the same bytes, counts and io.EOF.
func TestReadAtLikeFileReadAt(t *testing.T) {
	data := make([]byte, 3<<20+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := int64(len(data))
	cases := [][2]int64{{0, 0}, {0, 1 << 20}, {5, 1<<20 + 3}, {size - 10, 10}, {size - 10, 11}, {size - 10, 1 << 20}, {size, 1}, {size + 5, 8}, {0, size}, {0, size + 1}}
	for k := 0; k < 50; k++ {
		cases = append(cases, [2]int64{rng.Int64N(size + 16), rng.Int64N(2 << 20)})
	}
	for _, c := range cases {
		got, want := make([]byte, c[1]), make([]byte, c[1])
		n, err := readAt(f, got, c[0])
		m, err2 := f.ReadAt(want, c[0])
		if n != m || err != err2 || !bytes.Equal(got[:n], want[:m]) {
			t.Fatalf("readAt(off %d, len %d) = %d, %v; f.ReadAt = %d, %v (bytes equal: %v)", c[0], c[1], n, err, m, err2, bytes.Equal(got[:n], want[:m]))
		}
	}
}

// TestVerifyScanTailHalves compares the tail scan read in two halves at
// once with one pass over the same bytes, for non-zero bytes and records
// before, after and across the middle.
func TestVerifyScanTailHalves(t *testing.T) {
	g := newGroup(t, 64*1024, manyOps[:4])
	seg := g.segs(t)[0]
	recs, err := os.ReadFile(seg.Path)
	if err != nil {
		t.Fatal(err)
	}
	recs = recs[:1024] // the crc, metadata and snapshot records, and entries
	const size = 16 << 20
	from := int64(4104)
	mid := from + (size-from)/2&^(verifyTailBuffer-1)
	for _, c := range []struct {
		name    string
		garbage []int64 // offsets of a non-zero word that is not a frame
		records []int64 // offsets of a copy of recs
	}{
		{"all zero", nil, nil},
		{"garbage in the first half", []int64{from + 4096}, nil},
		{"garbage in the second half", []int64{mid + 8}, nil},
		{"garbage in both", []int64{from + 800, size - 64}, nil},
		{"records in the first half", nil, []int64{from + 1<<20}},
		{"records in the second half", nil, []int64{mid + 4096}},
		{"records across the middle", nil, []int64{mid - 512}},
		{"garbage first, records second", []int64{from + 64}, []int64{size - 4096}},
		{"records in both", nil, []int64{from + 8192, size - 8192}},
		{"garbage in the last word", []int64{size - 8}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := make([]byte, size)
			for _, off := range c.garbage {
				copy(b[off:], []byte{1, 2, 3, 4, 5, 6, 7, 0x7f})
			}
			for _, off := range c.records {
				copy(b[off:], recs)
			}
			path := filepath.Join(t.TempDir(), "0000000000000000-0000000000000000.wal")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			halves, err := verifyScanTail(Segment{Path: path, Size: size}, from, size)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			one, err := verifyScanRange(f, from, size, size)
			if err != nil {
				t.Fatal(err)
			}
			if halves != one {
				t.Fatalf("two halves give %+v, one pass %+v", halves, one)
			}
			if wantNonZero := len(c.garbage)+len(c.records) > 0; (one.nonZero >= 0) != wantNonZero {
				t.Fatalf("one pass: %+v, want a non-zero word: %v", one, wantNonZero)
			}
			if (one.recAt >= 0) != (len(c.records) > 0) {
				t.Fatalf("one pass: %+v, want records: %v", one, len(c.records) > 0)
			}
		})
	}
}
