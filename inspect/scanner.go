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
	// queue holds the background reads in flight, oldest first; free
	// the chunk buffers not in use; reqPos is where the next one starts;
	// link is what the newest read in flight hands to the next (see
	// crcAhead). See fill.
	queue  []*pendingRead
	free   []*chunkBuf
	reqPos int64
	link   chan aheadLink
	// cur is the chunk buffer s.buf is (nil for a buffer of another
	// size); hints are what the framing beside its read decoded (always of
	// the current segment: open drops them), hinti the first not yet
	// passed.
	cur   *chunkBuf
	hints []crcHint
	hinti int
	// hinted counts the records whose CRC came from a hint (for tests).
	hinted int64
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
		// No larger than the largest segment as listed (a file that grew
		// since is read in more chunks): a fleet of small groups would
		// otherwise allocate and clear 1.25 MiB a group, which was a
		// third of verify's time over 10,000 groups of 16 KiB segments.
		var largest int64
		for _, sg := range segs {
			largest = max(largest, sg.Size)
		}
		if largest > 0 && largest < defaultBufferSize {
			opts.BufferSize = int(max(largest, 4096)+4095) &^ 4095
		}
	}
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = defaultMaxRecord
	}
	return &scanner{segs: segs, opts: opts, buf: make([]byte, opts.BufferSize+opts.BufferSize/4)}
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
	s.settle()
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
	s.settle()
	s.hints, s.hinti, s.link = nil, 0, nil
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
//
// Reading overlaps decoding: once a segment's first chunk is in, the next
// chunk is read by a goroutine into the spare buffer while the caller
// decodes the current one, so the kernel's copy from the page cache runs on
// the other core. Each read is one goroutine that writes one result into a
// channel with room for it, so a scanner that is dropped mid-segment leaks
// nothing. The spare buffer keeps a headroom in front of where the read
// lands; the bytes of a record that straddles the two chunks are copied
// there, so the common case copies only that straddling record.
func (s *scanner) fill(n int) error {
	for s.w-s.r < n && !s.eof {
		if len(s.queue) > 0 {
			if err := s.take(n); err != nil {
				return err
			}
			continue
		}
		if n > len(s.buf)-s.r {
			if n > len(s.buf) {
				nb := make([]byte, n)
				s.w = copy(nb, s.buf[s.r:s.w])
				s.buf, s.r = nb, 0
			} else {
				s.w = copy(s.buf, s.buf[s.r:s.w])
				s.r = 0
			}
		}
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
		m, err := readAt(s.f, s.buf[s.w:s.w+int(room)], s.pos)
		if err := s.got(m, err); err != nil {
			return err
		}
		s.w += m
		s.prefetch()
	}
	return nil
}

// got accounts for a read of m bytes at pos that ended with err.
func (s *scanner) got(m int, err error) error {
	s.pos += int64(m)
	if s.opts.OnRead != nil && m > 0 {
		s.opts.OnRead(m)
	}
	if err == io.EOF || (err == nil && m == 0) {
		s.eof = true
		return nil
	}
	return err
}

// readResult is what one background read returns: the bytes it read and
// the records its framing decoded (see crcAhead).
type readResult struct {
	n     int
	err   error
	hints []crcHint
}

// chunkBuf is one reusable chunk buffer (headroom included) and the hint
// slice that goes with it.
type chunkBuf struct {
	b     []byte
	hints []crcHint
}

// pendingRead is a background read in flight into c.b[headroom:].
type pendingRead struct {
	c   *chunkBuf
	at  int64
	n   int
	res chan readResult
}

// aheadLink is what the framing beside one read hands to the next: its
// state, and the bytes from state.next to the end of its chunk (the start
// of the record that straddles the two), which alias its chunk buffer:
// that buffer is not reused before the next read is taken.
type aheadLink struct {
	st    crcAhead
	carry []byte
}

// readAhead is how many chunks are read in the background at once: two
// reads copy from the page cache on both cores while Next decodes.
const readAhead = 2

// headroom is the part of a chunk buffer kept free in front of a
// background read for the start of a record that straddles two chunks.
func (s *scanner) headroom() int { return s.opts.BufferSize / 4 }

// chunk returns a free chunk buffer.
func (s *scanner) chunk() *chunkBuf {
	if k := len(s.free); k > 0 {
		c := s.free[k-1]
		s.free = s.free[:k-1]
		return c
	}
	return &chunkBuf{b: make([]byte, s.headroom()+s.opts.BufferSize)}
}

// release gives a chunk buffer back (buffers of another size are left to
// the collector).
func (s *scanner) release(c *chunkBuf) {
	if c != nil && len(c.b) == s.headroom()+s.opts.BufferSize {
		s.free = append(s.free, c)
	}
}

// prefetch starts background reads of the next chunks of the file, up to
// readAhead in flight, until the size the file had at open. Each read is
// one goroutine that writes its result into a channel with room for it, so
// a scanner dropped mid-segment leaks nothing. After its read, each
// goroutine frames its chunk and computes the CRC chain over its records,
// continuing from the previous chunk's framing (crcAhead), which Next then
// takes instead of decoding the records itself.
func (s *scanner) prefetch() {
	if s.eof {
		return
	}
	h := s.headroom()
	if len(s.queue) == 0 {
		s.reqPos = s.pos
		// The first read of a run of reads frames from where Next
		// stands: the chain there is its own, the bytes it has not
		// passed are in s.buf.
		in := make(chan aheadLink, 1)
		in <- aheadLink{st: crcAhead{on: true, crc: s.crc, next: s.off}, carry: s.buf[s.r:s.w]}
		s.link = in
	}
	for len(s.queue) < readAhead && s.reqPos < s.size {
		c := s.chunk()
		dst := c.b[h:]
		if left := s.size - s.reqPos; left < int64(len(dst)) {
			dst = dst[:left]
		}
		p := &pendingRead{c: c, at: s.reqPos, n: len(dst), res: make(chan readResult, 1)}
		in, out := s.link, make(chan aheadLink, 1)
		s.link = out
		f, at, buf, hints := s.f, s.reqPos, c.b, c.hints[:0]
		go func() {
			m, err := readAt(f, dst, at)
			link := <-in
			st := link.st
			if err != nil && err != io.EOF {
				st.on = false
			}
			hints = st.run(link.carry, at, buf, h, m, hints)
			var carry []byte
			if st.next < at {
				// A frame longer than what this chunk completes: the
				// caller reads it whole, and the next read must not
				// look into this chunk's headroom, which the caller
				// fills when it takes the chunk.
				st.on = false
			}
			if st.on {
				carry = buf[h+int(st.next-at) : h+m]
			}
			out <- aheadLink{st: st, carry: carry}
			p.res <- readResult{n: m, err: err, hints: hints}
		}()
		s.queue = append(s.queue, p)
		s.reqPos += int64(len(dst))
	}
}

// take waits for the oldest background read and makes its bytes follow
// the unread ones; then it starts further reads unless n bytes are still
// beyond reach of one chunk (a record larger than the buffer is read in
// the caller's goroutine).
func (s *scanner) take(n int) error {
	p := s.queue[0]
	s.queue = s.queue[1:]
	res := <-p.res
	p.c.hints = res.hints
	h := s.headroom()
	left := s.w - s.r
	if left <= h {
		copy(p.c.b[h-left:h], s.buf[s.r:s.w])
		s.release(s.cur)
		s.cur, s.buf = p.c, p.c.b
		s.r, s.w = h-left, h+res.n
	} else {
		nb := make([]byte, max(n, left+res.n, len(s.buf)))
		copy(nb, s.buf[s.r:s.w])
		copy(nb[left:], p.c.b[h:h+res.n])
		// p.c is not released: the read after it may still be reading
		// the start of its straddling record from it.
		s.release(s.cur)
		s.cur, s.buf, s.r, s.w = nil, nb, 0, left+res.n
	}
	s.hints, s.hinti = res.hints, 0
	if err := s.got(res.n, res.err); err != nil {
		return err
	}
	if res.n < p.n {
		// The file shrank under the read: what follows is not there.
		s.eof = true
		s.settle()
		return nil
	}
	if n-(s.w-s.r) <= s.opts.BufferSize {
		s.prefetch()
	}
	return nil
}

// crcHint is one record as framed and decoded beside a read: its type,
// stored crc and data (dataLen -1 when it has no data field), the running
// CRC before it (pre) and after it (crc).
type crcHint struct {
	off              int64
	total            int32
	pre, crc, stored uint32
	dataLen          int32
	dataOff          uint16
	typ              uint8
}

// crcAhead frames a segment's records as a background read brings them
// in and computes their CRC chain, so that Next, on the other core, only
// compares. It is a hint, never a verdict: Next takes a hint only for the
// record at the same offset, of the same length, whose chain starts from
// the CRC Next has itself reached, and computes everything else itself.
// Framing stops (on is false) at anything but a plain record: a zero
// length word, a frame longer than what is read, a record that does not
// decode, a record above the scanner's limit.
type crcAhead struct {
	on bool
	// crc is the running CRC at next, the offset of the first frame not
	// yet framed.
	crc  uint32
	next int64
}

// run frames what lies between a.next and the end of the new chunk: first
// the bytes of prev (file offsets [at-len(prev), at)) that it has not
// framed, without hints, then, through a copy of the record that
// straddles the two into the headroom before the chunk at buf[h:h+m], the
// chunk itself, with a hint for every record.
func (a *crcAhead) run(prev []byte, at int64, buf []byte, h, m int, hints []crcHint) []crcHint {
	if !a.on {
		return hints
	}
	start := at - int64(len(prev))
	if a.next < start || a.next > at {
		a.on = false
		return hints
	}
	// The frames wholly inside prev (only when the framing starts anew).
	a.frame(prev[a.next-start:], a.next, nil)
	if !a.on {
		return hints
	}
	carry := at - a.next
	if carry > int64(h) {
		a.on = false
		return hints
	}
	lo := h - int(carry)
	copy(buf[lo:h], prev[len(prev)-int(carry):])
	a.frame(buf[lo:h+m], a.next, &hints)
	return hints
}

// frame walks the frames of b, which starts at file offset off == a.next,
// and advances a.next to the first frame b does not hold whole. With
// hints non-nil it records a hint per record.
func (a *crcAhead) frame(b []byte, off int64, hints *[]crcHint) {
	p := 0
	for a.on {
		if len(b)-p < frameHeader {
			break
		}
		l := binary.LittleEndian.Uint64(b[p:])
		if l == 0 {
			a.on = false
			break
		}
		recBytes := int64(l &^ (uint64(0xff) << 56))
		var padBytes int64
		if int64(l) < 0 {
			padBytes = int64((l >> 56) & 0x7)
		}
		if recBytes > defaultBufferSize {
			a.on = false
			break
		}
		total := frameHeader + recBytes + padBytes
		if int64(len(b)-p) < total {
			break
		}
		rec := b[p+frameHeader : p+frameHeader+int(recBytes)]
		typ, crc, data, err := parseRecord(rec)
		if err != nil {
			a.on = false
			break
		}
		pre := a.crc
		if typ == crcRecord {
			a.crc = crc
		} else {
			a.crc = crc32.Update(a.crc, crcTable, data)
		}
		if hints != nil && typ >= 0 && typ <= 0xff && (data == nil || cap(rec)-cap(data) <= 0xffff) {
			// (A hint holds a frame of at most a chunk, a type etcd
			// writes and data a few tag bytes into the record.)
			// Filled in place (see decode: no struct copied).
			*hints = append(*hints, crcHint{})
			h := &(*hints)[len(*hints)-1]
			h.off, h.total, h.pre, h.crc, h.stored, h.typ, h.dataLen = off+int64(p), int32(total), pre, a.crc, crc, uint8(typ), -1
			if data != nil {
				h.dataOff, h.dataLen = uint16(cap(rec)-cap(data)), int32(len(data))
			}
		}
		p += int(total)
	}
	a.next = off + int64(p)
}

// hint returns the record a background read decoded, with its CRC chain,
// at the current offset with total bytes, if its chain starts from the CRC
// the scan has reached; nil otherwise. The bytes are the same ones Next
// would decode (the read filled the very buffer Next reads), so the record
// is the same. (A pointer, not a copy: see decode.)
func (s *scanner) hint(total int64) *crcHint {
	for s.hinti < len(s.hints) && s.hints[s.hinti].off < s.off {
		s.hinti++
	}
	if s.hinti < len(s.hints) {
		if h := &s.hints[s.hinti]; h.off == s.off && int64(h.total) == total && h.pre == s.crc {
			s.hinti++
			s.hinted++
			return h
		}
	}
	return nil
}

// settle waits for the background reads still in flight and drops
// them, so that their buffers can be reused or the scan can end.
func (s *scanner) settle() {
	for _, p := range s.queue {
		<-p.res
		s.release(p.c)
	}
	s.queue, s.link = s.queue[:0], nil
}

// Next decodes the next record. It returns false at the end of the log or
// on an error (see Err).
func (s *scanner) Next() bool {
	if s.done {
		return false
	}
	for {
		l, st := s.lengthWord()
		switch st {
		case wordFailed:
			return false
		case wordSegmentEnd:
			continue
		}
		recBytes, total, ok := s.frame(l)
		if !ok {
			return false
		}
		return s.decode(recBytes, total)
	}
}

// wordState is what lengthWord found.
type wordState int

const (
	wordOK wordState = iota
	// wordSegmentEnd: the segment ended (end of file or a zero length
	// word); the scan moves on to the next one.
	wordSegmentEnd
	// wordFailed: the scan ended, cleanly or with Err set.
	wordFailed
)

// lengthWord opens the next segment if needed and reads the length word
// of the next frame: etcd's decoder moves on to the next segment at the end
// of a file or at a zero length word.
func (s *scanner) lengthWord() (uint64, wordState) {
	if s.f == nil {
		if s.si >= len(s.segs) {
			s.done = true
			return 0, wordFailed
		}
		if !s.open() {
			return 0, wordFailed
		}
	}
	if s.w-s.r < frameHeader {
		if err := s.fill(frameHeader); err != nil {
			s.fail(KindIO, s.off, "read: %v", err)
			return 0, wordFailed
		}
	}
	avail := s.w - s.r
	if avail == 0 {
		s.endSegment(false)
		return 0, wordSegmentEnd
	}
	if avail < frameHeader {
		s.fail(KindTorn, s.off, "file ends %d bytes into a length word (want 8 bytes)", avail)
		return 0, wordFailed
	}
	l := binary.LittleEndian.Uint64(s.buf[s.r:])
	if l == 0 {
		s.endSegment(true)
		return 0, wordSegmentEnd
	}
	return l, wordOK
}

// frame checks the frame that length word l announces against the file
// and brings all of it into the buffer: a frame that does not fit in the
// file is a torn write, one above MaxRecord is malformed unless its first
// sector is zero.
func (s *scanner) frame(l uint64) (recBytes int64, total int, ok bool) {
	recBytes = int64(l &^ (uint64(0xff) << 56))
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
		return 0, 0, s.fail(KindTorn, s.off, "record length %d (+%d padding) exceeds the %d bytes left in the file", recBytes, padBytes, s.size-s.off-frameHeader)
	}
	if recBytes > s.opts.MaxRecord {
		// Look at the first sector only: zeros on the last segment are
		// a torn write to etcd; anything else is a length word no
		// writer produced.
		if err := s.fill(frameHeader + minSectorSize); err != nil {
			return 0, 0, s.fail(KindIO, s.off, "read: %v", err)
		}
		n := int(minSectorSize - (s.off+frameHeader)%minSectorSize) // to the sector's end
		if s.isTorn(s.buf[s.r+frameHeader : min(s.w, s.r+frameHeader+n)]) {
			return 0, 0, s.fail(KindTorn, s.off, "record length %d holds an all-zero sector (torn write)", recBytes)
		}
		return 0, 0, s.fail(KindMalformed, s.off, "record length %d exceeds raftctl's limit of %d bytes", recBytes, s.opts.MaxRecord)
	}
	total = int(frameHeader + recBytes + padBytes)
	if s.w-s.r < total {
		if err := s.fill(total); err != nil {
			return 0, 0, s.fail(KindIO, s.off, "read: %v", err)
		}
		if s.w-s.r < total {
			return 0, 0, s.fail(KindTorn, s.off, "file ends inside a record of %d bytes", recBytes)
		}
	}
	return recBytes, total, true
}

// decode decodes the frame of total bytes at the scan's position (taking
// what the framing beside the read decoded, see hint), checks its CRC
// against the chain and makes it the current record.
func (s *scanner) decode(recBytes int64, total int) bool {
	frame := s.buf[s.r+frameHeader : s.r+total]
	var (
		typ  RecordType
		crc  uint32
		data []byte
		err  error
	)
	h := s.hint(int64(total))
	hinted := h != nil
	if hinted {
		typ, crc = RecordType(h.typ), h.stored
		if h.dataLen >= 0 {
			data = frame[h.dataOff : int(h.dataOff)+int(h.dataLen)]
		}
	} else {
		typ, crc, data, err = parseRecord(frame[:recBytes])
	}
	if err != nil {
		if s.isTorn(frame) {
			return s.fail(KindTorn, s.off, "record of %d bytes holds an all-zero sector (torn write)", recBytes)
		}
		return s.fail(KindMalformed, s.off, "record does not decode as walpb.Record: %v", err)
	}
	if typ != crcRecord {
		if hinted {
			s.crc = h.crc
		} else {
			s.crc = crc32.Update(s.crc, crcTable, data)
		}
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
	// Field by field: a composite literal is built on the stack and
	// copied in 16-byte moves that cannot take their bytes from the
	// 8-byte stores just made, a stall on every record (perf: a sixth
	// of Next at 100-byte entries).
	rec := &s.rec
	rec.Type, rec.CRC, rec.Data, rec.Segment = typ, crc, data, s.si
	rec.Offset, rec.FrameSize, rec.Seq = s.off, int64(total), s.seq
	s.r += total
	s.off += int64(total)
	s.seq++
	s.nrecs++
	return true
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
