package legacytest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

func specGolden(t *testing.T) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "testdata", "golden.hexdump"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := legacytest.ParseHexDump(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 80 {
		t.Fatalf("spec golden record: %d bytes, want 80", len(b))
	}
	return b
}

// The writer must reproduce the spec's golden record byte for byte.
func TestGoldenRecordBytes(t *testing.T) {
	want := specGolden(t)
	if got := legacytest.GoldenRecord(); !bytes.Equal(got, want) {
		t.Fatalf("GoldenRecord:\n got %x\nwant %x", got, want)
	}
}

func TestHashExamplesFromSpec(t *testing.T) {
	for _, c := range []struct {
		key  []byte
		want uint32
	}{
		{legacytest.EdgeKey("name", 1), 0x2d26c3a5},
		{legacytest.EdgeKey("friend", 42), 0xa8bfde81},
		{[]byte("_uid_|alice"), 0xf082a29e},
		{legacytest.EdgeKey("friend", 1), 0xe0ce9314}, // the golden record's
	} {
		if got := legacytest.Hash(c.key); got != c.want {
			t.Errorf("Hash(%q) = %#x, want %#x", c.key, got, c.want)
		}
	}
}

// Rotation follows the original rule: before a record of payload N, rotate
// if size+16+N > limit; the rotated file is named for its last ts.
func TestWriterRotation(t *testing.T) {
	dir := t.TempDir()
	const limit = 1000
	w, err := legacytest.NewWriter(dir, legacytest.Options{RotateLimit: limit, KeepRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	payload := legacytest.EncodePosting(commitlog.Posting{UID: 7, TS: 1, Op: commitlog.OpSet})
	if len(payload) != 64 {
		t.Fatalf("payload %d bytes, want 64", len(payload))
	}
	for i := range 40 {
		if err := w.Append(legacytest.GoldenTS+int64(i), 1, payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// 12 records of 80 B fit in 1000 (960 + 80 > 1000): files of 12, 12, 12, 4.
	ents, _ := os.ReadDir(dir)
	var names []string
	sizes := map[string]int64{}
	for _, e := range ents {
		fi, _ := e.Info()
		names = append(names, e.Name())
		sizes[e.Name()] = fi.Size()
	}
	sort.Strings(names)
	want := []string{
		"dgraph-" + strconv.FormatInt(legacytest.GoldenTS+11, 16) + ".log",
		"dgraph-" + strconv.FormatInt(legacytest.GoldenTS+23, 16) + ".log",
		"dgraph-" + strconv.FormatInt(legacytest.GoldenTS+35, 16) + ".log",
		"dgraph-current.log",
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", names, want)
	}
	for _, n := range want[:3] {
		if sizes[n] != 960 {
			t.Errorf("%s: %d bytes, want 960", n, sizes[n])
		}
	}
	if sizes[want[3]] != 320 {
		t.Errorf("current: %d bytes, want 320", sizes[want[3]])
	}
	// The concatenation in reading order is the records written.
	var all []byte
	for _, n := range want {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		all = append(all, b...)
	}
	if !bytes.Equal(all, bytes.Join(w.Records(), nil)) {
		t.Fatal("files do not hold the records written, in order")
	}
}

func TestGenerateReadsBack(t *testing.T) {
	dir := t.TempDir()
	fx, err := legacytest.Generate(dir, legacytest.Config{
		Records: 2000, Seed: 1, RotateLimit: 16 << 10, EqualTSEvery: 7,
		EmptyRotatedEvery: 3, TornBytes: 20, KeepRecords: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := d.NewReader(commitlog.ReaderOptions{Decode: true})
	i := 0
	for r.Next() {
		if i >= len(fx.Records) || !bytes.Equal(r.Record().Raw, fx.Records[i]) {
			t.Fatalf("record %d differs", i)
		}
		i++
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if int64(i) != fx.Count || i != 2000 {
		t.Fatalf("read %d records, fixture says %d", i, fx.Count)
	}
	if st := r.Stats(); st.DroppedBytes != 20 || st.Bytes != fx.Bytes || st.LastTS != fx.LastTS {
		t.Fatalf("stats %+v, fixture %d bytes last ts %#x", st, fx.Bytes, fx.LastTS)
	}
	counts := r.WarningCounts()
	if counts[commitlog.CodeEmptyFile] == 0 || counts[commitlog.CodeTornRecord] != 1 {
		t.Fatalf("warnings %v", counts)
	}
	for c := range counts {
		switch c {
		case commitlog.CodeEmptyFile, commitlog.CodeTornRecord:
		default:
			t.Errorf("unexpected warning %s: %v", c, r.Warnings())
		}
	}
}

func TestEncodeRecordHeader(t *testing.T) {
	rec := legacytest.EncodeRecord(-5, 0xdeadbeef, []byte{1, 2, 3})
	if int64(binary.LittleEndian.Uint64(rec)) != -5 || binary.LittleEndian.Uint32(rec[8:]) != 0xdeadbeef ||
		binary.LittleEndian.Uint32(rec[12:]) != 3 || !bytes.Equal(rec[16:], []byte{1, 2, 3}) {
		t.Fatalf("%x", rec)
	}
}

// The damage options: an oversize first file, decreasing timestamps.
func TestGenerateDamageOptions(t *testing.T) {
	dir := t.TempDir()
	const limit = 4 << 10
	fx, err := legacytest.Generate(dir, legacytest.Config{
		Records: 400, Seed: 2, RotateLimit: limit, OversizeFirst: 3 << 10, DecreaseTSEvery: 50, KeepRecords: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) < 3 || d.Files[0].Size <= limit+3<<10 {
		t.Fatalf("first file %d bytes, want above %d", d.Files[0].Size, limit+3<<10)
	}
	for _, f := range d.Files[1 : len(d.Files)-1] {
		if f.Size > limit {
			t.Fatalf("%s: %d bytes above the limit after the oversize file", f.Name, f.Size)
		}
	}
	r := d.NewReader(commitlog.ReaderOptions{Decode: true})
	n := 0
	for r.Next() {
		if !bytes.Equal(r.Record().Raw, fx.Records[n]) {
			t.Fatalf("record %d differs", n)
		}
		n++
	}
	if r.Err() != nil || n != 400 {
		t.Fatalf("%d records, %v", n, r.Err())
	}
	if c := r.WarningCounts()[commitlog.CodeDecreasingTS]; c != 7 { // records 50, 100, ..., 350
		t.Fatalf("%d decreasing-ts warnings, want 7: %v", c, r.Warnings())
	}
	if r.WarningCounts()[commitlog.CodeNameTSMismatch] != 0 {
		t.Fatalf("warnings %v", r.Warnings())
	}
}

// Generate by size.
func TestGenerateBytes(t *testing.T) {
	fx, err := legacytest.Generate(t.TempDir(), legacytest.Config{Bytes: 100 << 10, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if fx.Bytes < 100<<10 || fx.Bytes > 100<<10+200 || fx.Count == 0 || fx.Records != nil {
		t.Fatalf("fixture %d bytes, %d records", fx.Bytes, fx.Count)
	}
}

// The manifest lists every file in reading order and every complete record
// with the SHA-256 of its bytes.
func TestManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	fx, err := legacytest.Generate(dir, legacytest.Config{Records: 400, Seed: 3, RotateLimit: 4096,
		EqualTSEvery: 3, EmptyRotatedEvery: 2, TornBytes: 10, KeepRecords: true, Manifest: true})
	if err != nil {
		t.Fatal(err)
	}
	m := fx.Manifest
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != len(d.Files) {
		t.Fatalf("manifest has %d files, directory %d", len(m.Files), len(d.Files))
	}
	for i, f := range d.Files {
		if m.Files[i].Name != f.Name {
			t.Fatalf("file %d: manifest %s, directory %s", i, m.Files[i].Name, f.Name)
		}
	}
	recs := m.Records()
	if int64(len(recs)) != fx.Count || m.Count != fx.Count || m.Bytes != fx.Bytes || m.TornBytes != 10 {
		t.Fatalf("manifest %d records (count %d, bytes %d), fixture %d (%d)", len(recs), m.Count, m.Bytes, fx.Count, fx.Bytes)
	}
	for i, r := range fx.Records {
		sum := sha256.Sum256(r)
		if recs[i].SHA256 != hex.EncodeToString(sum[:]) || recs[i].Size != len(r) {
			t.Fatalf("record %d differs", i)
		}
	}
	first, err := m.Rotated(0)
	if err != nil || first != d.Files[0].Name {
		t.Fatalf("Rotated(0) = %s, %v", first, err)
	}
	if got := len(m.Records(first)); got != len(recs)-len(m.Files[0].Records) {
		t.Fatalf("Records(without first) = %d", got)
	}
	p := filepath.Join(t.TempDir(), "manifest.json")
	if err := m.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	back, err := legacytest.ReadManifest(p)
	if err != nil || len(back.Records()) != len(recs) || back.Records()[7] != recs[7] {
		t.Fatalf("read back: %v", err)
	}
}
