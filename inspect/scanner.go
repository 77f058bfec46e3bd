package inspect

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// RecordType is the type of a WAL record (walpb.Record.type).
type RecordType int64

// The record types etcd's wal package writes.
const (
	metadataRecord RecordType = 1
	entryRecord    RecordType = 2
	stateRecord    RecordType = 3
	crcRecord      RecordType = 4
	snapshotRecord RecordType = 5
)

// String names a record type as raftctl's JSON does.
func (t RecordType) String() string {
	switch t {
	case metadataRecord:
		return "metadata"
	case entryRecord:
		return "entry"
	case stateRecord:
		return "state"
	case crcRecord:
		return "crc"
	case snapshotRecord:
		return "snapshot"
	}
	return fmt.Sprintf("type-%d", int64(t))
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// minSectorSize is the sector size etcd assumes when it tells a torn write
// from corruption.
const minSectorSize = 512

// frameHeader is the size of the length word in front of every record.
const frameHeader = 8

// defaultBufferSize is the read buffer a scanner reuses for all segments.
const defaultBufferSize = 1 << 20

// Record is one decoded WAL record. Data aliases the scanner's buffer and
// is valid only until the next call to Next.
//
// On disk a record is framed like this (all little-endian):
//
//	 0               8                         8+N        8+N+P
//	+---------------+-------------------------+----------+
//	| length word   | walpb.Record protobuf   | padding  |
//	+---------------+-------------------------+----------+
//	 bits 0-55: N (protobuf bytes)            P = 0..7 zero bytes so the
//	 bit 63 set: bits 56-58 hold P            next frame is 8-aligned
//
//	walpb.Record = { 1: type varint, 2: crc varint (CRC-32C), 3: data bytes }
//
// The CRC of a record is CRC-32C over its data, chained: the running value
// continues from the previous record (and across segments through the crc
// record that starts every segment).
type Record struct {
	Type RecordType
	// CRC is the crc field as stored.
	CRC  uint32
	Data []byte
	// Segment indexes the scanner's segment list.
	Segment int
	// Offset is the byte offset of the frame's length word in its segment.
	Offset int64
	// FrameSize is the length of the whole frame: length word, record and
	// padding.
	FrameSize int64
	// Seq numbers records from 0 across all segments.
	Seq int64
}

// segmentEnd describes where and why reading of one segment stopped.
type segmentEnd struct {
	Segment int
	// Offset is where the log ends in this segment: the end of the last
	// complete record.
	Offset int64
	// Size is the file's size.
	Size int64
	// ZeroWord is true when a zero length word ended the segment (the
	// preallocated tail), false at end of file.
	ZeroWord bool
	// Records is the number of records read from this segment.
	Records int64
}

// scanOptions tune a scanner.
type scanOptions struct {
	// BufferSize is the reused read buffer's size (defaultBufferSize if 0).
	BufferSize int
	// NoChain disables the check that every crc record continues the chain
	// (etcd's ReadAll and Verify perform it; the bare decoder does not).
	NoChain bool
	// OnSegmentEnd, if set, is called when a segment is left cleanly.
	OnSegmentEnd func(segmentEnd)
	// OnRead, if set, is told how many bytes each read from a file
	// returned (for progress reports).
	OnRead func(n int)
	// MaxRecord caps the size of one record (defaultMaxRecord if 0): a
	// length word above it is never allocated for. etcd has no such cap
	// and would try to allocate it; raft never writes records this large.
	MaxRecord int64
}

// defaultMaxRecord is the largest record a scanner reads (1 GiB).
const defaultMaxRecord = 1 << 30

// scanner streams the records of a list of segments with the exact
// semantics of etcd's wal decoder: a zero length word or the end of a file
// moves on to the next segment; a frame that does not fit in the file, or
// whose bytes hold an all-zero sector, is a torn write; a record whose CRC
// fails is an error. It reads through one reused buffer and copies nothing.
//
// A scanner never writes, never locks and never panics on any input.
type scanner struct {
	segs  []Segment
	opts  scanOptions
	si    int
	f     *os.File
	size  int64
	buf   []byte
	r, w  int
	eof   bool
	off   int64
	crc   uint32
	rec   Record
	err   error
	done  bool
	seq   int64
	nrecs int64
	// pos is how many bytes of the current file were read.
	pos int64
	odd OddFrame
}

// OddFrame is a length word whose top byte etcd's encoder never writes
// (it writes 0, or 0x80 with the padding count 1 to 7 in the low bits).
// etcd's decoder ignores those bits, so the record reads the same, but
// something other than the writer changed them. Word is 0 when there is
// none.
type OddFrame struct {
	Segment int
	Offset  int64
	Word    uint64
}

// Odd returns the first length word with bits etcd never sets, if any.
func (s *scanner) Odd() OddFrame { return s.odd }

// newScanner returns a scanner over segs, read in the given order.
func newScanner(segs []Segment, opts scanOptions) *scanner {
	if opts.BufferSize <= 0 {
		opts.BufferSize = defaultBufferSize
	}
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = defaultMaxRecord
	}
	return &scanner{segs: segs, opts: opts, buf: make([]byte, opts.BufferSize)}
}

// Record returns the record found by the last successful Next.
func (s *scanner) Record() *Record { return &s.rec }

// Err returns the error that stopped the scan, nil at a clean end. A torn
// write is reported as a *DecodeError of kind KindTorn: callers decide
// whether that is the end of the log (it is, on the last segment, for
// etcd) or a finding.
func (s *scanner) Err() error { return s.err }

// CRC returns the running CRC after the last record read.
func (s *scanner) CRC() uint32 { return s.crc }

// SegmentIndex returns the index of the segment being read.
func (s *scanner) SegmentIndex() int { return s.si }

// Offset returns the offset just past the last complete record in the
// current segment (etcd's LastOffset).
func (s *scanner) Offset() int64 { return s.off }

// Close releases the open file, if any.
func (s *scanner) Close() error {
	if s.f != nil {
		f := s.f
		s.f = nil
		if s.segs[min(s.si, len(s.segs)-1)].file == f {
			// Opened by whoever listed the segment: theirs to close.
			return nil
		}
		return f.Close()
	}
	return nil
}

func (s *scanner) fail(kind ErrorKind, off int64, format string, args ...any) bool {
	p := ""
	if s.si < len(s.segs) {
		p = s.segs[s.si].Path
	}
	s.err = &DecodeError{Path: p, Segment: s.si, Offset: off, Kind: kind, Msg: fmt.Sprintf(format, args...)}
	s.done = true
	s.Close()
	return false
}

func (s *scanner) open() bool {
	seg := s.segs[s.si]
	f, err := seg.file, error(nil)
	if f == nil {
		f, err = os.Open(seg.Path)
	}
	if err != nil {
		s.err = &DecodeError{Path: seg.Path, Segment: s.si, Kind: KindIO, Msg: err.Error(), Err: err}
		s.done = true
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		s.err = &DecodeError{Path: seg.Path, Segment: s.si, Kind: KindIO, Msg: err.Error(), Err: err}
		s.done = true
		return false
	}
	s.f, s.size, s.r, s.w, s.eof, s.off, s.nrecs, s.pos = f, fi.Size(), 0, 0, false, 0, 0, 0
	return true
}

func (s *scanner) endSegment(zero bool) {
	if s.opts.OnSegmentEnd != nil {
		s.opts.OnSegmentEnd(segmentEnd{Segment: s.si, Offset: s.off, Size: s.size, ZeroWord: zero, Records: s.nrecs})
	}
	s.Close()
	s.si++
}

// fill makes at least n bytes available at buf[r:] unless the file ends
// first. n is bounded by the caller against the file's size, so growing the
// buffer never allocates more than the file holds.
func (s *scanner) fill(n int) error {
	if s.w-s.r >= n || s.eof {
		return nil
	}
	if n > len(s.buf) {
		nb := make([]byte, n)
		s.w = copy(nb, s.buf[s.r:s.w])
		s.buf, s.r = nb, 0
	} else if s.r > 0 {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.r = 0
	}
	for s.w-s.r < n {
		// Read no further than the size the file had when it was opened:
		// a live writer may append past it, and what it appends belongs
		// to a later moment than the rest of this read.
		room := int64(len(s.buf) - s.w)
		if left := s.size - s.pos; left < room {
			room = left
		}
		if room <= 0 {
			s.eof = true
			return nil
		}
		m, err := s.f.ReadAt(s.buf[s.w:s.w+int(room)], s.pos)
		s.pos += int64(m)
		if s.opts.OnRead != nil && m > 0 {
			s.opts.OnRead(m)
		}
		s.w += m
		if err == io.EOF {
			s.eof = true
			return nil
		}
		if err != nil {
			return err
		}
		if m == 0 {
			s.eof = true
			return nil
		}
	}
	return nil
}

// Next decodes the next record. It returns false at the end of the log or
// on an error (see Err).
func (s *scanner) Next() bool {
	if s.done {
		return false
	}
	for {
		if s.f == nil {
			if s.si >= len(s.segs) {
				s.done = true
				return false
			}
			if !s.open() {
				return false
			}
		}
		if s.w-s.r < frameHeader {
			if err := s.fill(frameHeader); err != nil {
				return s.fail(KindIO, s.off, "read: %v", err)
			}
		}
		avail := s.w - s.r
		if avail == 0 {
			s.endSegment(false)
			continue
		}
		if avail < frameHeader {
			return s.fail(KindTorn, s.off, "file ends %d bytes into a length word (want 8 bytes)", avail)
		}
		l := binary.LittleEndian.Uint64(s.buf[s.r:])
		if l == 0 {
			s.endSegment(true)
			continue
		}
		recBytes := int64(l &^ (uint64(0xff) << 56))
		var padBytes int64
		if int64(l) < 0 {
			padBytes = int64((l >> 56) & 0x7)
		}
		if top := l >> 56; top != 0 && (top&0xf8 != 0x80 || top&7 == 0) && s.odd.Word == 0 {
			// etcd ignores these bits as it reads, and so does the
			// scan; but no writer sets them (see OddFrame).
			s.odd = OddFrame{Segment: s.si, Offset: s.off, Word: l}
		}
		if limit := s.size - s.off - padBytes; recBytes > limit {
			return s.fail(KindTorn, s.off, "record length %d (+%d padding) exceeds the %d bytes left in the file", recBytes, padBytes, s.size-s.off-frameHeader)
		}
		if recBytes > s.opts.MaxRecord {
			// Look at the first sector only: zeros on the last segment are
			// a torn write to etcd; anything else is a length word no
			// writer produced.
			if err := s.fill(frameHeader + minSectorSize); err != nil {
				return s.fail(KindIO, s.off, "read: %v", err)
			}
			n := int(minSectorSize - (s.off+frameHeader)%minSectorSize) // to the sector's end
			if s.isTorn(s.buf[s.r+frameHeader : min(s.w, s.r+frameHeader+n)]) {
				return s.fail(KindTorn, s.off, "record length %d holds an all-zero sector (torn write)", recBytes)
			}
			return s.fail(KindMalformed, s.off, "record length %d exceeds raftctl's limit of %d bytes", recBytes, s.opts.MaxRecord)
		}
		total := int(frameHeader + recBytes + padBytes)
		if s.w-s.r < total {
			if err := s.fill(total); err != nil {
				return s.fail(KindIO, s.off, "read: %v", err)
			}
			if s.w-s.r < total {
				return s.fail(KindTorn, s.off, "file ends inside a record of %d bytes", recBytes)
			}
		}
		frame := s.buf[s.r+frameHeader : s.r+total]
		typ, crc, data, err := parseRecord(frame[:recBytes])
		if err != nil {
			if s.isTorn(frame) {
				return s.fail(KindTorn, s.off, "record of %d bytes holds an all-zero sector (torn write)", recBytes)
			}
			return s.fail(KindMalformed, s.off, "record does not decode as walpb.Record: %v", err)
		}
		if typ != crcRecord {
			s.crc = crc32.Update(s.crc, crcTable, data)
			if crc != s.crc {
				if s.isTorn(frame) {
					return s.fail(KindTorn, s.off, "record of %d bytes holds an all-zero sector (torn write)", recBytes)
				}
				return s.fail(KindCRC, s.off, "CRC mismatch: record says %08x, data gives %08x", crc, s.crc)
			}
		} else {
			if !s.opts.NoChain && s.crc != 0 && crc != s.crc {
				return s.fail(KindCRCChain, s.off, "CRC chain broken: crc record says %08x, the chain so far gives %08x", crc, s.crc)
			}
			s.crc = crc
		}
		s.rec = Record{Type: typ, CRC: crc, Data: data, Segment: s.si, Offset: s.off, FrameSize: int64(total), Seq: s.seq}
		s.r += total
		s.off += int64(total)
		s.seq++
		s.nrecs++
		return true
	}
}

// isTorn mirrors etcd's decoder.isTornEntry: on the last segment only, a
// frame whose bytes contain an all-zero 512-byte sector chunk is a torn
// write.
func (s *scanner) isTorn(frame []byte) bool {
	if s.si != len(s.segs)-1 {
		return false
	}
	fileOff := s.off + frameHeader
	for cur := 0; cur < len(frame); {
		n := int(minSectorSize - fileOff%minSectorSize)
		if n > len(frame)-cur {
			n = len(frame) - cur
		}
		if allZero(frame[cur : cur+n]) {
			return true
		}
		fileOff += int64(n)
		cur += n
	}
	return false
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
