package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DefaultBufferSize is the reader's buffer size unless ReaderOptions says
// otherwise.
const DefaultBufferSize = 1 << 20

// Record is one legacy record.
//
// Raw and Payload are borrowed from the reader's buffer: they are valid only
// until the next call to [Reader.Next] (or [Reader.Close]). Copy them to keep
// them.
type Record struct {
	// File is the base name of the file holding the record.
	File string `json:"file"`
	// Offset is the byte offset of the record's header in File.
	Offset int64 `json:"offset"`
	// TS is the header timestamp, nanoseconds since the Unix epoch.
	TS int64 `json:"ts"`
	// Hash is the farmhash Fingerprint32 of the posting-list key.
	Hash uint32 `json:"hash"`
	// Size is the payload length.
	Size int32 `json:"size"`
	// Raw is the exact bytes of the record: header and payload.
	Raw []byte `json:"-"`
	// Payload is Raw[HeaderSize:], the flatbuffer types.Posting.
	Payload []byte `json:"-"`
}

// ReaderOptions configure a [Reader]. The zero value is ready to use.
type ReaderOptions struct {
	// Strict refuses a torn record at the end of the last file: Next stops
	// and Err returns a *CorruptError wrapping ErrTorn, instead of dropping
	// it with a CodeTornRecord warning.
	Strict bool
	// BufferSize is the initial buffer size (DefaultBufferSize if <= 0). The
	// buffer grows only to hold a record larger than it.
	BufferSize int
	// Decode decodes every payload with DecodePosting (see Reader.Posting).
	// An invalid payload is then a *CorruptError, except in the very last
	// record of the last file, where it is what a crash leaves when the file
	// system extended the file but the data never reached the disk: that
	// record is dropped like any torn tail (or refused with Strict).
	Decode bool
}

// Stats summarise what a [Reader] has read so far.
type Stats struct {
	// Files is the number of files opened.
	Files int `json:"files"`
	// Records is the number of complete records returned.
	Records int64 `json:"records"`
	// Bytes is the size of those records (headers and payloads).
	Bytes int64 `json:"bytes"`
	// FirstTS and LastTS are the header ts of the first and last record
	// returned (0 when none).
	FirstTS int64 `json:"first_ts"`
	LastTS  int64 `json:"last_ts"`
	// DroppedBytes is the size of the torn tail dropped from the last file,
	// at DroppedFile and DroppedOffset (0 and "" when none).
	DroppedBytes  int64  `json:"dropped_bytes"`
	DroppedFile   string `json:"dropped_file,omitempty"`
	DroppedOffset int64  `json:"dropped_offset,omitempty"`
}

// FileStats summarise one file once a [Reader] has read it.
type FileStats struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	Records int64  `json:"records"`
	FirstTS int64  `json:"first_ts,omitempty"`
	LastTS  int64  `json:"last_ts,omitempty"`
	// DroppedBytes is the size of a torn tail dropped from this file.
	DroppedBytes int64 `json:"dropped_bytes,omitempty"`
	// Included and EndTS are those of the listed File: a file read because
	// OpenOptions.Include names it, at that end timestamp.
	Included bool  `json:"included,omitempty"`
	EndTS    int64 `json:"end_ts,omitempty"`
}

// Reader streams the records of a [Dir] in order with constant memory: one
// buffer, reused for every record, that grows only for a record larger than
// it, and never beyond the size of the file holding that record.
//
// Use it as
//
//	r := d.NewReader(commitlog.ReaderOptions{})
//	defer r.Close()
//	for r.Next() {
//		rec := r.Record() // borrowed until the next call to Next
//	}
//	if err := r.Err(); err != nil { ... }
//
// A Reader is not safe for concurrent use.
type Reader struct {
	dir  *Dir
	opts ReaderOptions

	idx  int      // index in dir.Files of the open file; -1 before the first
	f    *os.File // open file, nil between files
	path string
	size int64 // bytes the open file has (fstat when opened)
	off  int64 // file offset of buf[pos]

	buf      []byte
	pos, end int // unconsumed bytes are buf[pos:end]

	rec  Record
	post Posting
	err  error
	done bool

	stats   Stats
	files   []FileStats
	ws      warnings
	prevTS  int64
	anyPrev bool
}

// NewReader returns a Reader positioned before the first record of d. It
// opens files lazily; call Close to release the open file early.
func (d *Dir) NewReader(opts ReaderOptions) *Reader {
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	r := &Reader{dir: d, opts: opts, idx: -1, buf: make([]byte, opts.BufferSize)}
	for _, w := range d.Warnings {
		r.ws.add(w)
	}
	return r
}

// Next advances to the next record, returning false at the end of the log or
// on error (see Err). It drops a torn tail of the last file (recording a
// warning and Stats.DroppedBytes) unless ReaderOptions.Strict is set.
func (r *Reader) Next() bool {
	if r.done {
		return false
	}
	for {
		if r.f == nil {
			if r.idx+1 >= len(r.dir.Files) {
				r.finish(nil)
				return false
			}
			if err := r.openNext(); err != nil {
				r.finish(err)
				return false
			}
		}
		ok, err := r.readRecord()
		if err != nil {
			r.finish(err)
			return false
		}
		if ok {
			return true
		}
		if err := r.closeFile(); err != nil {
			r.finish(err)
			return false
		}
	}
}

// Record returns the current record. Its Raw and Payload are valid until the
// next call to Next or Close.
func (r *Reader) Record() Record { return r.rec }

// Posting returns the decoded payload of the current record when
// ReaderOptions.Decode is set (the zero Posting otherwise). Its Value is
// borrowed like Record().Payload.
func (r *Reader) Posting() Posting { return r.post }

// Err returns the error that stopped Next, or nil at a clean end.
func (r *Reader) Err() error { return r.err }

// Stats returns what has been read so far.
func (r *Reader) Stats() Stats { return r.stats }

// BytesRead is the number of bytes consumed so far, dropped ones included.
func (r *Reader) BytesRead() int64 { return r.stats.Bytes + r.stats.DroppedBytes }

// FileStats returns one entry per file opened so far, in reading order.
func (r *Reader) FileStats() []FileStats { return r.files }

// Warnings returns the anomalies of the listing and of the records read so
// far, at most MaxWarningsPerCode of each code, in the order found.
func (r *Reader) Warnings() []Warning { return r.ws.list }

// WarningCounts returns the number of warnings of each code, including those
// beyond MaxWarningsPerCode that Warnings does not list.
func (r *Reader) WarningCounts() map[Code]int64 {
	m := make(map[Code]int64, len(r.ws.counts))
	for k, v := range r.ws.counts {
		m[k] = v
	}
	return m
}

// Close releases the open file. Next returns false afterwards. It is safe to
// call Close several times and after Next returned false.
func (r *Reader) Close() error {
	r.done = true
	r.rec, r.post = Record{}, Posting{}
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

func (r *Reader) finish(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
	if cerr := r.Close(); cerr != nil && r.err == nil {
		r.err = fmt.Errorf("commitlog: %w", cerr)
	}
}

func (r *Reader) isLast() bool { return r.idx == len(r.dir.Files)-1 }

func (r *Reader) cur() *FileStats { return &r.files[len(r.files)-1] }

func (r *Reader) openNext() error {
	r.idx++
	fl := r.dir.Files[r.idx]
	r.path = filepath.Join(r.dir.Path, fl.Name)
	f, err := os.Open(r.path)
	if err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("commitlog: %w", err)
	}
	r.f, r.size, r.off, r.pos, r.end = f, fi.Size(), 0, 0, 0
	r.stats.Files++
	r.files = append(r.files, FileStats{Name: fl.Name, Size: r.size, Included: fl.Included, EndTS: fl.EndTS})
	return nil
}

func (r *Reader) closeFile() error {
	fl := r.dir.Files[r.idx]
	fs := r.cur()
	if !fl.Current && fs.Records > 0 && fs.LastTS != fl.EndTS {
		r.ws.add(Warning{File: fl.Name, Offset: -1, Code: CodeNameTSMismatch, Message: fmt.Sprintf(
			"last record ts %#x, name says %#x", fs.LastTS, fl.EndTS)})
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	return nil
}

// readRecord decodes the record at r.off. It returns false at the clean end of
// the file (or after dropping a torn tail).
//
//	0        8        12       16            16+size
//	+--------+--------+--------+-------------+
//	| ts     | hash   | size   | payload     |
//	| i64 LE | u32 LE | i32 LE | size bytes  |
//	+--------+--------+--------+-------------+
//
// size is checked against the bytes left in the file before the buffer grows,
// so a corrupt size allocates nothing.
func (r *Reader) readRecord() (bool, error) {
	rest := r.size - r.off
	if rest == 0 {
		return false, nil
	}
	if rest < HeaderSize {
		return false, r.torn(rest, fmt.Sprintf("%d bytes, shorter than a record header", rest))
	}
	if err := r.fill(HeaderSize); err != nil {
		return false, err
	}
	h := r.buf[r.pos : r.pos+HeaderSize]
	ts := int64(binary.LittleEndian.Uint64(h[0:8]))
	hash := binary.LittleEndian.Uint32(h[8:12])
	size := int32(binary.LittleEndian.Uint32(h[12:16]))
	switch {
	case size < 0:
		return false, r.corrupt(fmt.Sprintf("negative payload size %d", size))
	case int64(size) > rest-HeaderSize:
		return false, r.torn(rest, fmt.Sprintf("payload size %d, but only %d bytes follow the header", size, rest-HeaderSize))
	case size == 0:
		if ts == 0 && hash == 0 && r.isLast() {
			// A zero-filled tail: space the file system allocated for a
			// write that a crash interrupted. Anything else is corrupt.
			off := r.off
			zero, err := r.restIsZero(rest)
			r.off = off
			if err != nil {
				return false, err
			}
			if zero {
				return false, r.torn(rest, fmt.Sprintf("%d zero bytes", rest))
			}
		}
		return false, r.corrupt("empty payload")
	}
	n := HeaderSize + int(size)
	if err := r.fill(n); err != nil {
		return false, err
	}
	raw := r.buf[r.pos : r.pos+n : r.pos+n]
	if r.opts.Decode {
		p, err := DecodePosting(raw[HeaderSize:])
		if err != nil {
			if r.isLast() && int64(n) == rest {
				return false, r.torn(rest, "last record's payload: "+err.Error())
			}
			return false, r.corrupt("payload: " + err.Error())
		}
		r.post = p
	}
	fl := r.dir.Files[r.idx]
	r.rec = Record{File: fl.Name, Offset: r.off, TS: ts, Hash: hash, Size: size, Raw: raw, Payload: raw[HeaderSize:]}
	if r.anyPrev && ts < r.prevTS {
		r.ws.add(Warning{File: fl.Name, Offset: r.off, Code: CodeDecreasingTS,
			Message: fmt.Sprintf("ts %#x after %#x", ts, r.prevTS)})
	}
	r.prevTS, r.anyPrev = ts, true
	r.pos += n
	r.off += int64(n)

	st := &r.stats
	if st.Records == 0 {
		st.FirstTS = ts
	}
	st.Records++
	st.Bytes += int64(n)
	st.LastTS = ts
	fs := r.cur()
	if fs.Records == 0 {
		fs.FirstTS = ts
	}
	fs.Records++
	fs.LastTS = ts
	return true, nil
}

// torn handles an incomplete record of rest bytes at r.off: dropped and
// reported at the end of the last file, an error anywhere else or in strict
// mode.
func (r *Reader) torn(rest int64, why string) error {
	if !r.isLast() {
		return r.corrupt(why + " (not the last file: a torn record can only be at the end of the log)")
	}
	if r.opts.Strict {
		return &CorruptError{Path: r.path, Offset: r.off, Reason: "torn record: " + why, Err: ErrTorn}
	}
	fl := r.dir.Files[r.idx]
	r.ws.add(Warning{File: fl.Name, Offset: r.off, Code: CodeTornRecord,
		Message: fmt.Sprintf("dropped %d bytes at the end of the log: %s", rest, why)})
	r.stats.DroppedBytes = rest
	r.stats.DroppedFile = fl.Name
	r.stats.DroppedOffset = r.off
	r.cur().DroppedBytes = rest
	r.off = r.size
	r.pos, r.end = 0, 0
	return nil
}

func (r *Reader) corrupt(why string) error {
	return &CorruptError{Path: r.path, Offset: r.off, Reason: why, Err: ErrCorrupt}
}

// fill makes buf[pos:pos+need] hold the next need bytes of the file. The
// caller guarantees need <= r.size-r.off, which bounds any growth of buf by
// the file's size.
func (r *Reader) fill(need int) error {
	if r.end-r.pos >= need {
		return nil
	}
	switch {
	case need > len(r.buf):
		nb := make([]byte, need)
		r.end = copy(nb, r.buf[r.pos:r.end])
		r.buf, r.pos = nb, 0
	case r.pos+need > len(r.buf):
		r.end = copy(r.buf, r.buf[r.pos:r.end])
		r.pos = 0
	}
	for r.end-r.pos < need {
		n, err := r.f.Read(r.buf[r.end:])
		r.end += n
		if r.end-r.pos >= need {
			return nil
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return r.corrupt(fmt.Sprintf("file ended before its size of %d bytes: changed while reading?", r.size))
		}
		if err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
	}
	return nil
}

// restIsZero reports whether the rest bytes from r.off to the end of the
// file are all zero. It reads through the buffer without growing it and
// consumes what it reads: the caller stops reading the file afterwards.
func (r *Reader) restIsZero(rest int64) (bool, error) {
	for rest > 0 {
		if r.end == r.pos {
			r.pos, r.end = 0, 0
		}
		chunk := int64(len(r.buf) - r.pos)
		if chunk > rest {
			chunk = rest
		}
		if err := r.fill(int(chunk)); err != nil {
			return false, err
		}
		for _, b := range r.buf[r.pos : r.pos+int(chunk)] {
			if b != 0 {
				return false, nil
			}
		}
		rest -= chunk
		// The bytes checked are not needed again unless they are not zero.
		r.pos += int(chunk)
		r.off += chunk
	}
	return true, nil
}
