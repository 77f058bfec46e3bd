package commitlog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

const ts0 = legacytest.GoldenTS

func specGolden(t testing.TB) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "golden.hexdump"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := legacytest.ParseHexDump(string(text))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rec returns a valid record with header ts and a posting to uid.
func rec(ts int64, uid uint64) []byte {
	return legacytest.EncodeRecord(ts, legacytest.Hash(legacytest.EdgeKey("friend", uid)),
		legacytest.EncodePosting(commitlog.Posting{UID: uid, TS: ts - 1, Op: commitlog.OpSet}))
}

func writeFiles(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type readResult struct {
	raw      [][]byte
	recs     []commitlog.Record
	posts    []commitlog.Posting
	stats    commitlog.Stats
	files    []commitlog.FileStats
	warnings []commitlog.Warning
	counts   map[commitlog.Code]int64
	err      error
}

func readAll(t testing.TB, dir string, opts commitlog.ReaderOptions) readResult {
	t.Helper()
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := d.NewReader(opts)
	defer r.Close()
	var res readResult
	for r.Next() {
		rc := r.Record()
		res.raw = append(res.raw, bytes.Clone(rc.Raw))
		rc.Raw, rc.Payload = nil, nil
		res.recs = append(res.recs, rc)
		p := r.Posting()
		p.Value = bytes.Clone(p.Value)
		res.posts = append(res.posts, p)
	}
	res.err = r.Err()
	res.stats, res.files = r.Stats(), r.FileStats()
	res.warnings, res.counts = r.Warnings(), r.WarningCounts()
	return res
}

func hasWarning(ws []commitlog.Warning, code commitlog.Code, file string, off int64) bool {
	for _, w := range ws {
		if w.Code == code && w.File == file && w.Offset == off {
			return true
		}
	}
	return false
}

// The spec's golden record, as bytes from its hex dump, decodes to exactly
// the fields the spec gives.
func TestGoldenRecord(t *testing.T) {
	golden := specGolden(t)
	dir := writeFiles(t, map[string][]byte{"dgraph-current.log": golden})
	res := readAll(t, dir, commitlog.ReaderOptions{Decode: true})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.recs) != 1 {
		t.Fatalf("%d records, want 1", len(res.recs))
	}
	r := res.recs[0]
	want := commitlog.Record{File: "dgraph-current.log", Offset: 0, TS: 0x147009eef0fb0000, Hash: 0xe0ce9314, Size: 64}
	if r.File != want.File || r.Offset != want.Offset || r.TS != want.TS || r.Hash != want.Hash || r.Size != want.Size {
		t.Fatalf("record %+v, want %+v", r, want)
	}
	if !bytes.Equal(res.raw[0], golden) {
		t.Fatal("Raw is not the record's exact bytes")
	}
	p, err := commitlog.DecodePosting(golden[16:])
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != 42 || p.Value != nil || p.Source != "" || p.TS != 0x147009eef0fb0000-500 || p.Op != commitlog.OpSet {
		t.Fatalf("posting %+v", p)
	}
	if res.posts[0].UID != 42 || res.posts[0].TS != p.TS {
		t.Fatalf("Reader.Posting %+v", res.posts[0])
	}
	// The layout details the spec states: root table at +0x18, vtable
	// length 14, table length 32, uid +24, value absent, source +20, ts +8,
	// op +7.
	pl := golden[16:]
	root := binary.LittleEndian.Uint32(pl)
	vt := int(root) - int(int32(binary.LittleEndian.Uint32(pl[root:])))
	var got []uint16
	for i := 0; i < 7; i++ {
		got = append(got, binary.LittleEndian.Uint16(pl[vt+2*i:]))
	}
	if root != 0x18 || !equalU16(got, []uint16{14, 32, 24, 0, 20, 8, 7}) {
		t.Fatalf("root %#x vtable %v", root, got)
	}
	if legacytest.Hash(legacytest.EdgeKey("friend", 1)) != r.Hash {
		t.Fatal("hash is not Fingerprint32(friend|LE64(1))")
	}
}

func equalU16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Rotated files are ordered by the numeric value of their hex end ts (not
// by name), wherever they are in the tree, then the current file.
func TestOpenOrder(t *testing.T) {
	files := map[string][]byte{
		"dgraph-a.log":       rec(0xa, 1),
		"dgraph-2.log":       rec(0x2, 2),
		"dgraph-1f.log":      rec(0x1f, 3),
		"dgraph-current.log": rec(0x20, 4),
		"x.log":              []byte("junk"),
		"notes.txt":          []byte("ignored"),
		"LOCK":               nil,
	}
	dir := writeFiles(t, files)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "dgraph-5.log"), rec(0x5, 5), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range d.Files {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "dgraph-2.log sub/dgraph-5.log dgraph-a.log dgraph-1f.log dgraph-current.log" {
		t.Fatalf("order %s", got)
	}
	if d.Prefix != "dgraph" || d.Files[3].EndTS != 0x1f || !d.Files[4].Current {
		t.Fatalf("dir %+v", d)
	}
	for _, c := range []struct {
		file string
		code commitlog.Code
	}{
		{"x.log", commitlog.CodeUnknownName},
		{"sub/dgraph-5.log", commitlog.CodeSubdirectory},
	} {
		if !hasWarning(d.Warnings, c.code, c.file, -1) {
			t.Errorf("no %s warning for %s: %v", c.code, c.file, d.Warnings)
		}
	}
	if len(d.Warnings) != 2 {
		t.Errorf("warnings %v", d.Warnings)
	}
	res := readAll(t, dir, commitlog.ReaderOptions{Decode: true})
	if res.err != nil || len(res.recs) != 5 {
		t.Fatalf("%d records, %v", len(res.recs), res.err)
	}
	for i, uid := range []uint64{2, 5, 1, 3, 4} {
		if res.posts[i].UID != uid {
			t.Fatalf("record %d is uid %d, want %d", i, res.posts[i].UID, uid)
		}
	}
	if res.recs[1].File != "sub/dgraph-5.log" {
		t.Fatalf("record 1 from %q", res.recs[1].File)
	}
}

func TestPrefixDetection(t *testing.T) {
	cases := []struct {
		name   string
		files  []string
		prefix string
		err    error
		other  []string // files reported as other-prefix
	}{
		{"mutations", []string{"mutations-current.log", "mutations-5.log"}, "mutations", nil, nil},
		{"any single", []string{"m0-current.log"}, "m0", nil, nil},
		{"dashed prefix", []string{"my-log-current.log", "my-log-ff.log"}, "my-log", nil, nil},
		{"dgraph wins", []string{"dgraph-current.log", "mutations-current.log"}, "dgraph", nil, []string{"mutations-current.log"}},
		{"mutations over others", []string{"a-current.log", "mutations-current.log"}, "mutations", nil, []string{"a-current.log"}},
		{"ambiguous", []string{"a-current.log", "b-current.log"}, "", commitlog.ErrAmbiguousPrefix, nil},
		{"none", []string{"readme.txt", "junk.log"}, "", commitlog.ErrNoLogs, nil},
		{"empty dir", nil, "", commitlog.ErrNoLogs, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string][]byte{}
			for _, f := range c.files {
				files[f] = nil
			}
			d, err := commitlog.Open(writeFiles(t, files))
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if d.Prefix != c.prefix {
				t.Fatalf("prefix %q, want %q", d.Prefix, c.prefix)
			}
			for _, f := range c.other {
				if !hasWarning(d.Warnings, commitlog.CodeOtherPrefix, f, -1) {
					t.Errorf("no other-prefix warning for %s: %v", f, d.Warnings)
				}
			}
		})
	}
	// An explicit prefix resolves the ambiguity.
	dir := writeFiles(t, map[string][]byte{"a-current.log": nil, "b-current.log": nil})
	if d, err := commitlog.OpenPrefix(dir, "b"); err != nil || d.Prefix != "b" || len(d.Files) != 1 {
		t.Fatalf("OpenPrefix: %v %+v", err, d)
	}
	if _, err := commitlog.OpenPrefix(dir, "c"); !errors.Is(err, commitlog.ErrNoLogs) {
		t.Fatalf("OpenPrefix absent: %v", err)
	}
}

func TestOpenNotADirectory(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"f": nil})
	if _, err := commitlog.Open(filepath.Join(dir, "f")); err == nil {
		t.Fatal("Open of a file succeeded")
	}
	if _, err := commitlog.Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing dir: %v", err)
	}
}

func TestEqualTimestampsAreNormal(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"dgraph-current.log": concat(rec(ts0, 1), rec(ts0, 2), rec(ts0, 3))})
	res := readAll(t, dir, commitlog.ReaderOptions{Decode: true})
	if res.err != nil || len(res.recs) != 3 || len(res.warnings) != 0 {
		t.Fatalf("%d records, warnings %v, err %v", len(res.recs), res.warnings, res.err)
	}
}

func TestDecreasingTimestamps(t *testing.T) {
	a, b := rec(ts0, 1), rec(ts0-10, 2)
	dir := writeFiles(t, map[string][]byte{
		commitlog.RotatedName("dgraph", ts0): a,
		"dgraph-current.log":                 concat(b, rec(ts0+1, 3)),
	})
	res := readAll(t, dir, commitlog.ReaderOptions{Decode: true})
	if res.err != nil || len(res.recs) != 3 {
		t.Fatalf("%d records, %v", len(res.recs), res.err)
	}
	if !hasWarning(res.warnings, commitlog.CodeDecreasingTS, "dgraph-current.log", 0) || len(res.warnings) != 1 {
		t.Fatalf("warnings %v", res.warnings)
	}
}

// Only MaxWarningsPerCode warnings of a code are kept; all are counted.
func TestWarningCap(t *testing.T) {
	var b []byte
	n := commitlog.MaxWarningsPerCode + 50
	for i := 0; i < n+1; i++ {
		b = append(b, rec(ts0-int64(i), 1)...) // every record after the first decreases
	}
	dir := writeFiles(t, map[string][]byte{"dgraph-current.log": b})
	res := readAll(t, dir, commitlog.ReaderOptions{})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.warnings) != commitlog.MaxWarningsPerCode || res.counts[commitlog.CodeDecreasingTS] != int64(n) {
		t.Fatalf("%d warnings kept, count %d", len(res.warnings), res.counts[commitlog.CodeDecreasingTS])
	}
}

func TestRotatedNameMismatch(t *testing.T) {
	name := commitlog.RotatedName("dgraph", ts0+5)
	dir := writeFiles(t, map[string][]byte{name: rec(ts0, 1), "dgraph-current.log": rec(ts0+6, 2)})
	res := readAll(t, dir, commitlog.ReaderOptions{})
	if res.err != nil || !hasWarning(res.warnings, commitlog.CodeNameTSMismatch, name, -1) || len(res.warnings) != 1 {
		t.Fatalf("warnings %v, err %v", res.warnings, res.err)
	}
}

func TestNonCanonicalName(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"dgraph-0A.log": rec(0xa, 1), "dgraph-current.log": nil})
	res := readAll(t, dir, commitlog.ReaderOptions{})
	if res.err != nil || len(res.recs) != 1 || !hasWarning(res.warnings, commitlog.CodeNonCanonicalName, "dgraph-0A.log", -1) {
		t.Fatalf("%d records, warnings %v, err %v", len(res.recs), res.warnings, res.err)
	}
}

func TestEmptyRotatedFile(t *testing.T) {
	empty := commitlog.RotatedName("dgraph", ts0+1)
	dir := writeFiles(t, map[string][]byte{
		commitlog.RotatedName("dgraph", ts0): rec(ts0, 1),
		empty:                                nil,
		"dgraph-current.log":                 rec(ts0+2, 2),
	})
	res := readAll(t, dir, commitlog.ReaderOptions{Decode: true})
	if res.err != nil || len(res.recs) != 2 {
		t.Fatalf("%d records, %v", len(res.recs), res.err)
	}
	if !hasWarning(res.warnings, commitlog.CodeEmptyFile, empty, -1) || len(res.warnings) != 1 {
		t.Fatalf("warnings %v", res.warnings)
	}
	if len(res.files) != 3 || res.files[1].Records != 0 {
		t.Fatalf("file stats %+v", res.files)
	}
}

// A 0-byte current file is the normal state after a rotation: no warning.
func TestEmptyCurrentFile(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{commitlog.RotatedName("dgraph", ts0): rec(ts0, 1), "dgraph-current.log": nil})
	res := readAll(t, dir, commitlog.ReaderOptions{})
	if res.err != nil || len(res.recs) != 1 || len(res.warnings) != 0 {
		t.Fatalf("%d records, warnings %v, err %v", len(res.recs), res.warnings, res.err)
	}
}

// A file above the 50 MiB rotation limit is reported when listed (a sparse
// file: Open only stats).
func TestOversizeFile(t *testing.T) {
	dir := t.TempDir()
	name := commitlog.RotatedName("dgraph", ts0)
	if err := os.WriteFile(filepath.Join(dir, "dgraph-current.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(commitlog.RotateLimit + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(d.Warnings, commitlog.CodeOversizeFile, name, -1) || len(d.Warnings) != 1 {
		t.Fatalf("warnings %v", d.Warnings)
	}
}

// A record larger than the reader's buffer is read whole through a buffer
// grown for it.
func TestRecordLargerThanBuffer(t *testing.T) {
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i)
	}
	r := legacytest.EncodeRecord(ts0, 1, legacytest.EncodePosting(commitlog.Posting{UID: commitlog.ValueUID, Value: big, Op: commitlog.OpSet}))
	dir := writeFiles(t, map[string][]byte{
		commitlog.RotatedName("dgraph", ts0): concat(rec(ts0-1, 1), r),
		"dgraph-current.log":                 rec(ts0+1, 2),
	})
	res := readAll(t, dir, commitlog.ReaderOptions{Decode: true, BufferSize: 4096})
	if res.err != nil || len(res.recs) != 3 {
		t.Fatalf("%d records, %v", len(res.recs), res.err)
	}
	if !bytes.Equal(res.posts[1].Value, big) || !bytes.Equal(res.raw[1], r) || res.posts[2].UID != 2 {
		t.Fatal("records differ")
	}
}

func TestNoCurrentFile(t *testing.T) {
	name := commitlog.RotatedName("dgraph", ts0+1)
	torn := rec(ts0+2, 2)[:30]
	dir := writeFiles(t, map[string][]byte{
		commitlog.RotatedName("dgraph", ts0): rec(ts0, 1),
		name:                                 concat(rec(ts0+1, 1), torn),
	})
	res := readAll(t, dir, commitlog.ReaderOptions{})
	// Without a current file the last rotated file is the last file: its
	// torn tail is dropped.
	if res.err != nil || len(res.recs) != 2 || res.stats.DroppedBytes != 30 {
		t.Fatalf("%d records, stats %+v, err %v", len(res.recs), res.stats, res.err)
	}
	if res.counts[commitlog.CodeNoCurrent] != 1 || res.counts[commitlog.CodeTornRecord] != 1 {
		t.Fatalf("warnings %v", res.warnings)
	}
}

// A record cut anywhere at the end of the last file is dropped and reported
// (bytes and offset), or refused in strict mode.
func TestTornLastRecord(t *testing.T) {
	good := concat(rec(ts0, 1), rec(ts0+1, 2))
	next := rec(ts0+2, 3)
	for _, keep := range []int{1, 8, 15, 16, 17, 40, len(next) - 1} {
		dir := writeFiles(t, map[string][]byte{
			commitlog.RotatedName("dgraph", ts0-1): rec(ts0-1, 9),
			"dgraph-current.log":                   concat(good, next[:keep]),
		})
		res := readAll(t, dir, commitlog.ReaderOptions{Decode: true})
		if res.err != nil || len(res.recs) != 3 {
			t.Fatalf("keep %d: %d records, %v", keep, len(res.recs), res.err)
		}
		st := res.stats
		if st.DroppedBytes != int64(keep) || st.DroppedFile != "dgraph-current.log" || st.DroppedOffset != int64(len(good)) {
			t.Fatalf("keep %d: stats %+v", keep, st)
		}
		if !hasWarning(res.warnings, commitlog.CodeTornRecord, "dgraph-current.log", int64(len(good))) {
			t.Fatalf("keep %d: warnings %v", keep, res.warnings)
		}
		if st.Bytes != int64(len(good))+int64(len(rec(0, 9))) || st.LastTS != ts0+1 {
			t.Fatalf("keep %d: stats %+v", keep, st)
		}

		res = readAll(t, dir, commitlog.ReaderOptions{Strict: true})
		var ce *commitlog.CorruptError
		if !errors.Is(res.err, commitlog.ErrTorn) || !errors.As(res.err, &ce) || ce.Offset != int64(len(good)) ||
			!strings.Contains(res.err.Error(), "dgraph-current.log") {
			t.Fatalf("keep %d: strict err %v", keep, res.err)
		}
		if len(res.recs) != 3 {
			t.Fatalf("keep %d: strict read %d records before failing", keep, len(res.recs))
		}
	}
}

// A zero-filled tail (file extended, data never written) at the end of the
// last file is a torn record too; zeros elsewhere are corruption.
func TestZeroTail(t *testing.T) {
	good := rec(ts0, 1)
	dir := writeFiles(t, map[string][]byte{"dgraph-current.log": concat(good, make([]byte, 100))})
	res := readAll(t, dir, commitlog.ReaderOptions{BufferSize: 32})
	if res.err != nil || len(res.recs) != 1 || res.stats.DroppedBytes != 100 || res.stats.DroppedOffset != int64(len(good)) {
		t.Fatalf("%d records, stats %+v, err %v", len(res.recs), res.stats, res.err)
	}
	// A full record-sized run of zeros then data: corrupt.
	dir = writeFiles(t, map[string][]byte{"dgraph-current.log": concat(good, make([]byte, 16), good)})
	res = readAll(t, dir, commitlog.ReaderOptions{BufferSize: 32})
	if !errors.Is(res.err, commitlog.ErrCorrupt) || !strings.Contains(res.err.Error(), "offset 80") {
		t.Fatalf("err %v", res.err)
	}
	// A last record whose payload the crash left zero: dropped with Decode.
	z := concat(good[:16], make([]byte, 64))
	dir = writeFiles(t, map[string][]byte{"dgraph-current.log": concat(good, z)})
	res = readAll(t, dir, commitlog.ReaderOptions{Decode: true})
	if res.err != nil || len(res.recs) != 1 || res.stats.DroppedBytes != 80 {
		t.Fatalf("%d records, stats %+v, err %v", len(res.recs), res.stats, res.err)
	}
}

// Negative sizes, and sizes past the end of a file that is not the last,
// are errors naming the file and the offset.
func TestCorruptLengths(t *testing.T) {
	good := rec(ts0, 1)
	neg := concat(good[:12], []byte{0xff, 0xff, 0xff, 0xff}, good[16:])
	huge := concat(good[:12], []byte{0xff, 0xff, 0xff, 0x7f}, good[16:])
	rotated := commitlog.RotatedName("dgraph", ts0)
	cases := []struct {
		name  string
		files map[string][]byte
		file  string
		off   int64
		want  string
	}{
		{"negative in last file", map[string][]byte{"dgraph-current.log": concat(good, neg)}, "dgraph-current.log", 80, "negative"},
		{"negative in rotated", map[string][]byte{rotated: concat(neg, good), "dgraph-current.log": nil}, rotated, 0, "negative"},
		{"past end of rotated", map[string][]byte{rotated: concat(good, huge), "dgraph-current.log": good}, rotated, 80, "not the last file"},
		{"partial header in rotated", map[string][]byte{rotated: concat(good, good[:10]), "dgraph-current.log": good}, rotated, 80, "not the last file"},
		{"bad payload mid-file", map[string][]byte{"dgraph-current.log": concat(good[:16], make([]byte, 64), good)}, "dgraph-current.log", 0, "payload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			res := readAll(t, dir, commitlog.ReaderOptions{Decode: true})
			var ce *commitlog.CorruptError
			if !errors.Is(res.err, commitlog.ErrCorrupt) || !errors.As(res.err, &ce) {
				t.Fatalf("err %v", res.err)
			}
			if filepath.Base(ce.Path) != c.file || ce.Offset != c.off || !strings.Contains(ce.Reason, c.want) {
				t.Fatalf("error %q: file %s offset %d, want %s %d %q", res.err, ce.Path, ce.Offset, c.file, c.off, c.want)
			}
			if !strings.Contains(res.err.Error(), c.file) {
				t.Fatalf("error %q does not name the file", res.err)
			}
		})
	}
}

// A corrupt length never makes the reader allocate more than the file.
func TestCorruptLengthAllocatesNothing(t *testing.T) {
	good := rec(ts0, 1)
	huge := concat(good[:12], []byte{0xf0, 0xff, 0xff, 0x7f}, good[16:])
	dir := writeFiles(t, map[string][]byte{
		commitlog.RotatedName("dgraph", ts0): huge,
		"dgraph-current.log":                 huge,
	})
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := d.NewReader(commitlog.ReaderOptions{BufferSize: 256})
	for r.Next() {
	}
	runtime.ReadMemStats(&after)
	if r.Err() == nil {
		t.Fatal("no error")
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Fatalf("allocated %d bytes for a 2 GiB length in an 80-byte file", d)
	}
}

// Reading allocates a constant amount per file and nothing per record.
func TestReaderConstantMemory(t *testing.T) {
	dir := t.TempDir()
	const n = 20000
	if _, err := legacytest.Generate(dir, legacytest.Config{Records: n, Seed: 3, RotateLimit: 256 << 10}); err != nil {
		t.Fatal(err)
	}
	d, err := commitlog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(3, func() {
		r := d.NewReader(commitlog.ReaderOptions{BufferSize: 4096})
		for r.Next() {
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
	})
	// Per file: open, stat, path, FileStats growth (about 5).
	if files := float64(len(d.Files)); allocs > 10*files+20 {
		t.Fatalf("%.0f allocations reading %d records in %.0f files", allocs, n, files)
	}
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
