// Package legacytest writes legacy commit log directories byte for byte as
// the original Dgraph writer did (shared/formats/commitlog.md), including the
// damage its rotation race and crashes left behind: 0-byte rotated files,
// oversize files, a torn last record, equal and decreasing timestamps.
//
// It is a test helper: fixtures are deterministic for a given input, and
// nothing here is used by raftctl at run time.
package legacytest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	farm "github.com/dgryski/go-farm"
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/raftctl/raftctl/migrate/commitlog"
)

// GoldenTS is the header ts of the spec's golden record,
// 2016-09-01T00:00:00Z.
const GoldenTS int64 = 0x147009eef0fb0000

// GoldenRecord returns the spec's golden record (80 bytes):
// friend(uid 1) -> uid 42, Set, empty label, ts GoldenTS, posting ts
// GoldenTS-500.
func GoldenRecord() []byte {
	return EncodeRecord(GoldenTS, Hash(EdgeKey("friend", 1)),
		EncodePosting(commitlog.Posting{UID: 42, TS: GoldenTS - 500, Op: commitlog.OpSet}))
}

// EdgeKey returns the posting-list key attr + "|" + LE uint64(uid) that the
// writer hashed (from 2016-03-24; before, without the "|").
func EdgeKey(attr string, uid uint64) []byte {
	k := make([]byte, 0, len(attr)+9)
	k = append(k, attr...)
	k = append(k, '|')
	return binary.LittleEndian.AppendUint64(k, uid)
}

// Hash is the header hash of a key: farmhash Fingerprint32.
func Hash(key []byte) uint32 { return farm.Fingerprint32(key) }

// EncodePosting builds the flatbuffer types.Posting in the original writer's
// order: CreateByteVector(value) if non-empty, CreateString(source),
// StartObject(5), slots value, uid, source, ts, op, EndObject, Finish.
func EncodePosting(p commitlog.Posting) []byte {
	b := flatbuffers.NewBuilder(64 + len(p.Value) + len(p.Source))
	return encodePosting(b, p)
}

func encodePosting(b *flatbuffers.Builder, p commitlog.Posting) []byte {
	var val flatbuffers.UOffsetT
	if len(p.Value) > 0 {
		val = b.CreateByteVector(p.Value)
	}
	src := b.CreateString(p.Source)
	b.StartObject(5)
	if len(p.Value) > 0 {
		b.PrependUOffsetTSlot(1, val, 0)
	}
	b.PrependUint64Slot(0, p.UID, 0)
	b.PrependUOffsetTSlot(2, src, 0)
	b.PrependInt64Slot(3, p.TS, 0)
	b.PrependByteSlot(4, byte(p.Op), 0)
	b.Finish(b.EndObject())
	return b.FinishedBytes()
}

// EncodeRecord returns the 16-byte header followed by payload.
func EncodeRecord(ts int64, hash uint32, payload []byte) []byte {
	return AppendRecord(make([]byte, 0, commitlog.HeaderSize+len(payload)), ts, hash, payload)
}

// AppendRecord appends the record to dst.
func AppendRecord(dst []byte, ts int64, hash uint32, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	dst = binary.LittleEndian.AppendUint32(dst, hash)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(len(payload))))
	return append(dst, payload...)
}

// Options configure a [Writer].
type Options struct {
	// Prefix is the file prefix (commitlog.DefaultPrefix if "").
	Prefix string
	// RotateLimit is the rotation size (commitlog.RotateLimit if 0). Tests
	// use small values to rotate often.
	RotateLimit int64
	// KeepRecords keeps a copy of every complete record written, in order
	// (see Writer.Records).
	KeepRecords bool
	// Manifest keeps a [Manifest] of the files and records written (see
	// Writer.Manifest).
	Manifest bool
}

// Writer appends records to a legacy directory like the original logger:
// before appending a record of payload size N it rotates if
// size+16+N > RotateLimit (renaming <prefix>-current.log to
// <prefix>-<hex ts of its last record>.log and creating an empty current
// file). Unlike the original it syncs nothing and never races.
type Writer struct {
	dir, prefix string
	limit       int64
	noRotate    bool
	keep        bool

	cur     *os.File
	bw      *bufio.Writer // buffers cur; flushed at rotation and Close
	size    int64
	lastTS  int64 // ts of the last record in the current file
	records [][]byte
	written int64
	n       int64     // complete records written
	man     *Manifest // with Options.Manifest
}

// NewWriter creates dir if needed and an empty current file in it (an
// existing current file is truncated).
func NewWriter(dir string, opts Options) (*Writer, error) {
	if opts.Prefix == "" {
		opts.Prefix = commitlog.DefaultPrefix
	}
	if opts.RotateLimit == 0 {
		opts.RotateLimit = commitlog.RotateLimit
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, prefix: opts.Prefix, limit: opts.RotateLimit, keep: opts.KeepRecords}
	if opts.Manifest {
		w.man = &Manifest{Files: []ManifestFile{}}
	}
	if err := w.create(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) create() error {
	f, err := os.Create(filepath.Join(w.dir, commitlog.CurrentName(w.prefix)))
	if err != nil {
		return err
	}
	w.cur, w.size, w.lastTS = f, 0, 0
	if w.man != nil {
		w.man.Files = append(w.man.Files, ManifestFile{Name: commitlog.CurrentName(w.prefix), Records: []ManifestRecord{}})
	}
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 256<<10)
	} else {
		w.bw.Reset(f)
	}
	return nil
}

// SetRotation turns rotation off (to grow an oversize file) or back on.
func (w *Writer) SetRotation(on bool) { w.noRotate = !on }

// Append appends one record, rotating first if the limit requires it (never
// rotating an empty current file: a record larger than the limit then makes
// an oversize file, as in the original).
func (w *Writer) Append(ts int64, hash uint32, payload []byte) error {
	if !w.noRotate && w.size > 0 && w.size+commitlog.HeaderSize+int64(len(payload)) > w.limit {
		if err := w.Rotate(); err != nil {
			return err
		}
	}
	rec := EncodeRecord(ts, hash, payload)
	if _, err := w.bw.Write(rec); err != nil {
		return err
	}
	w.size += int64(len(rec))
	w.written += int64(len(rec))
	w.n++
	w.lastTS = ts
	if w.keep {
		w.records = append(w.records, rec)
	}
	if w.man != nil {
		f := &w.man.Files[len(w.man.Files)-1]
		f.Records = append(f.Records, manifestRecord(rec))
		w.man.Count++
		w.man.Bytes += int64(len(rec))
	}
	return nil
}

// AppendPosting appends a record for posting p on key.
func (w *Writer) AppendPosting(ts int64, key []byte, p commitlog.Posting) error {
	return w.Append(ts, Hash(key), EncodePosting(p))
}

// AppendTorn writes only the first keep bytes of the record, as a crash
// between write(2) and its completion would leave them. It is not kept in
// Records. Write nothing after it to model a torn last record.
func (w *Writer) AppendTorn(ts int64, hash uint32, payload []byte, keep int) error {
	rec := EncodeRecord(ts, hash, payload)
	if keep <= 0 || keep >= len(rec) {
		return fmt.Errorf("legacytest: keep %d not in 1..%d", keep, len(rec)-1)
	}
	_, err := w.bw.Write(rec[:keep])
	w.size += int64(keep)
	if w.man != nil {
		w.man.TornBytes = keep
	}
	return err
}

// AppendBytes writes b verbatim to the current file (for corruption tests).
func (w *Writer) AppendBytes(b []byte) error {
	_, err := w.bw.Write(b)
	w.size += int64(len(b))
	return err
}

// Rotate renames the current file to its end-timestamp name and creates an
// empty current file. The current file must hold a record.
func (w *Writer) Rotate() error {
	if w.size == 0 {
		return errors.New("legacytest: rotating an empty current file")
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if err := w.cur.Close(); err != nil {
		return err
	}
	from := filepath.Join(w.dir, commitlog.CurrentName(w.prefix))
	to := filepath.Join(w.dir, commitlog.RotatedName(w.prefix, w.lastTS))
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("legacytest: %s exists", to)
	}
	if err := os.Rename(from, to); err != nil {
		return err
	}
	if w.man != nil {
		w.man.Files[len(w.man.Files)-1].Name = filepath.Base(to)
	}
	return w.create()
}

// AddEmptyRotated creates a 0-byte rotated file named for endTS, as the
// original's rotation race left behind.
func (w *Writer) AddEmptyRotated(endTS int64) error {
	p := filepath.Join(w.dir, commitlog.RotatedName(w.prefix, endTS))
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("legacytest: %s exists", p)
	}
	if w.man != nil { // before the current file, which stays last
		w.man.Files = slices.Insert(w.man.Files, len(w.man.Files)-1, ManifestFile{Name: filepath.Base(p), Records: []ManifestRecord{}})
	}
	return os.WriteFile(p, nil, 0o644)
}

// Manifest returns the files and records written, in reading order (only
// with Options.Manifest).
func (w *Writer) Manifest() *Manifest {
	if w.man != nil {
		w.man.sortFiles(w.prefix)
	}
	return w.man
}

// Records returns the complete records written, in order (only with
// Options.KeepRecords).
func (w *Writer) Records() [][]byte { return w.records }

// Count is the number of complete records written.
func (w *Writer) Count() int64 { return w.n }

// Written is the number of bytes of complete records written.
func (w *Writer) Written() int64 { return w.written }

// Close flushes and closes the current file. Files are complete only after
// Close.
func (w *Writer) Close() error {
	if w.cur == nil {
		return nil
	}
	err := w.bw.Flush()
	if cerr := w.cur.Close(); err == nil {
		err = cerr
	}
	w.cur = nil
	return err
}

// Config describes a generated instance directory for [Generate].
type Config struct {
	// Prefix, RotateLimit: as in Options.
	Prefix      string
	RotateLimit int64
	// Records is the number of records to write; if 0, records are written
	// until Bytes bytes have been.
	Records int
	Bytes   int64
	// Seed makes the content reproducible.
	Seed uint64
	// StartTS is the first header ts (GoldenTS if 0). Each record adds
	// 1 to 1000 µs.
	StartTS int64
	// EqualTSEvery makes every n-th record reuse the previous header ts.
	EqualTSEvery int
	// DecreaseTSEvery makes every n-th record go back 100 µs from the
	// previous one (the small inversions of pre-v0.3 data). Records advance
	// 0.5 ms on average, so rotated files keep their writing order.
	DecreaseTSEvery int
	// EmptyRotatedEvery adds a 0-byte rotated file after every n-th rotation.
	EmptyRotatedEvery int
	// OversizeFirst disables rotation until the first file exceeds
	// RotateLimit by OversizeFirst bytes.
	OversizeFirst int64
	// TornBytes, if > 0, ends the last file with the first TornBytes bytes
	// of one more record (at most its size minus 1).
	TornBytes int
	// KeepRecords keeps every complete record in Fixture.Records.
	KeepRecords bool
	// Manifest fills Fixture.Manifest.
	Manifest bool
}

// Fixture describes what Generate wrote.
type Fixture struct {
	Dir string
	// Records are the complete records in reading order (with KeepRecords).
	Records [][]byte
	// Count and Bytes are the number and size of the complete records.
	Count int64
	Bytes int64
	// FirstTS and LastTS are the header ts of the first and last record.
	FirstTS, LastTS int64
	// TornBytes is the size of the torn tail written.
	TornBytes int
	// Manifest lists the files and records written (with Config.Manifest).
	Manifest *Manifest
}

// Generate writes a reproducible instance directory at dir: a mix of the
// spec's typical records (uid edges without label, short value edges, 100 B
// values with a label; 80, 96 and 192 bytes).
func Generate(dir string, c Config) (*Fixture, error) {
	if c.Records == 0 && c.Bytes == 0 {
		return nil, errors.New("legacytest: Config.Records or Config.Bytes required")
	}
	if c.StartTS == 0 {
		c.StartTS = GoldenTS
	}
	w, err := NewWriter(dir, Options{Prefix: c.Prefix, RotateLimit: c.RotateLimit, KeepRecords: c.KeepRecords, Manifest: c.Manifest})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if c.OversizeFirst > 0 {
		w.SetRotation(false)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	b := flatbuffers.NewBuilder(512)
	fx := &Fixture{Dir: dir, FirstTS: c.StartTS}
	ts := c.StartTS
	rotations := 0
	value := make([]byte, 100)
	attrs := []string{"name", "friend", "age", "follows", "description"}
	for i := 0; ; i++ {
		if c.Records > 0 && i >= c.Records || c.Records == 0 && w.Written() >= c.Bytes {
			break
		}
		switch {
		case i == 0:
		case c.EqualTSEvery > 0 && i%c.EqualTSEvery == 0:
		case c.DecreaseTSEvery > 0 && i%c.DecreaseTSEvery == 0:
			ts -= 100e3
		default:
			ts += 1000 + rng.Int64N(1e6)
		}
		p, key := randomPosting(rng, attrs, value, ts)
		b.Reset()
		payload := encodePosting(b, p)
		if c.OversizeFirst > 0 && w.noRotate && w.size > w.limit+c.OversizeFirst {
			w.SetRotation(true)
		}
		before := w.size
		if err := w.Append(ts, Hash(key), payload); err != nil {
			return nil, err
		}
		if w.size < before { // rotated
			rotations++
			if c.EmptyRotatedEvery > 0 && rotations%c.EmptyRotatedEvery == 0 {
				// A 0-byte file named like the rotated one before it, plus
				// one: the race renamed a freshly created current file.
				if err := w.AddEmptyRotated(ts - 1); err != nil {
					return nil, err
				}
			}
		}
		fx.LastTS = ts
	}
	if c.TornBytes > 0 {
		p, key := randomPosting(rng, attrs, value, ts+1)
		b.Reset()
		payload := encodePosting(b, p)
		if c.TornBytes >= commitlog.HeaderSize+len(payload) {
			return nil, fmt.Errorf("legacytest: TornBytes %d not below the record size %d", c.TornBytes, commitlog.HeaderSize+len(payload))
		}
		if err := w.AppendTorn(ts+1, Hash(key), payload, c.TornBytes); err != nil {
			return nil, err
		}
		fx.TornBytes = c.TornBytes
	}
	fx.Records = w.Records()
	fx.Manifest = w.Manifest()
	fx.Bytes = w.Written()
	fx.Count = w.Count()
	return fx, w.Close()
}

func randomPosting(rng *rand.Rand, attrs []string, value []byte, ts int64) (commitlog.Posting, []byte) {
	attr := attrs[rng.IntN(len(attrs))]
	subject := 1 + rng.Uint64N(1<<20)
	p := commitlog.Posting{TS: ts - rng.Int64N(1000), Op: commitlog.OpSet}
	if rng.IntN(16) == 0 {
		p.Op = commitlog.OpDel
	}
	switch k := rng.IntN(10); {
	case k < 5: // uid edge without label: 80 B
		p.UID = 1 + rng.Uint64N(1<<32)
	case k < 8: // short value edge: 96 B
		p.UID = commitlog.ValueUID
		n := 1 + rng.IntN(16)
		for i := range value[:n] {
			value[i] = byte('a' + rng.IntN(26))
		}
		p.Value = value[:n]
	default: // 100 B value with a label: 192 B
		p.UID = commitlog.ValueUID
		for i := range value {
			value[i] = byte(rng.Uint32())
		}
		p.Value = value
		p.Source = "rdf"
	}
	return p, EdgeKey(attr, subject)
}

// ParseHexDump parses the output of hexdump -C / the spec's dumps: lines of
// an 8-hex-digit offset followed by up to 16 hex bytes (an optional |ascii|
// column and lines starting with '#' are ignored). Offsets must be
// contiguous.
func ParseHexDump(text string) ([]byte, error) {
	var out []byte
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if j := strings.IndexByte(line, '|'); j >= 0 {
			line = line[:j]
		}
		fields := strings.Fields(line)
		off, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil || len(fields[0]) != 8 {
			return nil, fmt.Errorf("line %d: bad offset %q", i+1, fields[0])
		}
		if off != uint64(len(out)) {
			return nil, fmt.Errorf("line %d: offset %#x, want %#x", i+1, off, len(out))
		}
		for _, f := range fields[1:] {
			b, err := strconv.ParseUint(f, 16, 8)
			if err != nil || len(f) != 2 {
				return nil, fmt.Errorf("line %d: bad byte %q", i+1, f)
			}
			out = append(out, byte(b))
		}
	}
	return out, nil
}
