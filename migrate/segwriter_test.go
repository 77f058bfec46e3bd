package migrate

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"go.etcd.io/etcd/pkg/v3/ioutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/repair/durable"
)

// saveCall is one Save call of a differential run.
type saveCall struct {
	st   *raftpb.HardState
	ents []*raftpb.Entry
}

// writeWithEtcd writes the calls through etcd's wal.Create, Save and Close.
func writeWithEtcd(t *testing.T, dir string, size int64, md []byte, noSync bool, calls []saveCall) {
	t.Helper()
	// etcd's writer reads the process-wide segment size: set it under the
	// one guard while it writes.
	defer durable.LockSegmentSize(size)()
	w, err := wal.Create(zap.NewNop(), dir, md)
	if err != nil {
		t.Fatal(err)
	}
	if noSync {
		w.SetUnsafeNoFsync()
	}
	for i, c := range calls {
		if err := w.Save(c.st, c.ents); err != nil {
			t.Fatalf("etcd Save %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeWithSegWriter writes the same calls through segWriter.
func writeWithSegWriter(t *testing.T, dir string, size int64, md []byte, noSync bool, calls []saveCall) {
	t.Helper()
	w, err := createSegWriter(dir, size, md, noSync)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		if err := w.Save(c.st, c.ents); err != nil {
			t.Fatalf("segWriter Save %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// compareDirs fails unless a and b hold the same files (names, modes,
// bytes) and have the same mode. It returns the number of files.
func compareDirs(t *testing.T, a, b string) int {
	t.Helper()
	list := func(dir string) []os.DirEntry {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return ents
	}
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode()
	}
	if ma, mb := mode(a), mode(b); ma != mb {
		t.Errorf("directory mode %v (etcd), %v (segWriter)", ma, mb)
	}
	ea, eb := list(a), list(b)
	names := func(es []os.DirEntry) []string {
		var s []string
		for _, e := range es {
			s = append(s, e.Name())
		}
		return s
	}
	if !slices.Equal(names(ea), names(eb)) {
		t.Fatalf("files differ:\netcd:      %v\nsegWriter: %v", names(ea), names(eb))
	}
	for _, e := range ea {
		pa, pb := filepath.Join(a, e.Name()), filepath.Join(b, e.Name())
		if ma, mb := mode(pa), mode(pb); ma != mb {
			t.Errorf("%s: mode %v (etcd), %v (segWriter)", e.Name(), ma, mb)
		}
		da, err := os.ReadFile(pa)
		if err != nil {
			t.Fatal(err)
		}
		db, err := os.ReadFile(pb)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(da, db) {
			i := 0
			for i < len(da) && i < len(db) && da[i] == db[i] {
				i++
			}
			t.Errorf("%s: %d bytes (etcd), %d bytes (segWriter), first difference at offset %d", e.Name(), len(da), len(db), i)
		}
	}
	return len(ea)
}

// genCalls makes n Save calls of random batches from seed: normal entries
// of sizes from empty to beyond etcd's 1 MiB encoder buffer (dataMax caps
// them), conf changes, nil and empty data, unset fields, HardStates that
// change term, vote or commit alone, empty and nil HardStates, and calls
// without entries.
func genCalls(seed uint64, n int, dataMax int) []saveCall {
	r := rand.New(rand.NewPCG(seed, 1))
	// Entry data are slices of one random pool.
	pool := make([]byte, 2<<20)
	var cs [32]byte
	binary.LittleEndian.PutUint64(cs[:], seed)
	rand.NewChaCha8(cs).Read(pool)
	sizes := []int{0, 1, 7, 8, 9, 100, 150, 1000, 4095, 4096, 5000}
	big := []int{70 << 10, 130 << 10, 300 << 10, 1100 << 10}
	index, term, vote := uint64(1), uint64(1), uint64(0)
	var calls []saveCall
	for range n {
		var c saveCall
		k := r.IntN(40)
		if r.IntN(8) == 0 {
			k = 0
		}
		for range k {
			e := &raftpb.Entry{Term: proto.Uint64(term), Index: proto.Uint64(index), Type: raftpb.EntryNormal.Enum()}
			size := r.IntN(300)
			switch r.IntN(60) {
			case 0:
				size = big[r.IntN(len(big))]
			case 1, 2, 3, 4, 5, 6:
				size = sizes[r.IntN(len(sizes))]
			}
			size = min(size, dataMax)
			switch r.IntN(20) {
			case 0:
				e.Data = nil
			case 1:
				e.Type = raftpb.EntryConfChange.Enum()
				cc := &raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(r.Uint64N(9) + 1)}
				e.Data, _ = proto.Marshal(cc)
			case 2:
				e.Type = nil // unset: etcd writes no field
			case 3:
				e.Term = proto.Uint64(0)
				e.Data = []byte{}
			default:
				off := r.IntN(len(pool) - size + 1)
				e.Data = pool[off : off+size : off+size]
			}
			c.ents = append(c.ents, e)
			index++
		}
		switch r.IntN(10) {
		case 0:
			c.st = nil
		case 1:
			c.st = &raftpb.HardState{}
		case 2:
			term++
			c.st = &raftpb.HardState{Term: proto.Uint64(term)}
		case 3:
			vote = r.Uint64N(5)
			c.st = &raftpb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(vote)}
		default:
			c.st = &raftpb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(vote), Commit: proto.Uint64(index - 1)}
		}
		calls = append(calls, c)
	}
	return calls
}

// TestSegWriterMatchesEtcd writes the same Save calls through etcd's wal
// and through segWriter and compares every file byte for byte: segment
// names (where cuts happen), crc records, preallocated tails, truncated
// segments, padding and every record.
func TestSegWriterMatchesEtcd(t *testing.T) {
	cases := []struct {
		name    string
		size    int64
		md      []byte
		noSync  bool
		calls   int
		dataMax int
		seed    uint64
	}{
		{"4KiB", 4096, nil, true, 300, 300 << 10, 1},
		{"16KiB-metadata", 16 << 10, []byte("cluster metadata"), true, 300, 1200 << 10, 2},
		{"64KiB-empty-metadata", 64 << 10, []byte{}, true, 400, 1200 << 10, 3},
		{"200KiB", 200 << 10, []byte{1, 2, 3}, true, 400, 300, 4},
		{"1MB", 1000 * 1000, nil, true, 400, 1200 << 10, 5},
		{"64KiB-fsync", 64 << 10, nil, false, 60, 20 << 10, 6},
		{"odd-size", 4096*3 + 5, []byte("m"), true, 300, 8 << 10, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := genCalls(c.seed, c.calls, c.dataMax)
			root := t.TempDir()
			a, b := filepath.Join(root, "etcd"), filepath.Join(root, "seg")
			writeWithEtcd(t, a, c.size, c.md, c.noSync, calls)
			writeWithSegWriter(t, b, c.size, c.md, c.noSync, calls)
			files := compareDirs(t, a, b)
			if c.size < 1<<20 && files < 5 {
				t.Errorf("only %d segments: the case does not exercise cuts", files)
			}
		})
	}
}

// TestSegWriterMigrationShape is the differential test on what a migration
// writes: bootstrap conf changes, then 1 MiB batches of legacy-sized
// entries, each Save with a HardState, in small segments.
func TestSegWriterMigrationShape(t *testing.T) {
	for _, size := range []int64{MinSegmentSize, 64 << 10, 1000 * 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(size), 2))
			boot, err := bootstrapEntries([]uint64{1, 2, 3})
			if err != nil {
				t.Fatal(err)
			}
			term := proto.Uint64(3)
			calls := []saveCall{{st: &raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: proto.Uint64(3)}, ents: boot}}
			index := uint64(4)
			batch := int(batchBytesFor(size))
			for range 12 {
				var c saveCall
				for n := 0; n < batch; {
					d := make([]byte, 80+r.IntN(113))
					for i := range d {
						d[i] = byte(r.Uint32())
					}
					c.ents = append(c.ents, &raftpb.Entry{Term: term, Index: proto.Uint64(index), Type: raftpb.EntryNormal.Enum(), Data: d})
					index++
					n += len(d)
				}
				c.st = &raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: proto.Uint64(index - 1)}
				calls = append(calls, c)
			}
			root := t.TempDir()
			a, b := filepath.Join(root, "etcd"), filepath.Join(root, "seg")
			writeWithEtcd(t, a, size, nil, true, calls)
			writeWithSegWriter(t, b, size, nil, true, calls)
			compareDirs(t, a, b)
		})
	}
}

// countWriter counts the bytes written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestPageModelMatchesPageWriter drives etcd's ioutil.PageWriter and the
// model with the same random writes and flushes, from random page offsets,
// and compares the bytes that reached the file after every call (what
// etcd's Seek(0, io.SeekCurrent) sees, which decides the cuts).
func TestPageModelMatchesPageWriter(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	buf := make([]byte, 600<<10)
	for run := range 200 {
		start := r.IntN(3 * pageBytes)
		var cw countWriter
		pw := ioutil.NewPageWriter(&cw, pageBytes, start)
		p := pageModel{pageOffset: start}
		for call := range 300 {
			var n int
			switch r.IntN(10) {
			case 0:
				n = r.IntN(len(buf))
			case 1:
				n = pageBytes - (start+int(p.fileOffset)+p.buffered)%pageBytes // exactly the slack
			case 2:
				n = pageBufferMark - p.buffered + r.IntN(3) - 1 // around the mark
			default:
				n = r.IntN(400)
			}
			n = max(n, 0)
			if r.IntN(25) == 0 {
				if err := pw.Flush(); err != nil {
					t.Fatal(err)
				}
				p.flush()
			} else {
				if _, err := pw.Write(buf[:n]); err != nil {
					t.Fatal(err)
				}
				p.write(n)
			}
			if cw.n != p.fileOffset {
				t.Fatalf("run %d call %d (write %d): PageWriter wrote %d bytes through, the model %d", run, call, n, cw.n, p.fileOffset)
			}
		}
	}
}

// TestPageModel checks the model of etcd's page writer against its
// arithmetic on a few sequences that cross the watermark and page edges.
func TestPageModel(t *testing.T) {
	var p pageModel
	p.write(8)
	p.write(pageBufferMark - 8) // exactly at the mark: still buffered
	if p.fileOffset != 0 || p.buffered != pageBufferMark {
		t.Fatalf("at the mark: %+v", p)
	}
	p.write(8) // over the mark, page-aligned: flush, then buffer 8
	if p.fileOffset != pageBufferMark || p.buffered != 8 {
		t.Fatalf("over the mark: %+v", p)
	}
	p.write(pageBufferMark) // slack of the page, flush, whole pages direct, tail buffered
	if want := int64(2*pageBufferMark) + 0; p.fileOffset+int64(p.buffered) != want+8 || p.fileOffset%pageBytes != 0 {
		t.Fatalf("large write: %+v", p)
	}
	p.flush()
	if p.buffered != 0 || p.fileOffset != 2*pageBufferMark+8 || p.pageOffset != 8 {
		t.Fatalf("flush: %+v", p)
	}
}

// TestSegWriterCreateExisting: like wal.Create, an existing directory is
// refused and left alone.
func TestSegWriterCreateExisting(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if w, err := createSegWriter(dir, 4096, nil, true); err == nil {
		w.Abort()
		t.Fatal("created a WAL in an existing directory")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "x")); err != nil || string(b) != "keep" {
		t.Fatalf("existing file changed: %q %v", b, err)
	}
}

// TestReadBackJoinsSegments: the read-back reads segment by segment and
// joins them; a segment that is consistent on its own but belongs to
// another WAL (its CRC chain starts elsewhere), a missing segment and a
// stray file are all refused, and the intact WAL is accepted.
func TestReadBackJoinsSegments(t *testing.T) {
	root := t.TempDir()
	write := func(name string, md []byte) string {
		dir := filepath.Join(root, name)
		boot, err := bootstrapEntries([]uint64{1})
		if err != nil {
			t.Fatal(err)
		}
		w, err := createSegWriter(dir, 8192, md, true)
		if err != nil {
			t.Fatal(err)
		}
		term := proto.Uint64(1)
		if err := w.Save(&raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: proto.Uint64(1)}, boot); err != nil {
			t.Fatal(err)
		}
		index := uint64(2)
		for range 40 {
			var ents []*raftpb.Entry
			for range 10 {
				ents = append(ents, &raftpb.Entry{Term: term, Index: proto.Uint64(index), Type: raftpb.EntryNormal.Enum(), Data: bytes.Repeat([]byte{byte(index)}, 300)})
				index++
			}
			if err := w.Save(&raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: proto.Uint64(index - 1)}, ents); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b := write("a", []byte("metadata a")), write("b", []byte("metadata b"))
	s, err := readBack(a)
	if err != nil {
		t.Fatal(err)
	}
	if s.entries != 400 || s.lastIndex != 401 || len(s.members) != 1 || s.state.GetCommit() != 401 {
		t.Fatalf("intact WAL read back as %+v", s)
	}
	ents, err := os.ReadDir(a)
	if err != nil || len(ents) < 4 {
		t.Fatalf("%d segments, %v", len(ents), err)
	}
	seg := ents[2].Name()
	swap := func(from, to string) {
		t.Helper()
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Segment 2 of b has the same name, indexes and entries, but a chain
	// that starts from b's metadata.
	swap(filepath.Join(b, seg), filepath.Join(a, seg))
	if _, err := readBack(a); err == nil {
		t.Error("a segment of another WAL was accepted")
	} else {
		t.Logf("foreign segment: %v", err)
	}
	swap(filepath.Join(b, seg), filepath.Join(b, seg+".keep"))
	if err := os.Remove(filepath.Join(b, seg)); err != nil {
		t.Fatal(err)
	}
	if _, err := readBack(b); err == nil {
		t.Error("a WAL without its segment 2 was accepted")
	} else {
		t.Logf("missing segment: %v", err)
	}
	if err := os.Rename(filepath.Join(b, seg+".keep"), filepath.Join(b, seg)); err != nil {
		t.Fatal(err)
	}
	if _, err := readBack(b); err != nil {
		t.Fatalf("b restored: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b, "0.tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readBack(b); err == nil {
		t.Error("a stray file was accepted")
	}
}

// BenchmarkWriters writes the same batches, already in memory, through
// etcd's wal (Create, Save, Close) and through segWriter, neither
// fsyncing: RAFTCTL_BENCH_MB megabytes (default 50) of 80 to 192-byte
// entries (the legacy records' sizes) in migrate's 1 MiB batches, each Save
// with a HardState, 64 MB segments.
//
//	RAFTCTL_BENCH_MB=500 go test -run '^$' -bench Writers -benchtime 3x ./migrate/
func BenchmarkWriters(b *testing.B) {
	mb := int64(50)
	if s := os.Getenv("RAFTCTL_BENCH_MB"); s != "" {
		var err error
		if mb, err = strconv.ParseInt(s, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	pool := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(pool)
	term := proto.Uint64(1)
	boot, err := bootstrapEntries([]uint64{1})
	if err != nil {
		b.Fatal(err)
	}
	calls := []saveCall{{st: &raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: proto.Uint64(1)}, ents: boot}}
	index := uint64(2)
	var total int64
	for total < mb*1000*1000 {
		var c saveCall
		for n := 0; n < 1<<20; {
			size := 80 + r.IntN(113)
			off := r.IntN(len(pool) - size)
			c.ents = append(c.ents, &raftpb.Entry{Term: term, Index: proto.Uint64(index), Type: raftpb.EntryNormal.Enum(), Data: pool[off : off+size]})
			index++
			n += size
			total += int64(size)
		}
		c.st = &raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: proto.Uint64(index - 1)}
		calls = append(calls, c)
	}
	b.Run("etcd", func(b *testing.B) {
		defer durable.LockSegmentSize(DefaultSegmentSize)()
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			dir := filepath.Join(b.TempDir(), "wal")
			b.StartTimer()
			w, err := wal.Create(zap.NewNop(), dir, nil)
			if err != nil {
				b.Fatal(err)
			}
			w.SetUnsafeNoFsync()
			for _, c := range calls {
				if err := w.Save(c.st, c.ents); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("segWriter", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			dir := filepath.Join(b.TempDir(), "wal")
			b.StartTimer()
			w, err := createSegWriter(dir, DefaultSegmentSize, nil, true)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range calls {
				if err := w.Save(c.st, c.ents); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCommitlogCutInBootstrap: enough members that the bootstrap Save alone
// fills a segment; the segment it completes is read back like the others.
func TestCommitlogCutInBootstrap(t *testing.T) {
	src := generate(t, 50)
	var members []uint64
	for i := range 5000 {
		members = append(members, uint64(i+1))
	}
	res, err := Commitlog(context.Background(), CommitlogOptions{Source: src, Out: t.TempDir(), Name: "g", Members: members, SegmentSize: MinSegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	segs, err := os.ReadDir(filepath.Join(res.Output, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Segments < 2 || len(segs) != res.Segments || segs[1].Name() != segName(1, 5001) {
		t.Fatalf("%d segments %v: the bootstrap did not cut after index 5000", res.Segments, segs)
	}
}
