package migrate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/raftctl/raftctl/repair/durable"
)

// segWriter writes a WAL directory that is byte for byte the one etcd's wal
// package (server/v3 v3.7.3) writes for
//
//	w, _ := wal.Create(lg, dir, metadata) // with wal.SegmentSizeBytes = segSize
//	w.Save(st, ents) ...                  // the same calls, in the same order
//	w.Close()
//
// without etcd's per-record costs (a protobuf marshal, two clock reads and
// metrics per record, 8-byte writes through a page writer): records are
// encoded by hand into one reused buffer written in large pieces. What the
// files hold is etcd's, including where segments are cut, so it follows
// etcd's writer in every detail that shows in the bytes:
//
//   - a new segment starts with a crc record carrying the running CRC
//     (0 for the first), then the metadata record; the first segment then
//     holds the empty snapshot record {Index: 0, Term: 0}, later ones the
//     last non-empty HardState saved;
//   - every record is walpb.Record{type, crc, data} in field order, crc the
//     CRC-32C chained over the data of all records before it and its own,
//     framed by a little-endian length word whose top byte is 0x80|padding
//     when the record is padded to 8 bytes;
//   - protobuf presence as etcd's (proto2, pointer fields): a field is
//     written when its pointer (or slice) is non-nil, even when zero;
//   - segments are preallocated (fallocate) to segSize and the last one
//     keeps its zero tail; after a Save, if etcd's file offset has reached
//     segSize the segment is cut: truncated at its end and the next one,
//     taken from a preallocated "<n>.tmp" file (alternating 0.tmp and
//     1.tmp, as etcd's file pipeline does), is renamed to
//     <seq+1>-<last entry index+1>.wal. etcd's file offset at that check
//     leaves out what its page writer still buffers (up to 128 KiB), so the
//     writer keeps a model of that buffer (pageModel) to cut exactly where
//     etcd cuts;
//   - files 0600, the directory 0700.
//
// Durability: with noSync false it fsyncs where etcd does (the initial
// segment and its directory on create, every Save that must sync, a cut's
// two syncs and the directory after its rename, Close). With noSync true,
// like etcd's SetUnsafeNoFsync (set from the start), it fsyncs nothing and
// the caller must sync every file and the directory before relying on them
// (migrate syncs once before the directory becomes visible).
//
// A segWriter is not safe for concurrent use. After an error it is broken:
// every later call returns the first error. It takes no file locks (etcd
// flocks its segments): it writes only into a directory nobody else uses.
//
// The differential test (segwriter_test.go) writes the same calls through
// etcd's wal and through segWriter and compares every file byte for byte.
type segWriter struct {
	dir      string
	segSize  int64
	metadata []byte
	noSync   bool

	dirFile  *os.File
	f        *os.File // the tail segment
	tailPath string   // its final name
	seq      uint64   // its sequence number
	written  int64    // bytes of the tail written to f
	buf      []byte   // encoded records not yet written, from offset written
	crc      uint32   // running CRC-32C
	enti     uint64   // index of the last entry saved
	pw       pageModel
	fp       *segPipeline

	// The last non-empty HardState saved: its fields (for raft.MustSync)
	// and its encoding (written again at the head of each new segment).
	hasState       bool
	stTerm, stVote uint64
	state          []byte

	err error
}

// WAL record types (etcd's wal: MetadataType ... SnapshotType).
const (
	recMetadata int64 = iota + 1
	recEntry
	recState
	recCRC
	recSnapshot
)

// segFlushBytes is how much encoded data collects before it is written.
const segFlushBytes = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segName is etcd's walName.
func segName(seq, index uint64) string { return fmt.Sprintf("%016x-%016x.wal", seq, index) }

// createSegWriter is etcd's wal.Create(lg, dir, metadata) with
// wal.SegmentSizeBytes = segSize: dir must not exist; it is created (0700,
// its parent must exist) with the first segment
// 0000000000000000-0000000000000000.wal holding a crc record, the metadata
// record and the empty snapshot record.
func createSegWriter(dir string, segSize int64, metadata []byte, noSync bool) (*segWriter, error) {
	if segSize <= 0 {
		return nil, fmt.Errorf("segment size %d", segSize)
	}
	if err := os.Mkdir(dir, fileutil.PrivateDirMode); err != nil {
		return nil, err
	}
	w := &segWriter{dir: dir, segSize: segSize, metadata: metadata, noSync: noSync,
		buf: make([]byte, 0, segFlushBytes+64<<10)}
	ok := false
	defer func() {
		if !ok {
			w.Abort()
		}
	}()
	var err error
	if w.dirFile, err = os.Open(dir); err != nil {
		return nil, err
	}
	w.tailPath = filepath.Join(dir, segName(0, 0))
	if w.f, err = os.OpenFile(w.tailPath, os.O_WRONLY|os.O_CREATE, fileutil.PrivateFileMode); err != nil {
		return nil, err
	}
	if err := fileutil.Preallocate(w.f, segSize, true); err != nil {
		return nil, err
	}
	w.appendRecord(recCRC, nil)
	w.appendRecord(recMetadata, metadata)
	// SaveSnapshot(&walpb.Snapshot{Index: 0, Term: 0}), which syncs.
	w.appendRecord(recSnapshot, []byte{0x08, 0x00, 0x10, 0x00})
	if err := w.sync(); err != nil {
		return nil, err
	}
	w.fp = newSegPipeline(dir, segSize)
	if !noSync {
		if err := durable.Sync(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, err
		}
	}
	ok = true
	return w, nil
}

// Save is etcd's WAL.Save: the entries, then the HardState unless it is
// empty, then a cut if the segment is full, else an fsync if raft.MustSync
// says so (and noSync is false).
func (w *segWriter) Save(st *raftpb.HardState, ents []*raftpb.Entry) error {
	if w.err != nil {
		return w.err
	}
	if isEmptyState(st) && len(ents) == 0 {
		return nil
	}
	if st == nil {
		st = &raftpb.HardState{}
	}
	// raft.MustSync(st, w.state, len(ents))
	mustSync := len(ents) != 0 || st.GetVote() != w.stVote || st.GetTerm() != w.stTerm
	for _, e := range ents {
		w.appendEntry(e)
		w.enti = e.GetIndex()
	}
	if !isEmptyState(st) {
		w.state = appendHardState(w.state[:0], st)
		w.hasState = true
		w.stTerm, w.stVote = st.GetTerm(), st.GetVote()
		w.appendRecord(recState, w.state)
	}
	if w.pw.fileOffset < w.segSize {
		if mustSync {
			return w.sync()
		}
		return w.flushIfFull()
	}
	return w.cut()
}

// Close is etcd's WAL.Close: the pending preallocated file is removed, the
// tail synced (unless noSync) and every file closed. The last segment keeps
// its preallocated zero tail.
func (w *segWriter) Close() error {
	var errs []error
	if w.fp != nil {
		errs = append(errs, w.fp.close())
		w.fp = nil
	}
	if w.err == nil && w.f != nil {
		if err := w.flush(); err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, w.sync())
		}
	}
	errs = append(errs, w.closeFiles())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return w.err
}

// Abort closes the files after an error, syncing nothing, and removes the
// pending preallocated file.
func (w *segWriter) Abort() {
	if w.fp != nil {
		w.fp.close()
		w.fp = nil
	}
	w.closeFiles()
}

func (w *segWriter) closeFiles() error {
	var errs []error
	if w.f != nil {
		errs = append(errs, w.f.Close())
		w.f = nil
	}
	if w.dirFile != nil {
		errs = append(errs, w.dirFile.Close())
		w.dirFile = nil
	}
	return errors.Join(errs...)
}

func (w *segWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// flushIfFull writes the buffer once it holds segFlushBytes.
func (w *segWriter) flushIfFull() error {
	if len(w.buf) < segFlushBytes {
		return nil
	}
	return w.flush()
}

// flush writes the buffer to the tail segment.
func (w *segWriter) flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.f.Write(w.buf)
	w.written += int64(n)
	if err != nil {
		return w.fail(err)
	}
	w.buf = w.buf[:0]
	return nil
}

// sync is etcd's WAL.sync: its page writer flushes (so its file offset
// catches up), then fdatasync unless noSync.
func (w *segWriter) sync() error {
	w.pw.flush()
	if w.noSync {
		return w.flushIfFull()
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := fileutil.Fdatasync(w.f); err != nil {
		return w.fail(err)
	}
	return nil
}

// cut is etcd's WAL.cut.
func (w *segWriter) cut() error {
	// etcd truncates at its file offset, then flushes the rest of its
	// page writer's buffer after it: the segment ends where its last
	// record ends.
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.f.Truncate(w.written); err != nil {
		return w.fail(err)
	}
	if err := w.sync(); err != nil {
		return err
	}
	name := filepath.Join(w.dir, segName(w.seq+1, w.enti+1))
	next, err := w.fp.open()
	if err != nil {
		return w.fail(err)
	}
	if err := w.f.Close(); err != nil {
		next.Close()
		return w.fail(err)
	}
	w.f, w.seq, w.written, w.pw = next, w.seq+1, 0, pageModel{}
	w.appendRecord(recCRC, nil)
	w.appendRecord(recMetadata, w.metadata)
	if w.hasState {
		w.appendRecord(recState, w.state)
	}
	if err := w.sync(); err != nil {
		return err
	}
	if err := os.Rename(next.Name(), name); err != nil {
		return w.fail(err)
	}
	w.tailPath = name
	if !w.noSync {
		if err := w.dirFile.Sync(); err != nil {
			return w.fail(err)
		}
	}
	// etcd reopens the file under its new name with a new page writer at
	// the current offset.
	w.pw = pageModel{pageOffset: int(w.pw.fileOffset % pageBytes), fileOffset: w.pw.fileOffset}
	return nil
}

// appendRecord encodes one record of type typ and data (absent when nil,
// as in etcd's walpb.Record{Type: &typ, Data: data}).
func (w *segWriter) appendRecord(typ int64, data []byte) {
	w.crc = crc32.Update(w.crc, castagnoli, data)
	n := 1 + protowire.SizeVarint(uint64(typ)) + 1 + protowire.SizeVarint(uint64(w.crc))
	if data != nil {
		n += 1 + protowire.SizeVarint(uint64(len(data))) + len(data)
	}
	b, pad := w.frame(n)
	b = append(b, 0x08)
	b = protowire.AppendVarint(b, uint64(typ))
	b = append(b, 0x10)
	b = protowire.AppendVarint(b, uint64(w.crc))
	if data != nil {
		b = append(b, 0x1a)
		b = protowire.AppendVarint(b, uint64(len(data)))
		b = append(b, data...)
	}
	w.buf = appendZeros(b, pad)
}

// appendEntry encodes the entry record of e: walpb.Record{Type: EntryType,
// Data: e marshalled} with e's fields in field order (Type 1, Term 2,
// Index 3, Data 4), each present when set.
func (w *segWriter) appendEntry(e *raftpb.Entry) {
	m := 0 // the entry's protobuf size
	if e.Type != nil {
		m += 1 + protowire.SizeVarint(uint64(int64(*e.Type)))
	}
	if e.Term != nil {
		m += 1 + protowire.SizeVarint(*e.Term)
	}
	if e.Index != nil {
		m += 1 + protowire.SizeVarint(*e.Index)
	}
	if e.Data != nil {
		m += 1 + protowire.SizeVarint(uint64(len(e.Data))) + len(e.Data)
	}
	// The entry is encoded where it follows the longest crc varint, its
	// CRC computed there in one piece, and it moves back by the bytes the
	// crc varint does not need (1 time in 16).
	const maxCRC = 5
	start := len(w.buf)
	at := start + 8 + 2 + 1 + maxCRC + 1 + protowire.SizeVarint(uint64(m))
	b := slices.Grow(w.buf, at-start+m+8)[:at]
	if e.Type != nil {
		b = protowire.AppendVarint(append(b, 0x08), uint64(int64(*e.Type)))
	}
	if e.Term != nil {
		b = protowire.AppendVarint(append(b, 0x10), *e.Term)
	}
	if e.Index != nil {
		b = protowire.AppendVarint(append(b, 0x18), *e.Index)
	}
	if e.Data != nil {
		b = protowire.AppendVarint(append(b, 0x22), uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	w.crc = crc32.Update(w.crc, castagnoli, b[at:])
	if shift := maxCRC - protowire.SizeVarint(uint64(w.crc)); shift > 0 {
		copy(b[at-shift:], b[at:])
		b = b[:len(b)-shift]
		at -= shift
	}
	n := len(b) - start - 8
	pad := (8 - n%8) % 8
	word := uint64(n)
	if pad != 0 {
		word |= uint64(0x80|pad) << 56
	}
	w.pw.write(8)
	w.pw.write(n + pad)
	h := binary.LittleEndian.AppendUint64(b[:start], word)
	h = append(h, 0x08, byte(recEntry), 0x10)
	h = protowire.AppendVarint(h, uint64(w.crc))
	protowire.AppendVarint(append(h, 0x1a), uint64(m)) // ends at at
	w.buf = appendZeros(b, pad)
}

// frame appends the length word of a record of n bytes to the buffer,
// tells the page model about the record's two writes, and returns the
// buffer and the padding to append after the record.
func (w *segWriter) frame(n int) ([]byte, int) {
	pad := (8 - n%8) % 8
	word := uint64(n)
	if pad != 0 {
		word |= uint64(0x80|pad) << 56
	}
	w.pw.write(8)
	w.pw.write(n + pad)
	return binary.LittleEndian.AppendUint64(w.buf, word), pad
}

var zeros [8]byte

func appendZeros(b []byte, n int) []byte { return append(b, zeros[:n]...) }

// appendHardState marshals st as protobuf does (proto2: set fields only).
func appendHardState(b []byte, st *raftpb.HardState) []byte {
	if st.Term != nil {
		b = protowire.AppendVarint(append(b, 0x08), *st.Term)
	}
	if st.Vote != nil {
		b = protowire.AppendVarint(append(b, 0x10), *st.Vote)
	}
	if st.Commit != nil {
		b = protowire.AppendVarint(append(b, 0x18), *st.Commit)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// isEmptyState is raft.IsEmptyHardState.
func isEmptyState(st *raftpb.HardState) bool {
	return st.GetTerm() == 0 && st.GetVote() == 0 && st.GetCommit() == 0
}

// pageModel follows the buffer of etcd's ioutil.PageWriter (4 KiB pages,
// 128 KiB watermark) by length alone, to know etcd's file offset: the
// bytes written to the file, without those still buffered.
type pageModel struct {
	pageOffset int   // as PageWriter.pageOffset
	buffered   int   // as PageWriter.bufferedBytes
	fileOffset int64 // bytes written through to the file
}

const (
	pageBytes      = 8 * 512    // etcd's walPageBytes
	pageBufferMark = 128 * 1024 // ioutil's defaultBufferBytes
)

// write is PageWriter.Write of n bytes.
func (p *pageModel) write(n int) {
	for {
		if n+p.buffered <= pageBufferMark {
			p.buffered += n
			return
		}
		if slack := pageBytes - (p.pageOffset+p.buffered)%pageBytes; slack != pageBytes {
			if slack > n {
				p.buffered += n
				return
			}
			p.buffered += slack
			n -= slack
		}
		p.flush()
		if n > pageBytes {
			whole := n / pageBytes * pageBytes
			p.fileOffset += int64(whole)
			n -= whole
		}
	}
}

// flush is PageWriter.Flush.
func (p *pageModel) flush() {
	if p.buffered == 0 {
		return
	}
	p.fileOffset += int64(p.buffered)
	p.pageOffset = (p.pageOffset + p.buffered) % pageBytes
	p.buffered = 0
}

// segPipeline is etcd's filePipeline: it keeps the next segment file
// preallocated, as "<n>.tmp" alternating 0.tmp and 1.tmp.
type segPipeline struct {
	filec chan *os.File
	errc  chan error
	donec chan struct{}
}

func newSegPipeline(dir string, size int64) *segPipeline {
	p := &segPipeline{filec: make(chan *os.File), errc: make(chan error, 1), donec: make(chan struct{})}
	go func() {
		defer close(p.errc)
		for count := 0; ; count++ {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.tmp", count%2)), os.O_WRONLY|os.O_CREATE, fileutil.PrivateFileMode)
			if err == nil {
				if err = fileutil.Preallocate(f, size, true); err != nil {
					f.Close()
				}
			}
			if err != nil {
				p.errc <- err
				return
			}
			select {
			case p.filec <- f:
			case <-p.donec:
				os.Remove(f.Name())
				f.Close()
				return
			}
		}
	}()
	return p
}

func (p *segPipeline) open() (*os.File, error) {
	select {
	case f := <-p.filec:
		return f, nil
	case err := <-p.errc:
		if err == nil {
			err = errors.New("segment pipeline closed")
		}
		return nil, err
	}
}

func (p *segPipeline) close() error {
	close(p.donec)
	return <-p.errc
}
