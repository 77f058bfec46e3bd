package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
)

// outcome is what a decoder made of a list of segments: the records it
// returned and how it stopped.
type outcome struct {
	types []RecordType
	crcs  []uint32
	data  [][]byte
	kind  ErrorKind // 0: clean end
	// offset is where the failing frame starts (etcd's LastOffset), or for
	// a broken CRC chain where the crc record ends.
	offset int64
}

func (o outcome) String() string {
	return fmt.Sprintf("%d records, stop %v at %d", len(o.types), o.kind, o.offset)
}

// etcdOutcome decodes segs with etcd's own decoder and the crc-record chain
// check that wal.ReadAll and wal.Verify perform.
func etcdOutcome(t testing.TB, segs []Segment) outcome {
	t.Helper()
	var readers []fileutil.FileReader
	for _, s := range segs {
		f, err := os.Open(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		readers = append(readers, fileutil.NewFileReader(f))
	}
	dec := wal.NewDecoder(readers...)
	var o outcome
	rec := &walpb.Record{}
	for {
		err := dec.Decode(rec)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return o
		case errors.Is(err, io.ErrUnexpectedEOF):
			o.kind, o.offset = KindTorn, dec.LastOffset()
			return o
		case errors.Is(err, walpb.ErrCRCMismatch):
			o.kind, o.offset = KindCRC, dec.LastOffset()
			return o
		default:
			o.kind, o.offset = KindMalformed, dec.LastOffset()
			return o
		}
		if RecordType(rec.GetType()) == crcRecord {
			if c := dec.LastCRC(); c != 0 && rec.Validate(c) != nil {
				o.kind, o.offset = KindCRCChain, dec.LastOffset()
				return o
			}
			dec.UpdateCRC(rec.GetCrc())
		}
		o.types = append(o.types, RecordType(rec.GetType()))
		o.crcs = append(o.crcs, rec.GetCrc())
		o.data = append(o.data, append([]byte{}, rec.Data...))
	}
}

// ourOutcome decodes segs with raftctl's scanner, using a small buffer so
// that records cross buffer boundaries.
func ourOutcome(t testing.TB, segs []Segment, bufSize int) outcome {
	t.Helper()
	sc := newScanner(segs, scanOptions{BufferSize: bufSize})
	defer sc.Close()
	var o outcome
	for sc.Next() {
		r := sc.Record()
		o.types = append(o.types, r.Type)
		o.crcs = append(o.crcs, r.CRC)
		o.data = append(o.data, append([]byte{}, r.Data...))
	}
	if err := sc.Err(); err != nil {
		de, ok := AsDecodeError(err)
		if !ok {
			t.Fatalf("scanner error is not a DecodeError: %v", err)
		}
		if de.Path == "" || de.Msg == "" {
			t.Fatalf("decode error without file or message: %#v", de)
		}
		o.kind, o.offset = de.Kind, de.Offset
		if de.Kind == KindCRCChain {
			// etcd reports the end of the crc record: add its frame.
			b, err := os.ReadFile(de.Path)
			if err != nil {
				t.Fatal(err)
			}
			l := binary.LittleEndian.Uint64(b[de.Offset:])
			n := int64(l &^ (uint64(0xff) << 56))
			if int64(l) < 0 {
				n += int64((l >> 56) & 7)
			}
			o.offset += 8 + n
		}
	}
	return o
}

func compareOutcomes(t testing.TB, label string, segs []Segment) {
	t.Helper()
	want := etcdOutcome(t, segs)
	// 64 makes nearly every record straddle two chunks; 512 and 4096 let
	// the CRCs computed beside the background reads serve most records;
	// 0 is the size a scanner picks itself (no larger than the largest
	// segment).
	for _, bs := range []int{64, 512, 4096, defaultBufferSize, 0} {
		got := ourOutcome(t, segs, bs)
		if got.kind != want.kind || got.offset != want.offset || len(got.types) != len(want.types) {
			t.Fatalf("%s (buffer %d): raftctl %v, etcd %v", label, bs, got, want)
		}
		for k := range want.types {
			if got.types[k] != want.types[k] || got.crcs[k] != want.crcs[k] || !bytes.Equal(got.data[k], want.data[k]) {
				t.Fatalf("%s (buffer %d): record %d differs: raftctl type %v crc %08x, etcd type %v crc %08x", label, bs, k, got.types[k], got.crcs[k], want.types[k], want.crcs[k])
			}
		}
	}
}

// copySegments copies the segments into dir and returns the copies.
func copySegments(t testing.TB, segs []Segment, dir string) []Segment {
	t.Helper()
	out := make([]Segment, len(segs))
	for k, s := range segs {
		b, err := os.ReadFile(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, s.Name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out[k] = s
		out[k].Path = p
	}
	return out
}

func listSegs(t testing.TB, walDir string) []Segment {
	t.Helper()
	segs, _, err := ListSegments(walDir)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// TestScannerMatchesEtcdDecoder damages real WAL segments in many ways and
// requires raftctl's scanner to return the same records, CRCs and kind of
// error at the same offset as etcd's decoder.
func TestScannerMatchesEtcdDecoder(t *testing.T) {
	base := writeWAL(t, t.TempDir(), 16*1024, []op{
		{from: 1, to: 40, term: 1, size: 100, commit: 30},
		{snap: &[2]uint64{20, 1}},
		{from: 41, to: 90, term: 1, size: 333, commit: 80},
		{from: 85, to: 120, term: 2, size: 7, commit: 100},
		{from: 121, to: 140, term: 2, size: 1500, commit: 140},
		{from: 141, to: 200, term: 3, size: 200, commit: 190},
	})
	segs := listSegs(t, base)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	compareOutcomes(t, "undamaged", segs)

	rng := rand.New(rand.NewPCG(1, 2))
	kinds := map[ErrorKind]int{}
	for c := 0; c < 400; c++ {
		dir := t.TempDir()
		cs := copySegments(t, segs, dir)
		k := rng.IntN(len(cs))
		what := damage(t, rng, cs[k].Path)
		fi, err := os.Stat(cs[k].Path)
		if err != nil {
			t.Fatal(err)
		}
		cs[k].Size = fi.Size()
		compareOutcomes(t, fmt.Sprintf("case %d: %s of segment %d", c, what, k), cs)
		kinds[ourOutcome(t, cs, 4096).kind]++
	}
	// The damage must have exercised every way of stopping.
	for _, k := range []ErrorKind{0, KindTorn, KindCRC, KindMalformed} {
		if kinds[k] == 0 {
			t.Errorf("no case ended with kind %v: %v", k, kinds)
		}
	}
	t.Logf("outcomes: %v", kinds)
}

// FuzzScanner feeds arbitrary bytes, split into up to three segments, to
// raftctl's scanner and to etcd's decoder: raftctl must never panic and
// must agree with etcd on records, CRCs and the kind and offset of the
// error.
func FuzzScanner(f *testing.F) {
	base := writeWAL(f, f.TempDir(), 4096, []op{
		{from: 1, to: 10, term: 1, size: 50, commit: 5},
		{snap: &[2]uint64{5, 1}},
		{from: 8, to: 30, term: 2, size: 150, commit: 20},
	})
	for _, s := range listSegs(f, base) {
		b, err := os.ReadFile(s.Path)
		if err != nil {
			f.Fatal(err)
		}
		end := len(b)
		for end > 0 && b[end-1] == 0 {
			end--
		}
		// Small seeds keep the fuzzer's minimisation quick.
		b = b[:min(len(b), end+16, 700)]
		f.Add(b, uint16(0), uint16(0))
		f.Add(b, uint16(len(b)/3), uint16(len(b)/2))
	}
	f.Add([]byte{}, uint16(0), uint16(0))
	// One directory for all runs: the segment files are rewritten each time.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint16) {
		var segs []Segment
		for k, p := range fuzzSegments(data, cut1, cut2) {
			name := SegmentName(uint64(k), uint64(k))
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, p, 0o600); err != nil {
				t.Fatal(err)
			}
			segs = append(segs, Segment{Path: path, Name: name, Seq: uint64(k), Index: uint64(k), Size: int64(len(p)), Canonical: true})
		}
		compareOutcomes(t, "fuzz", segs)
		// The log builder must not panic either.
		if _, err := ReadLog(t.Context(), segs); err != nil {
			t.Fatal(err)
		}
	})
}

// TestScannerCRCAhead: over a group read in many chunks, the CRC chain of
// nearly every record comes from the framing done beside the background
// reads, and the records are those etcd's decoder gives.
func TestScannerCRCAhead(t *testing.T) {
	base := writeWAL(t, t.TempDir(), 64*1024, []op{
		{from: 1, to: 300, term: 1, size: 100, commit: 200},
		{from: 301, to: 600, term: 2, size: 700, commit: 550},
	})
	segs := listSegs(t, base)
	compareOutcomes(t, "undamaged", segs)
	sc := newScanner(segs, scanOptions{BufferSize: 4096})
	defer sc.Close()
	var n, crcs int64
	for sc.Next() {
		n++
		if sc.Record().Type == crcRecord {
			crcs++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The first chunk of each segment is decoded before any background
	// read, and records that straddle two chunks are computed by Next.
	if sc.hinted < (n-crcs)*8/10 {
		t.Fatalf("%d of %d records had their CRC computed beside the read, want at least 80%%", sc.hinted, n-crcs)
	}
	t.Logf("%d of %d records hinted", sc.hinted, n)
}

// TestScannerBufferFitsTheSegments: a scanner over small segments reads
// through a buffer no larger than the largest one (rounded up to 4 KiB),
// and through the default buffer when a segment is larger.
func TestScannerBufferFitsTheSegments(t *testing.T) {
	segs := listSegs(t, writeWAL(t, t.TempDir(), 16*1024, manyOps))
	var largest int64
	for _, s := range segs {
		largest = max(largest, s.Size)
	}
	sc := newScanner(segs, scanOptions{})
	if want := int(largest+4095) &^ 4095; sc.opts.BufferSize != want || len(sc.buf) != want+want/4 {
		t.Fatalf("buffer %d (%d with headroom) for segments of at most %d bytes, want %d", sc.opts.BufferSize, len(sc.buf), largest, want)
	}
	big := append([]Segment{}, segs...)
	big[0].Size = 64 << 20
	if sc := newScanner(big, scanOptions{}); sc.opts.BufferSize != defaultBufferSize {
		t.Fatalf("buffer %d beside a 64 MB segment, want %d", sc.opts.BufferSize, defaultBufferSize)
	}
}

// TestScannerHugeLengthWord: a sparse segment whose length word claims a
// terabyte is reported, never allocated for (etcd's decoder would try).
func TestScannerHugeLengthWord(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte // what follows the length word
		kind ErrorKind
	}{
		{"zeros", nil, KindTorn},
		{"garbage", []byte("not a record"), KindMalformed},
	} {
		p := filepath.Join(t.TempDir(), SegmentName(0, 0))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		var word [8]byte
		binary.LittleEndian.PutUint64(word[:], 1<<40)
		f.Write(word[:])
		f.Write(c.data)
		if err := f.Truncate(1<<40 + 64); err != nil {
			t.Skipf("sparse files: %v", err)
		}
		f.Close()
		sc := newScanner([]Segment{{Path: p, Name: filepath.Base(p), Size: 1<<40 + 64}}, scanOptions{})
		for sc.Next() {
		}
		de, ok := AsDecodeError(sc.Err())
		if !ok || de.Kind != c.kind || de.Offset != 0 {
			t.Errorf("%s: %v, want %v at 0", c.name, sc.Err(), c.kind)
		}
	}
}
