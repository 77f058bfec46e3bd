package inspect

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// verifyTail is what lies in a segment past the end of its log.
type verifyTail struct {
	// nonZero is the offset of the first non-zero 8-byte word, -1 if all
	// the bytes are zero.
	nonZero int64
	// recAt is the offset of the first frame from which WAL records
	// decode (see verifyTryRecords), -1 if none; recs is how many were
	// checked there (at most verifyMaxProbe).
	recAt int64
	recs  int
}

// verifyTailBuffer is the read size used past the log's end.
const verifyTailBuffer = 256 << 10

// verifyMaxProbe bounds the records decoded at a candidate frame.
const verifyMaxProbe = 4

// verifyScanTail reads path from from (rounded up to a multiple of 8, as
// frames are 8-aligned) to size, looking for non-zero bytes and for WAL
// records. It reads through fixed buffers, so its memory does not grow
// with the segment.
//
// A long tail (the last segment's preallocated zeros are most of a
// segment) is read in two halves at once, one on each core: the first
// half's finding comes first, as it would in one pass, since a candidate
// frame is checked against the whole file wherever it starts.
func verifyScanTail(seg Segment, from, size int64) (verifyTail, error) {
	from = (from + 7) &^ 7
	if from >= size {
		return verifyTail{nonZero: -1, recAt: -1}, nil
	}
	f, done, err := seg.openRead()
	if err != nil {
		return verifyTail{nonZero: -1, recAt: -1}, err
	}
	defer done()
	if size-from < verifyTailSplit {
		return verifyScanRange(f, from, size, size)
	}
	mid := from + (size-from)/2&^(verifyTailBuffer-1)
	type half struct {
		t   verifyTail
		err error
	}
	second := make(chan half, 1)
	go func() {
		t, err := verifyScanRange(f, mid, size, size)
		second <- half{t, err}
	}()
	t, err := verifyScanRange(f, from, mid, size)
	h := <-second
	switch {
	case err != nil || t.recAt >= 0:
		return t, err
	case h.err != nil:
		return t, h.err
	}
	if t.nonZero < 0 {
		t.nonZero = h.t.nonZero
	}
	t.recAt, t.recs = h.t.recAt, h.t.recs
	return t, nil
}

// verifyTailSplit is the tail length from which verifyScanTail reads two
// halves at once.
const verifyTailSplit = 4 << 20

// verifyScanRange is verifyScanTail over [from, end) of a file of size
// bytes; from and end are multiples of 8.
func verifyScanRange(f *os.File, from, end, size int64) (verifyTail, error) {
	t := verifyTail{nonZero: -1, recAt: -1}
	buf := make([]byte, min(int64(verifyTailBuffer), end-from))
	for base := from; base < end; {
		n := int(min(int64(len(buf)), end-base))
		m, err := readAt(f, buf[:n], base)
		if err != nil && err != io.EOF {
			return t, err
		}
		if m == 0 {
			// The file shrank since it was listed.
			return t, nil
		}
		b := buf[:m]
		i := 0
		for ; i+64 <= len(b); i += 64 {
			if allZero(b[i : i+64]) {
				continue
			}
			for j := i; j < i+64; j += 8 {
				if w := binary.LittleEndian.Uint64(b[j:]); w != 0 {
					if t.nonZero < 0 {
						t.nonZero = base + int64(j)
					}
					if verifyPlausibleLength(w, size-base-int64(j)) {
						if n := verifyTryRecords(f, base+int64(j), size); n > 0 {
							t.recAt, t.recs = base+int64(j), n
							return t, nil
						}
					}
				}
			}
		}
		for ; i < len(b); i += 8 {
			if i+8 > len(b) {
				if !allZero(b[i:]) && t.nonZero < 0 {
					t.nonZero = base + int64(i)
				}
				break
			}
			if w := binary.LittleEndian.Uint64(b[i:]); w != 0 {
				if t.nonZero < 0 {
					t.nonZero = base + int64(i)
				}
				if verifyPlausibleLength(w, size-base-int64(i)) {
					if n := verifyTryRecords(f, base+int64(i), size); n > 0 {
						t.recAt, t.recs = base+int64(i), n
						return t, nil
					}
				}
			}
		}
		base += int64(m)
	}
	return t, nil
}

// verifyFrameSize splits a length word as etcd's encoder writes it: the
// record's size in the low 56 bits, and when the top bit is set the number
// of padding bytes (1 to 7) in bits 56-58.
func verifyFrameSize(w uint64) (rec, pad int64) {
	rec = int64(w &^ (uint64(0xff) << 56))
	if int64(w) < 0 {
		pad = int64((w >> 56) & 7)
	}
	return rec, pad
}

// verifyPlausibleLength tells whether w could be a length word etcd wrote
// for a frame that fits in left bytes: the padding is flagged exactly when
// the record size is not a multiple of 8 and makes the frame 8-aligned,
// and the record holds at least a type field.
func verifyPlausibleLength(w uint64, left int64) bool {
	top := w >> 56
	rec, pad := verifyFrameSize(w)
	switch {
	case top == 0:
		if rec%8 != 0 {
			return false
		}
	case top&0xf8 == 0x80 && pad != 0:
		if (rec+pad)%8 != 0 {
			return false
		}
	default:
		return false
	}
	return rec >= 2 && rec <= left-frameHeader-pad
}

// verifyTryRecords decodes up to verifyMaxProbe consecutive frames at off
// and returns how many form a run of WAL records as etcd writes them
// (type, then crc, then data; a payload that decodes as its type; each
// CRC continuing the chain from the record before). It returns 0 unless
// at least two records chain, or a single record other than a crc record
// is followed by zeros or the end of the file.
func verifyTryRecords(f *os.File, off, size int64) int {
	var (
		prev     uint32
		n        int
		first    RecordType
		clean    bool
		frameBuf []byte
	)
	for n < verifyMaxProbe {
		typ, crc, data, next, end, ok := verifyReadFrame(f, off, size, &frameBuf)
		if end {
			clean = true
			break
		}
		if !ok {
			break
		}
		if n > 0 {
			want := prev
			if typ != crcRecord {
				want = crc32.Update(prev, crcTable, data)
			}
			if crc != want {
				break
			}
		} else {
			first = typ
		}
		prev = crc
		n++
		off = next
	}
	switch {
	case n >= 2:
		return n
	case n == 1 && clean && first != crcRecord:
		return 1
	}
	return 0
}

// verifyReadFrame reads the frame at off for verifyTryRecords: end is set
// at a zero length word or the end of the file; ok when a record as etcd
// writes it is there (its type, crc and data, read into *buf; its payload
// decodes as its type), next being the offset of the frame after it.
func verifyReadFrame(f *os.File, off, size int64, buf *[]byte) (typ RecordType, crc uint32, data []byte, next int64, end, ok bool) {
	var word [frameHeader]byte
	if off+frameHeader > size {
		return 0, 0, nil, 0, true, false
	}
	if _, err := f.ReadAt(word[:], off); err != nil {
		return 0, 0, nil, 0, false, false
	}
	w := binary.LittleEndian.Uint64(word[:])
	if w == 0 {
		return 0, 0, nil, 0, true, false
	}
	if !verifyPlausibleLength(w, size-off) {
		return 0, 0, nil, 0, false, false
	}
	rec, pad := verifyFrameSize(w)
	// etcd marshals type, crc and data in that order: check the first
	// bytes before reading a frame of any size.
	var prefix [3]byte
	if _, err := f.ReadAt(prefix[:], off+frameHeader); err != nil {
		return 0, 0, nil, 0, false, false
	}
	if prefix[0] != 0x08 || prefix[1] < byte(metadataRecord) || prefix[1] > byte(snapshotRecord) || prefix[2] != 0x10 {
		return 0, 0, nil, 0, false, false
	}
	if int64(cap(*buf)) < rec {
		*buf = make([]byte, rec)
	}
	frame := (*buf)[:rec]
	if _, err := f.ReadAt(frame, off+frameHeader); err != nil {
		return 0, 0, nil, 0, false, false
	}
	typ, crc, data, err := parseRecord(frame)
	if err != nil {
		return 0, 0, nil, 0, false, false
	}
	var e Entry
	switch typ {
	case entryRecord:
		err = parseEntry(data, &e)
	case stateRecord:
		_, err = parseHardState(data)
	case snapshotRecord:
		_, err = parseWALSnapshot(data)
	case crcRecord:
		if len(data) != 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		return 0, 0, nil, 0, false, false
	}
	return typ, crc, data, off + frameHeader + rec + pad, false, true
}

// verifyFrameHasZeroSector tells whether the frame at off holds an
// all-zero piece of a 512-byte sector, as etcd's decoder checks for torn
// writes (decoder.isTornEntry). It returns false when the frame does not
// fit in the file.
func verifyFrameHasZeroSector(seg Segment, off, size int64) (bool, error) {
	f, done, err := seg.openRead()
	if err != nil {
		return false, err
	}
	defer done()
	var hdr [frameHeader]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	rec, pad := verifyFrameSize(binary.LittleEndian.Uint64(hdr[:]))
	start := off + frameHeader
	end := start + rec + pad
	if rec < 0 || end > size || end < start {
		return false, nil
	}
	buf := make([]byte, min(int64(verifyTailBuffer), end-start))
	for pos := start; pos < end; {
		n := int(min(int64(len(buf)), end-pos))
		// Keep chunks sector-aligned so that no sector piece straddles
		// two reads.
		if n < int(end-pos) {
			n -= int((pos + int64(n)) % minSectorSize)
		}
		m, err := f.ReadAt(buf[:n], pos)
		if err != nil && err != io.EOF {
			return false, err
		}
		if m == 0 {
			return false, nil
		}
		b := buf[:m]
		for cur := 0; cur < len(b); {
			k := int(minSectorSize - (pos+int64(cur))%minSectorSize)
			k = min(k, len(b)-cur)
			if allZero(b[cur : cur+k]) {
				return true, nil
			}
			cur += k
		}
		pos += int64(m)
	}
	return false, nil
}

// verifyPeekWord reads the 8-byte word at off, if the file holds one
// before size.
func verifyPeekWord(f *os.File, off, size int64) (uint64, bool) {
	if off+frameHeader > size {
		return 0, false
	}
	var b [frameHeader]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}

// verifyFrameEnd returns the end of the frame at off as its length word
// gives it, -1 if the word cannot be read.
func verifyFrameEnd(seg Segment, off int64) int64 {
	f, done, err := seg.openRead()
	if err != nil {
		return -1
	}
	defer done()
	w, ok := verifyPeekWord(f, off, math.MaxInt64)
	if !ok {
		return -1
	}
	rec, pad := verifyFrameSize(w)
	return off + frameHeader + rec + pad
}
