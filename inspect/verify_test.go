package inspect

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/repair/durable"
)

// vgroup is a group directory written for a verify test: dir/wal and
// dir/snap.
type vgroup struct{ dir string }

func (g vgroup) walDir() string  { return filepath.Join(g.dir, "wal") }
func (g vgroup) snapDir() string { return filepath.Join(g.dir, "snap") }
func (g vgroup) group() Group {
	return Group{Name: filepath.Base(g.dir), Dir: g.dir, WALDir: g.walDir(), SnapDir: g.snapDir()}
}
func (g vgroup) segs(t testing.TB) []Segment { return listSegs(t, g.walDir()) }

func (g vgroup) verify(t testing.TB, opts VerifyOptions) *GroupReport {
	t.Helper()
	rep, err := Verify(context.Background(), g.group(), opts)
	if err != nil {
		t.Fatal(err)
	}
	checkReportShape(t, rep)
	return rep
}

// saveSnap writes a .snap file with etcd's Snapshotter.
func (g vgroup) saveSnap(t testing.TB, index, term uint64) string {
	t.Helper()
	if err := os.MkdirAll(g.snapDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &raftpb.Snapshot{
		Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(index), Term: proto.Uint64(term), ConfState: &raftpb.ConfState{Voters: []uint64{1}}},
		Data:     []byte(fmt.Sprintf("state machine at %d", index)),
	}
	if err := snap.New(zap.NewNop(), g.snapDir()).SaveSnap(s); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(g.snapDir(), verifySnapFileName(term, index))
}

// newGroup writes ops with segments of segSize bytes and a .snap file for
// each of snaps.
func newGroup(t testing.TB, segSize int64, ops []op, snaps ...[2]uint64) vgroup {
	t.Helper()
	g := vgroup{filepath.Join(t.TempDir(), "g")}
	writeWAL(t, g.dir, segSize, ops)
	for _, s := range snaps {
		g.saveSnap(t, s[0], s[1])
	}
	return g
}

// baseOps is a group with two segments, an overwrite by a new leader and
// two snapshots (20 and 100); the first segment holds the initial
// snapshot record and entries 1 to 120, the second 121 to 160.
var baseOps = []op{
	{from: 1, to: 40, term: 1, size: 100, commit: 30},
	{snap: &[2]uint64{20, 1}},
	{from: 41, to: 90, term: 1, size: 200, commit: 80},
	{from: 85, to: 120, term: 2, size: 50, commit: 100},
	{snap: &[2]uint64{100, 2}},
	{from: 121, to: 160, term: 2, size: 300, commit: 150},
}

func baseGroup(t testing.TB) vgroup {
	return newGroup(t, 8*1024, baseOps, [2]uint64{20, 1}, [2]uint64{100, 2})
}

// manyOps spreads 200 entries, saved 5 at a time, over about ten
// segments, with snapshot records at 50, 100 and 150 and a new leader
// (term 2) from 111.
var manyOps = func() []op {
	var ops []op
	for i := uint64(1); i <= 200; i += 5 {
		term := uint64(1)
		if i > 110 {
			term = 2
		}
		ops = append(ops, op{from: i, to: i + 4, term: term, size: 150, commit: i + 4})
		if s := i + 4; s == 50 || s == 100 || s == 150 {
			ops = append(ops, op{snap: &[2]uint64{s, term}})
		}
	}
	return ops
}()

func manyGroup(t testing.TB) vgroup {
	return newGroup(t, 2*1024, manyOps, [2]uint64{50, 1}, [2]uint64{100, 1}, [2]uint64{150, 2})
}

// segRecord is a record of one segment, read on its own.
type segRecord struct {
	Type           RecordType
	CRC            uint32
	Offset, Frame  int64
	Index, Term    uint64 // entries
	SnapIndex      uint64 // snapshot records
	DataLen        int
	DataOffsetInFr int64
}

// records lists the records of one segment file.
func records(t testing.TB, s Segment) []segRecord {
	t.Helper()
	sc := newScanner([]Segment{s}, scanOptions{})
	defer sc.Close()
	var out []segRecord
	var e Entry
	for sc.Next() {
		r := sc.Record()
		sr := segRecord{Type: r.Type, CRC: r.CRC, Offset: r.Offset, Frame: r.FrameSize, DataLen: len(r.Data)}
		switch r.Type {
		case entryRecord:
			if err := parseEntry(r.Data, &e); err != nil {
				t.Fatal(err)
			}
			sr.Index, sr.Term = e.Index, e.Term
		case snapshotRecord:
			ws, err := parseWALSnapshot(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			sr.SnapIndex = ws.Index
		}
		out = append(out, sr)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", s.Name, err)
	}
	return out
}

// dataEnd is the end of the last record of a segment.
func dataEnd(t testing.TB, s Segment) int64 {
	rs := records(t, s)
	if len(rs) == 0 {
		return 0
	}
	l := rs[len(rs)-1]
	return l.Offset + l.Frame
}

func mutate(t testing.TB, path string, fn func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func zeroBytes(t testing.TB, path string, off, n int64) {
	mutate(t, path, func(b []byte) []byte {
		for i := off; i < off+n && i < int64(len(b)); i++ {
			b[i] = 0
		}
		return b
	})
}

// frameFor encodes a record as etcd's encoder frames it.
func frameFor(t testing.TB, typ int64, crc uint32, data []byte) []byte {
	t.Helper()
	b, err := proto.Marshal(&walpb.Record{Type: proto.Int64(typ), Crc: proto.Uint32(crc), Data: data})
	if err != nil {
		t.Fatal(err)
	}
	pad := (8 - len(b)%8) % 8
	w := uint64(len(b))
	if pad != 0 {
		w |= uint64(0x80|pad) << 56
	}
	out := binary.LittleEndian.AppendUint64(nil, w)
	out = append(out, b...)
	return append(out, make([]byte, pad)...)
}

// appendRecord writes a record, chained to the segment's last CRC, just
// after the segment's last record (over its preallocated zeros).
func appendRecord(t testing.TB, s Segment, typ int64, data []byte) {
	t.Helper()
	rs := records(t, s)
	last := rs[len(rs)-1]
	crc := crc32.Update(last.CRC, crcTable, data)
	fr := frameFor(t, typ, crc, data)
	mutate(t, s.Path, func(b []byte) []byte {
		end := last.Offset + last.Frame
		if need := end + int64(len(fr)); need > int64(len(b)) {
			b = append(b, make([]byte, need-int64(len(b)))...)
		}
		copy(b[end:], fr)
		return b
	})
}

// reencode rewrites every segment of g record by record, as etcd's
// encoder would (a fresh CRC chain, each segment's crc record holding the
// chain so far), after edit has changed or dropped records; each file keeps
// its size (the preallocated zeros stay).
func reencode(t testing.TB, g vgroup, edit func(seg int, r *walpb.Record) bool) {
	t.Helper()
	var running uint32
	for k, s := range g.segs(t) {
		sc := newScanner([]Segment{s}, scanOptions{})
		var out []byte
		for sc.Next() {
			r := sc.Record()
			rec := &walpb.Record{Type: proto.Int64(int64(r.Type)), Data: append([]byte(nil), r.Data...)}
			if r.Type == crcRecord {
				rec.Data = nil
			}
			if !edit(k, rec) {
				continue
			}
			if RecordType(rec.GetType()) == crcRecord {
				rec.Crc = proto.Uint32(running)
			} else {
				running = crc32.Update(running, crcTable, rec.Data)
				rec.Crc = proto.Uint32(running)
			}
			out = append(out, frameFor(t, rec.GetType(), rec.GetCrc(), rec.Data)...)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		sc.Close()
		if int64(len(out)) < s.Size {
			out = append(out, make([]byte, s.Size-int64(len(out)))...)
		}
		if err := os.WriteFile(s.Path, out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// checkReportShape checks what every report must satisfy.
func checkReportShape(t testing.TB, rep *GroupReport) {
	t.Helper()
	if rep.Findings == nil {
		t.Errorf("nil findings (JSON would say null)")
	}
	for _, f := range rep.Findings {
		ci, ok := LookupCode(f.Code)
		if !ok {
			t.Errorf("finding with unknown code %q", f.Code)
			continue
		}
		if f.Severity != ci.Severity || f.Hint != ci.Hint || f.Message == "" || f.File == "" {
			t.Errorf("malformed finding %+v", f)
		}
	}
	want := StatusOK
	switch {
	case rep.Err != "":
		want = StatusUnknown
	case rep.Has(SeverityError):
		want = StatusError
	case rep.Has(SeverityWarning):
		want = StatusWarning
	}
	if rep.Status != want {
		t.Errorf("status %q, want %q", rep.Status, want)
	}
}

// allowedInfo may appear in any report: they are facts of the fixtures.
var allowedInfo = []string{CodeOverwrittenEntries}

// expectCodes requires the report to hold exactly the codes in want (each
// at least once), besides the allowed info codes, with their catalogue
// severity.
func expectCodes(t testing.TB, rep *GroupReport, want ...string) {
	t.Helper()
	if rep.Err != "" {
		t.Fatalf("no verdict: %s", rep.Err)
	}
	got := map[string]bool{}
	for _, f := range rep.Findings {
		got[f.Code] = true
	}
	ok := true
	for _, c := range want {
		if !got[c] {
			ok = false
		}
	}
	for c := range got {
		if !slices.Contains(want, c) && !slices.Contains(allowedInfo, c) {
			ok = false
		}
	}
	if !ok {
		t.Fatalf("want codes %v, got:\n%s", want, dumpFindings(rep))
	}
}

func dumpFindings(rep *GroupReport) string {
	var sb strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&sb, "  %s %s %s@%d idx %d: %s\n", f.Severity, f.Code, filepath.Base(f.File), f.Offset, f.Index, f.Message)
	}
	if rep.Err != "" {
		fmt.Fprintf(&sb, "  error: %s\n", rep.Err)
	}
	return sb.String()
}

// vcase is one fixture: build makes the group, want lists the codes.
type vcase struct {
	name  string
	build func(t testing.TB) vgroup
	want  []string
	deep  bool
}

// verifyCases are the fixtures, one or more per code, each made from a
// WAL written by etcd's wal package and damaged byte by byte.
var verifyCases = []vcase{
	{"clean/base", baseGroup, nil, false},
	{"clean/base-deep", baseGroup, nil, true},
	{"clean/many", manyGroup, nil, true},

	{"wal-missing/empty-dir", func(t testing.TB) vgroup {
		g := baseGroup(t)
		for _, s := range g.segs(t) {
			os.Remove(s.Path)
		}
		return g
	}, []string{CodeWALMissing}, false},
	{"wal-missing/only-snapshots", func(t testing.TB) vgroup {
		g := baseGroup(t)
		os.RemoveAll(g.walDir())
		return g
	}, []string{CodeWALMissing}, false},

	{"segment-sequence/hole", func(t testing.TB) vgroup {
		g := manyGroup(t)
		segs := g.segs(t)
		last := segs[len(segs)-1]
		os.Rename(last.Path, filepath.Join(g.walDir(), SegmentName(last.Seq+3, last.Index)))
		return g
	}, []string{CodeSegmentSequence}, false},

	{"segment-header", func(t testing.TB) vgroup {
		// Segment 7 holds the snapshot record at 150, where etcd starts
		// reading: without its opening crc record, reading from it fails.
		g := manyGroup(t)
		reencode(t, g, func(seg int, r *walpb.Record) bool { return seg != 7 || RecordType(r.GetType()) != crcRecord })
		return g
	}, []string{CodeSegmentHeader}, false},
	{"crc-mismatch/entry-in-middle-segment", func(t testing.TB) vgroup {
		g := manyGroup(t)
		s := g.segs(t)[3]
		r := firstOf(t, s, entryRecord)
		mutate(t, s.Path, func(b []byte) []byte { b[r.Offset+r.Frame-9] ^= 0x5a; return b })
		return g
	}, []string{CodeCRCMismatch}, false},
	{"crc-mismatch/first-segment-before-newest-snapshot", func(t testing.TB) vgroup {
		g := manyGroup(t)
		s := g.segs(t)[0]
		rs := records(t, s)
		r := rs[len(rs)/2]
		mutate(t, s.Path, func(b []byte) []byte { b[r.Offset+r.Frame-9] ^= 0x01; return b })
		return g
	}, []string{CodeCRCMismatch}, false},
	{"crc-mismatch/chain", func(t testing.TB) vgroup {
		g := manyGroup(t)
		s := g.segs(t)[4]
		rs := records(t, s)
		if rs[0].Type != crcRecord {
			t.Fatal("segment does not start with a crc record")
		}
		// The crc record is 08 04 10 <varint crc>: change the varint's
		// lowest bits, keeping its length.
		mutate(t, s.Path, func(b []byte) []byte { b[rs[0].Offset+11] ^= 0x03; return b })
		return g
	}, []string{CodeCRCMismatch}, false},

	{"zeroed-region/sector-in-middle-segment", func(t testing.TB) vgroup {
		g := manyGroup(t)
		s := g.segs(t)[2]
		zeroBytes(t, s.Path, 1024, 512)
		return g
	}, []string{CodeZeroedRegion}, false},
	{"zeroed-region/sector-in-last-segment", func(t testing.TB) vgroup {
		// A sector of the first of three writes: the two after it were
		// synced, so no crash lost it.
		g := newGroup(t, 64*1024, []op{
			{from: 1, to: 20, term: 1, size: 100, commit: 20},
			{from: 21, to: 40, term: 1, size: 100, commit: 40},
			{from: 41, to: 60, term: 1, size: 100, commit: 60},
		})
		zeroBytes(t, g.segs(t)[0].Path, 1024, 512)
		return g
	}, []string{CodeZeroedRegion, CodeHardStateMissing}, false},
	{"torn-tail/lost-sector-inside-the-last-write", func(t testing.TB) vgroup {
		// The same sector lost from the last write, not yet synced: the
		// records after it are the rest of that write.
		g := newGroup(t, 64*1024, []op{
			{from: 1, to: 2, term: 1, size: 100, commit: 2},
			{from: 3, to: 60, term: 1, size: 100, commit: 2},
		})
		zeroBytes(t, g.segs(t)[0].Path, 1024, 512)
		return g
	}, []string{CodeTornTail}, false},
	{"zeroed-region/length-word-in-last-segment", func(t testing.TB) vgroup {
		g := baseGroup(t)
		segs := g.segs(t)
		s := segs[len(segs)-1]
		rs := records(t, s)
		zeroBytes(t, s.Path, rs[len(rs)/2].Offset, 8)
		return g
	}, []string{CodeZeroedRegion}, false},
	{"zeroed-region/tail-of-middle-segment", func(t testing.TB) vgroup {
		g := manyGroup(t)
		s := g.segs(t)[3]
		rs := records(t, s)
		from := rs[len(rs)-2].Offset
		zeroBytes(t, s.Path, from, s.Size-from)
		return g
	}, []string{CodeZeroedRegion}, false},

	{"segment-truncated/inside-record", func(t testing.TB) vgroup {
		g := manyGroup(t)
		s := g.segs(t)[3]
		rs := records(t, s)
		r := rs[len(rs)-2]
		if err := os.Truncate(s.Path, r.Offset+r.Frame/2); err != nil {
			t.Fatal(err)
		}
		return g
	}, []string{CodeSegmentTruncated}, false},
	{"segment-truncated/at-record-boundary", func(t testing.TB) vgroup {
		g := manyGroup(t)
		s := g.segs(t)[3]
		rs := records(t, s)
		if err := os.Truncate(s.Path, rs[len(rs)-3].Offset); err != nil {
			t.Fatal(err)
		}
		return g
	}, []string{CodeSegmentTruncated}, false},

	{"record-malformed/entry-payload", func(t testing.TB) vgroup {
		g := newGroup(t, 64*1024, []op{{from: 1, to: 20, term: 1, size: 10, commit: 20}})
		appendRecord(t, g.segs(t)[0], int64(entryRecord), []byte{0xff, 0xff, 0xff})
		return g
	}, []string{CodeRecordMalformed}, false},
	{"record-malformed/unknown-type", func(t testing.TB) vgroup {
		g := newGroup(t, 64*1024, []op{{from: 1, to: 20, term: 1, size: 10, commit: 20}})
		appendRecord(t, g.segs(t)[0], 9, []byte("what is this"))
		return g
	}, []string{CodeRecordMalformed}, false},
	{"record-malformed/length-word", func(t testing.TB) vgroup {
		g := baseGroup(t)
		segs := g.segs(t)
		s := segs[len(segs)-1]
		rs := records(t, s)
		mutate(t, s.Path, func(b []byte) []byte { b[rs[len(rs)/2].Offset+5] = 0x7f; return b })
		return g
	}, []string{CodeRecordMalformed}, false},

	{"metadata-conflict", func(t testing.TB) vgroup {
		g := newGroup(t, 64*1024, []op{{from: 1, to: 20, term: 1, size: 10, commit: 20}})
		appendRecord(t, g.segs(t)[0], int64(metadataRecord), []byte("another cluster"))
		return g
	}, []string{CodeMetadataConflict}, false},

	{"index-gap", func(t testing.TB) vgroup {
		return newGroup(t, 8*1024, []op{
			{from: 1, to: 30, term: 1, size: 50, commit: 30},
			{from: 35, to: 60, term: 1, size: 50, commit: 30},
		})
	}, []string{CodeIndexGap}, false},
	{"term-regression", func(t testing.TB) vgroup {
		return newGroup(t, 8*1024, []op{
			{from: 1, to: 30, term: 3, size: 50, commit: 30},
			{from: 31, to: 40, term: 2, size: 50, commit: 30},
		})
	}, []string{CodeTermRegression}, false},
	{"term-regression/overwrite-below-previous", func(t testing.TB) vgroup {
		return newGroup(t, 8*1024, []op{
			{from: 1, to: 20, term: 3, size: 50, commit: 10},
			{from: 15, to: 25, term: 2, size: 50, commit: 10},
		})
	}, []string{CodeTermRegression}, false},
	{"commit-beyond-last", func(t testing.TB) vgroup {
		return newGroup(t, 8*1024, []op{{from: 1, to: 20, term: 1, size: 50, commit: 25}})
	}, []string{CodeCommitBeyondLast}, false},
	{"commit-beyond-last/deep", func(t testing.TB) vgroup {
		return newGroup(t, 8*1024, []op{{from: 1, to: 20, term: 1, size: 50, commit: 25}})
	}, []string{CodeCommitBeyondLast, CodeRaftRestart}, true},
	{"hardstate-term", func(t testing.TB) vgroup {
		return rawGroup(t, func(w *wal.WAL) {
			saveEnts(t, w, &raftpb.HardState{Term: proto.Uint64(1), Vote: proto.Uint64(1), Commit: proto.Uint64(5)}, 1, 10, 2)
		})
	}, []string{CodeHardStateTerm}, false},
	{"hardstate-missing", func(t testing.TB) vgroup {
		return rawGroup(t, func(w *wal.WAL) { saveEnts(t, w, &raftpb.HardState{}, 1, 10, 1) })
	}, []string{CodeHardStateMissing}, false},

	{"snapshot-gap", func(t testing.TB) vgroup {
		g := manyGroup(t)
		// Purge every segment before the one holding the snapshot
		// record at 100: the log then starts after 101.
		for _, s := range g.segs(t) {
			if slices.ContainsFunc(records(t, s), func(r segRecord) bool { return r.Type == snapshotRecord && r.SnapIndex == 100 }) {
				break
			}
			os.Remove(s.Path)
		}
		os.Remove(filepath.Join(g.snapDir(), verifySnapFileName(2, 150)))
		return g
	}, []string{CodeSnapshotGap, CodeSnapshotFileMissing}, false},
	{"snapshot-gap/deep", func(t testing.TB) vgroup {
		g := manyGroup(t)
		segs := g.segs(t)
		for _, s := range segs[:len(segs)/2] {
			os.Remove(s.Path)
		}
		for _, s := range []string{verifySnapFileName(1, 50), verifySnapFileName(1, 100), verifySnapFileName(2, 150)} {
			os.Remove(filepath.Join(g.snapDir(), s))
		}
		return g
	}, []string{CodeSnapshotGap, CodeSnapshotFileMissing, CodeRaftRestart}, true},
	{"snapshot-record-missing", func(t testing.TB) vgroup {
		g := newGroup(t, 8*1024, []op{{from: 1, to: 40, term: 1, size: 50, commit: 40}})
		reencode(t, g, func(seg int, r *walpb.Record) bool { return RecordType(r.GetType()) != snapshotRecord })
		return g
	}, []string{CodeSnapshotRecordMissing}, false},
	{"clean/reencoded", func(t testing.TB) vgroup {
		g := manyGroup(t)
		reencode(t, g, func(int, *walpb.Record) bool { return true })
		return g
	}, nil, false},
	{"snapshot-corrupt", func(t testing.TB) vgroup {
		g := baseGroup(t)
		p := filepath.Join(g.snapDir(), verifySnapFileName(2, 100))
		mutate(t, p, func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })
		return g
	}, []string{CodeSnapshotCorrupt}, false},
	{"snapshot-term-mismatch/file", func(t testing.TB) vgroup {
		g := baseGroup(t)
		g.saveSnap(t, 60, 5)
		return g
	}, []string{CodeSnapshotTermMismatch}, false},
	{"snapshot-term-mismatch/record", func(t testing.TB) vgroup {
		return newGroup(t, 8*1024, []op{
			{from: 1, to: 40, term: 1, size: 50, commit: 40},
			{snap: &[2]uint64{30, 4}},
			{from: 41, to: 50, term: 4, size: 50, commit: 50},
		}, [2]uint64{30, 4})
	}, []string{CodeSnapshotTermMismatch}, false},
	{"snapshot-name-mismatch", func(t testing.TB) vgroup {
		g := baseGroup(t)
		b, err := os.ReadFile(filepath.Join(g.snapDir(), verifySnapFileName(1, 20)))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(g.snapDir(), verifySnapFileName(1, 30)), b, 0o600)
		return g
	}, []string{CodeSnapshotNameMismatch}, false},
	{"log-tail-missing", func(t testing.TB) vgroup {
		g := manyGroup(t)
		// Drop every segment from the one holding entry 120 on: the
		// snapshot files at 150 and 200 then refer beyond the log.
		g.saveSnap(t, 200, 2)
		drop := false
		for _, s := range g.segs(t) {
			if slices.ContainsFunc(records(t, s), func(r segRecord) bool { return r.Type == entryRecord && r.Index == 120 }) {
				drop = true
			}
			if drop {
				os.Remove(s.Path)
			}
		}
		return g
	}, []string{CodeLogTailMissing}, false},

	{"torn-tail/truncated", func(t testing.TB) vgroup {
		g := baseGroup(t)
		segs := g.segs(t)
		s := segs[len(segs)-1]
		rs := records(t, s)
		r := rs[len(rs)-1]
		os.Truncate(s.Path, r.Offset+r.Frame-100)
		return g
	}, []string{CodeTornTail}, false},
	{"torn-tail/zeroed-last-record", func(t testing.TB) vgroup {
		g := newGroup(t, 64*1024, []op{{from: 1, to: 20, term: 1, size: 100, commit: 20}, {from: 21, to: 22, term: 1, size: 1500, commit: 20}})
		s := g.segs(t)[0]
		rs := records(t, s)
		r := rs[len(rs)-2] // the last entry; the state record follows
		zeroBytes(t, s.Path, r.Offset+8+600, 1<<20)
		return g
	}, []string{CodeTornTail}, false},
	{"torn-tail/residue-after-end", func(t testing.TB) vgroup {
		g := newGroup(t, 64*1024, []op{{from: 1, to: 20, term: 1, size: 10, commit: 20}})
		s := g.segs(t)[0]
		end := dataEnd(t, s)
		mutate(t, s.Path, func(b []byte) []byte { copy(b[end+8:], "torn write residue"); return b })
		return g
	}, []string{CodeTornTail}, false},
	{"segment-name", func(t testing.TB) vgroup {
		g := baseGroup(t)
		segs := g.segs(t)
		last := segs[len(segs)-1]
		os.Rename(last.Path, filepath.Join(g.walDir(), fmt.Sprintf("%x-%x.wal", last.Seq, last.Index)))
		return g
	}, []string{CodeSegmentName}, false},
	{"segment-index/middle", func(t testing.TB) vgroup {
		g := manyGroup(t)
		s := g.segs(t)[4]
		os.Rename(s.Path, filepath.Join(g.walDir(), SegmentName(s.Seq, s.Index+1)))
		return g
	}, []string{CodeSegmentIndex}, false},
	{"segment-index/newest", func(t testing.TB) vgroup {
		g := manyGroup(t)
		segs := g.segs(t)
		s := segs[len(segs)-1]
		os.Rename(s.Path, filepath.Join(g.walDir(), SegmentName(s.Seq, s.Index-1)))
		return g
	}, []string{CodeSegmentIndex}, false},
	{"empty-segment", func(t testing.TB) vgroup {
		g := baseGroup(t)
		segs := g.segs(t)
		last := segs[len(segs)-1]
		os.WriteFile(filepath.Join(g.walDir(), SegmentName(last.Seq+1, 161)), nil, 0o600)
		return g
	}, []string{CodeEmptySegment}, false},
	{"snapshot-orphan", func(t testing.TB) vgroup {
		g := baseGroup(t)
		g.saveSnap(t, 30, 1)
		return g
	}, []string{CodeSnapshotOrphan}, false},
	{"snapshot-beyond-log", func(t testing.TB) vgroup {
		// One .snap beyond the log and no record: what a crash between
		// saving a snapshot from the leader and its WAL record leaves,
		// and what the loss of the newest segment leaves.
		g := baseGroup(t)
		g.saveSnap(t, 170, 3)
		return g
	}, []string{CodeSnapshotBeyondLog}, false},
	{"log-tail-suspect/newest-segment-deleted", func(t testing.TB) vgroup {
		g := manyGroup(t)
		dropNewest(t, g)
		return g
	}, []string{CodeLogTailSuspect}, false},
	{"log-tail-missing/newest-segment-deleted-and-snapshot-beyond", func(t testing.TB) vgroup {
		g := manyGroup(t)
		dropNewest(t, g)
		g.saveSnap(t, 200, 2)
		return g
	}, []string{CodeLogTailMissing}, false},
	{"log-tail-suspect/cut-short-at-record-boundary", func(t testing.TB) vgroup {
		// A partial copy that stopped at a record boundary: no zero
		// tail, shorter than the segment size.
		g := manyGroup(t)
		dropNewest(t, g)
		segs := g.segs(t)
		s := segs[len(segs)-1]
		rs := records(t, s)
		if err := os.Truncate(s.Path, rs[3].Offset); err != nil {
			t.Fatal(err)
		}
		return g
	}, []string{CodeLogTailSuspect}, false},
	{"segment-truncated/last-segment-cut-short-inside-a-record", func(t testing.TB) vgroup {
		g := manyGroup(t)
		dropNewest(t, g)
		segs := g.segs(t)
		s := segs[len(segs)-1]
		rs := records(t, s)
		if err := os.Truncate(s.Path, rs[3].Offset+rs[3].Frame/2); err != nil {
			t.Fatal(err)
		}
		return g
	}, []string{CodeSegmentTruncated}, false},
	{"record-malformed/segment-of-random-bytes", func(t testing.TB) vgroup {
		g := baseGroup(t)
		segs := g.segs(t)
		last := segs[len(segs)-1]
		b := make([]byte, 4096)
		rnd := rand.New(rand.NewPCG(1, 2))
		for k := range b {
			b[k] = byte(rnd.Uint32())
		}
		os.WriteFile(filepath.Join(g.walDir(), SegmentName(last.Seq+1, 161)), b, 0o600)
		return g
	}, []string{CodeRecordMalformed}, false},
	{"snapshot-beyond-commit", func(t testing.TB) vgroup {
		return newGroup(t, 8*1024, []op{
			{from: 1, to: 50, term: 1, size: 50, commit: 40},
			{snap: &[2]uint64{45, 1}},
		}, [2]uint64{45, 1})
	}, []string{CodeSnapshotBeyondCommit}, false},
	{"snapshot-beyond-commit/follower-crashed-before-hardstate", func(t testing.TB) vgroup {
		// A follower saved a snapshot sent by its leader (.snap, then the
		// WAL record) and crashed before the HardState that commits it:
		// etcd restarts from its previous snapshot with its own log.
		return newGroup(t, 8*1024, []op{
			{from: 1, to: 50, term: 1, size: 50, commit: 50},
			{snap: &[2]uint64{40, 1}},
			{snap: &[2]uint64{120, 2}},
		}, [2]uint64{40, 1}, [2]uint64{120, 2})
	}, []string{CodeSnapshotBeyondCommit}, true},
	{"snapshot-file-missing", func(t testing.TB) vgroup {
		g := baseGroup(t)
		os.Remove(filepath.Join(g.snapDir(), verifySnapFileName(2, 100)))
		return g
	}, []string{CodeSnapshotFileMissing}, false},
	{"unknown-file", func(t testing.TB) vgroup {
		g := baseGroup(t)
		os.WriteFile(filepath.Join(g.walDir(), "notes.txt"), []byte("x"), 0o600)
		os.WriteFile(filepath.Join(g.walDir(), "0.tmp"), []byte("x"), 0o600)
		return g
	}, []string{CodeUnknownFile}, false},
}

// dropNewest removes segments from the newest on until one holding
// entries is gone, as an interrupted copy or a deleted file leaves them.
func dropNewest(t testing.TB, g vgroup) {
	t.Helper()
	segs := g.segs(t)
	for k := len(segs) - 1; k > 0; k-- {
		entries := slices.ContainsFunc(records(t, segs[k]), func(r segRecord) bool { return r.Type == entryRecord })
		if err := os.Remove(segs[k].Path); err != nil {
			t.Fatal(err)
		}
		if entries {
			return
		}
	}
	t.Fatal("no segment with entries to drop")
}

func firstOf(t testing.TB, s Segment, typ RecordType) segRecord {
	t.Helper()
	for _, r := range records(t, s) {
		if r.Type == typ {
			return r
		}
	}
	t.Fatalf("%s holds no %v record", s.Name, typ)
	return segRecord{}
}

// rawGroup writes a WAL with full control over what is saved.
func rawGroup(t testing.TB, fn func(w *wal.WAL)) vgroup {
	t.Helper()
	g := vgroup{filepath.Join(t.TempDir(), "g")}
	segSizeMu.Lock()
	defer segSizeMu.Unlock()
	defer durable.LockSegmentSize(64 * 1024)()
	w, err := wal.Create(zap.NewNop(), g.walDir(), []byte("raftctl-test"))
	if err != nil {
		t.Fatal(err)
	}
	w.SetUnsafeNoFsync()
	fn(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return g
}

func saveEnts(t testing.TB, w *wal.WAL, hs *raftpb.HardState, from, to, term uint64) {
	t.Helper()
	var ents []*raftpb.Entry
	for i := from; i <= to; i++ {
		ents = append(ents, &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(term), Type: raftpb.EntryNormal.Enum(), Data: []byte("x")})
	}
	if err := w.Save(hs, ents); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyFindings runs every fixture and requires exactly its codes.
func TestVerifyFindings(t *testing.T) {
	for _, c := range verifyCases {
		t.Run(c.name, func(t *testing.T) {
			g := c.build(t)
			rep := g.verify(t, VerifyOptions{Deep: c.deep})
			expectCodes(t, rep, c.want...)
			if testing.Verbose() {
				t.Logf("findings:\n%s", dumpFindings(rep))
			}
		})
	}
}

// TestVerifyCatalogueCovered requires a fixture for every code of the
// catalogue, and the catalogue to be free of duplicates.
func TestVerifyCatalogueCovered(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Catalogue {
		if seen[c.Code] {
			t.Errorf("code %s listed twice", c.Code)
		}
		seen[c.Code] = true
		if _, err := parseSeverity(string(c.Severity)); err != nil || c.Summary == "" {
			t.Errorf("bad catalogue entry %+v", c)
		}
	}
	covered := map[string]bool{CodeInUse: true, CodeWriteInProgress: true, CodeOverwrittenEntries: true} // TestVerifyInUse, clean fixtures
	for _, c := range verifyCases {
		for _, code := range c.want {
			covered[code] = true
		}
	}
	for _, c := range Catalogue {
		if !covered[c.Code] {
			t.Errorf("no fixture for code %s", c.Code)
		}
	}
}

// TestVerifyClean verifies scripted WALs that are healthy: overwrites
// (including one that replaces an entry with a lower term, which raft
// allows), snapshots, a snapshot ahead of the log, a purged prefix.
func TestVerifyClean(t *testing.T) {
	cases := []struct {
		name  string
		build func(t testing.TB) vgroup
	}{
		{"base", baseGroup},
		{"many", manyGroup},
		{"overwrite-with-lower-term", func(t testing.TB) vgroup {
			// Figure 8 of the Raft paper: a leader of term 4 replicates
			// its entry 5 of term 2 over an uncommitted entry 5 of term 3.
			return newGroup(t, 4*1024, []op{
				{from: 1, to: 4, term: 1, size: 30, commit: 4},
				{from: 5, to: 6, term: 3, size: 30, commit: 4},
				{from: 5, to: 5, term: 2, size: 30, commit: 4},
				{from: 6, to: 30, term: 4, size: 30, commit: 30},
			})
		}},
		{"snapshot-ahead-of-log", func(t testing.TB) vgroup {
			return newGroup(t, 8*1024, []op{
				{from: 1, to: 20, term: 1, size: 10, commit: 20},
				{snap: &[2]uint64{500, 3}},
				{from: 0, to: 0, term: 3, commit: 500},
				{from: 501, to: 510, term: 3, size: 10, commit: 505},
			}, [2]uint64{500, 3})
		}},
		{"snapshot-replaces-divergent-log", func(t testing.TB) vgroup {
			// Entries 41 to 45 of term 2 were never committed; the leader
			// of term 3 sends a snapshot at 43, which raft restores over
			// the divergent log, then entries from 44.
			return newGroup(t, 4*1024, []op{
				{from: 1, to: 40, term: 1, size: 30, commit: 30},
				{from: 41, to: 45, term: 2, size: 30, commit: 30},
				{snap: &[2]uint64{43, 3}},
				{from: 0, to: 0, term: 3, commit: 43},
				{from: 44, to: 50, term: 3, size: 30, commit: 50},
			}, [2]uint64{43, 3})
		}},
		{"purged-prefix", func(t testing.TB) vgroup {
			g := manyGroup(t)
			// Purge as etcd would after the snapshot at 150: keep the
			// last segment named for an index at or below 150 and all
			// after it; the .snap files at 50 and 100 stay.
			segs := g.segs(t)
			keep := 0
			for k, s := range segs {
				if s.Index <= 150 {
					keep = k
				}
			}
			for _, s := range segs[:keep] {
				os.Remove(s.Path)
			}
			return g
		}},
		{"no-snapshots-no-overwrites", func(t testing.TB) vgroup {
			return newGroup(t, 4*1024, []op{{from: 1, to: 300, term: 1, size: 20, commit: 290}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.build(t)
			for _, deep := range []bool{false, true} {
				rep := g.verify(t, VerifyOptions{Deep: deep})
				expectCodes(t, rep)
				if rep.Status != StatusOK {
					t.Fatalf("status %s", rep.Status)
				}
			}
		})
	}
}

// etcdVerdict runs etcd's own checks on a WAL directory the way etcd
// restarts from it: ValidSnapshotEntries, then Verify and
// OpenForRead+ReadAll at the newest valid snapshot record. A panic (etcd
// panics on records it cannot unmarshal) is an error.
func etcdVerdict(walDir string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	lg := zap.NewNop()
	snaps, err := wal.ValidSnapshotEntries(lg, walDir)
	if err != nil {
		return fmt.Errorf("ValidSnapshotEntries: %w", err)
	}
	start := &walpb.Snapshot{}
	if len(snaps) > 0 {
		start = snaps[len(snaps)-1]
	}
	if _, err := wal.Verify(lg, walDir, start); err != nil {
		return fmt.Errorf("Verify: %w", err)
	}
	w, err := wal.OpenForRead(lg, walDir, start)
	if err != nil {
		return fmt.Errorf("OpenForRead: %w", err)
	}
	defer w.Close()
	if _, _, _, err := w.ReadAll(); err != nil {
		return fmt.Errorf("ReadAll: %w", err)
	}
	return nil
}

// TestVerifyAgreesWithEtcd requires raftctl to report an error on every
// fixture on which etcd's wal.Verify, wal.ValidSnapshotEntries or
// OpenForRead+ReadAll fail, and on randomly damaged copies of a WAL.
func TestVerifyAgreesWithEtcd(t *testing.T) {
	etcdErrors := 0
	for _, c := range verifyCases {
		t.Run(c.name, func(t *testing.T) {
			g := c.build(t)
			eerr := etcdVerdict(g.walDir())
			rep := g.verify(t, VerifyOptions{})
			if eerr != nil {
				etcdErrors++
				if !rep.Has(SeverityError) {
					t.Fatalf("etcd fails (%v) but raftctl reports no error:\n%s", eerr, dumpFindings(rep))
				}
			}
		})
	}
	if etcdErrors < 8 {
		t.Errorf("etcd failed on only %d fixtures", etcdErrors)
	}

	t.Run("random-damage", func(t *testing.T) {
		base := manyGroup(t)
		segs := base.segs(t)
		rng := rand.New(rand.NewPCG(7, 11))
		n := 150
		if testing.Short() {
			n = 40
		}
		failed, statuses := 0, map[string]int{}
		for c := 0; c < n; c++ {
			g := vgroup{filepath.Join(t.TempDir(), "g")}
			os.MkdirAll(g.walDir(), 0o755)
			cs := copySegments(t, segs, g.walDir())
			k := rng.IntN(len(cs))
			what := damage(t, rng, cs[k].Path)
			eerr := etcdVerdict(g.walDir())
			rep := g.verify(t, VerifyOptions{NoLockCheck: true})
			statuses[rep.Status]++
			if rep.Status == StatusUnknown {
				t.Fatalf("case %d (%s of segment %d): no verdict: %s", c, what, k, rep.Err)
			}
			if eerr != nil {
				failed++
				if !rep.Has(SeverityError) {
					t.Fatalf("case %d (%s of segment %d): etcd fails (%v) but raftctl reports no error:\n%s", c, what, k, eerr, dumpFindings(rep))
				}
			}
		}
		t.Logf("%d cases, etcd failed %d, raftctl statuses %v", n, failed, statuses)
		if failed == 0 || statuses[StatusError] == 0 {
			t.Errorf("the damage never made etcd or raftctl fail")
		}
	})
}

// damage changes one segment file at random and says how: a flipped byte,
// a zeroed run, a truncation, a random length word at a record boundary,
// random bytes, or a zeroed sector, aimed at the written part of the file.
func damage(t testing.TB, rng *rand.Rand, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	if end == 0 {
		end = len(b)
	}
	off := rng.IntN(max(end, 1))
	var what string
	switch rng.IntN(6) {
	case 0:
		b[off] ^= byte(1 + rng.IntN(255))
		what = "flip"
	case 1:
		for i := off; i < off+1+rng.IntN(1200) && i < len(b); i++ {
			b[i] = 0
		}
		what = "zero"
	case 2:
		b = b[:off]
		what = "truncate"
	case 3:
		off &^= 7
		if off+8 <= len(b) {
			binary.LittleEndian.PutUint64(b[off:], rng.Uint64()>>uint(rng.IntN(64)))
		}
		what = "length"
	case 4:
		for i := off; i < off+64 && i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
		what = "garbage"
	case 5:
		s := off &^ 511
		for i := s; i < s+512 && i < len(b); i++ {
			b[i] = 0
		}
		what = "sector"
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s at %d", what, off)
}

// fuzzSegments splits fuzz input into up to three segment contents at the
// two cut points (one segment when the cuts select nothing).
func fuzzSegments(data []byte, cut1, cut2 uint16) [][]byte {
	a, b := int(cut1), int(cut2)
	if a > len(data) {
		a = len(data)
	}
	if b < a || b > len(data) {
		b = len(data)
	}
	if a == 0 && b == len(data) {
		return [][]byte{data}
	}
	return [][]byte{data[:a], data[a:b], data[b:]}
}

// TestVerifyNoVerdict makes a segment unreadable: the group gets status
// unknown and says why.
func TestVerifyNoVerdict(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	g := baseGroup(t)
	s := g.segs(t)[0]
	if err := os.Chmod(s.Path, 0); err != nil {
		t.Fatal(err)
	}
	rep := g.verify(t, VerifyOptions{})
	if rep.Status != StatusUnknown || !strings.Contains(rep.Err, s.Name) {
		t.Fatalf("status %s err %q", rep.Status, rep.Err)
	}
}

// TestVerifyNoVerdictDir uses a WAL directory that cannot be listed,
// which works for root too: a path through a regular file.
func TestVerifyNoVerdictDir(t *testing.T) {
	g := baseGroup(t)
	gr := g.group()
	gr.SnapDir = filepath.Join(g.walDir(), segmentsOf(t, g)[0], "snap")
	rep, err := Verify(context.Background(), gr, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkReportShape(t, rep)
	if rep.Status != StatusUnknown || rep.Err == "" {
		t.Fatalf("status %s err %q\n%s", rep.Status, rep.Err, dumpFindings(rep))
	}
}

func segmentsOf(t testing.TB, g vgroup) []string {
	var out []string
	for _, s := range g.segs(t) {
		out = append(out, s.Name)
	}
	return out
}

// TestVerifyAll checks several groups in parallel, reports progress and
// keeps the groups' order, and its JSON has the documented shape.
func TestVerifyAll(t *testing.T) {
	var groups []Group
	want := []string{}
	for k, c := range []vcase{verifyCases[0], verifyCases[3], verifyCases[len(verifyCases)-2]} {
		g := c.build(t)
		gr := g.group()
		gr.Name = fmt.Sprintf("g%d", k)
		groups = append(groups, gr)
		want = append(want, gr.Name)
	}
	var calls []Progress
	rep, err := VerifyAll(context.Background(), groups, VerifyOptions{Parallel: 2, Progress: func(p Progress) { calls = append(calls, p) }})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range rep.Groups {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("groups %v, want %v", names, want)
	}
	if rep.Summary != (Summary{Groups: 3, OK: 1, Warning: 1, Error: 1}) {
		t.Errorf("summary %+v", rep.Summary)
	}
	if len(calls) != 4 || calls[3].GroupsDone != 3 || calls[3].BytesRead != calls[3].BytesTotal || calls[3].BytesTotal == 0 {
		t.Errorf("progress calls %+v", calls)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		sort.Strings(k)
		return k
	}
	if got := keys(generic); !slices.Equal(got, []string{"groups", "schema_version", "summary"}) {
		t.Errorf("report keys %v", got)
	}
	g0 := generic["groups"].([]any)[1].(map[string]any)
	if got := keys(g0); !slices.Equal(got, []string{"findings", "name", "snap_dir", "status", "wal_dir"}) {
		t.Errorf("group keys %v", got)
	}
	f0 := g0["findings"].([]any)[0].(map[string]any)
	if got := keys(f0); !slices.Equal(got, []string{"code", "file", "hint", "index", "message", "offset", "severity"}) {
		t.Errorf("finding keys %v", got)
	}
	if got := keys(generic["summary"].(map[string]any)); !slices.Equal(got, []string{"error", "groups", "ok", "unknown", "warning"}) {
		t.Errorf("summary keys %v", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := VerifyAll(ctx, groups, VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
