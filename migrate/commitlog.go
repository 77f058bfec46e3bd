// Package migrate converts legacy storage into Raft group directories
// written with etcd's wal package, and verifies what it wrote.
//
// It never prints, exits or reads configuration: callers pass options and get
// a [Result] (and optional progress and per-record callbacks). Legacy readers
// live in sub-packages, one per format ([commitlog] for Dgraph's 2015-2016
// commit logs).
//
// # Limitations
//
//   - The read-back streams the output through raftctl's reader
//     (inspect.ReadLog and EffectiveEntries) in two passes; etcd's own
//     wal.ReadAll and a restarted raft node check the output in the tests.
//   - A migration is all or nothing: there is no resume. An interrupted run
//     leaves a hidden ".<name>.migrate-*" directory only if the process dies
//     (cancellation removes it); it can be deleted.
//   - Segments are cut between batches, so one can exceed the segment size
//     by about one batch (1 MiB). The last segment is preallocated to the
//     segment size, as etcd does.
//   - One legacy instance directory makes one group; members are not
//     derived from the data (the legacy log has no membership).
package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftctl/raftctl/migrate/commitlog"
)

// DataMode selects what Entry.Data holds for each legacy record.
type DataMode string

// Data modes.
const (
	// DataRecord stores the exact record bytes, header and payload: lossless
	// and reversible, and it keeps ts and hash, the only link to the posting
	// list. The default.
	DataRecord DataMode = "record"
	// DataPayload stores only the flatbuffer payload.
	DataPayload DataMode = "payload"
)

// DefaultSegmentSize is the WAL segment size unless told otherwise: etcd's
// default wal.SegmentSizeBytes (64 MB).
const DefaultSegmentSize int64 = 64 * 1000 * 1000

// MinSegmentSize is the smallest segment size accepted.
const MinSegmentSize int64 = 4096

var (
	// ErrExists is returned when <Out>/<Name> already exists. Nothing has
	// been written. The command maps it to exit status 2.
	ErrExists = errors.New("migrate: output already exists")
	// ErrInvalidOptions is wrapped by errors about the options themselves
	// (nothing read or written).
	ErrInvalidOptions = errors.New("migrate: invalid options")
	// ErrVerify is wrapped when the WAL read back differs from the source.
	// The temporary output has been removed.
	ErrVerify = errors.New("migrate: verification of the written WAL failed")
)

// CommitlogOptions configure [Commitlog]. Zero values select the defaults
// named on each field.
type CommitlogOptions struct {
	// Source is the legacy instance directory (required).
	Source string
	// Prefix is the commit log file prefix; "" detects it (see
	// commitlog.Open).
	Prefix string

	// Out is the directory that receives the group directory (--out);
	// created if missing. Required unless DryRun.
	Out string
	// Name is the group directory's name inside Out (--name): a single path
	// element, not starting with ".". Required unless DryRun.
	Name string

	// Members are the Raft node ids of the group (--members); one
	// EntryConfChange AddNode per member is written first, at term 1, like
	// raft's bootstrap. Default [1]. Ids must be non-zero and distinct.
	Members []uint64
	// Term is the term of the legacy entries and of the HardState (--term).
	// Default 1.
	Term uint64
	// Data selects Entry.Data (--data). Default DataRecord.
	Data DataMode
	// SegmentSize is the WAL segment size in bytes (--segment-size). Default
	// DefaultSegmentSize; at least MinSegmentSize. Segments are cut at a
	// batch boundary once this size is reached, so one can exceed it by
	// about one batch (1 MiB of entry data for the default size, 1/16 of
	// the segment size for small ones).
	SegmentSize int64

	// Strict refuses a torn record at the end of the log instead of dropping
	// it (--strict).
	Strict bool
	// DryRun reads, decodes and checks the whole source and writes nothing
	// (--dry-run). Out and Name are optional then; when given they are
	// checked, and an existing output is ErrExists as it would be for real.
	DryRun bool

	// Progress, if set, is called with the source bytes consumed and the
	// records converted so far, at most about every 100 ms, and once at the
	// end of the source. It is called on the goroutine that called
	// Commitlog.
	Progress func(bytesRead, records int64)
	// OnRecord, if set, is called for every record in order with its decoded
	// payload (for --dry-run -o jsonl). rec.Raw, rec.Payload and p.Value are
	// borrowed: valid only during the call. It is never called concurrently
	// with itself, but outside DryRun it runs on another goroutine than the
	// caller's, concurrently with Progress. An error stops the migration and
	// is returned wrapped.
	OnRecord func(rec commitlog.Record, p commitlog.Posting) error
}

// Result describes a migration (or, with DryRun, what it would write).
type Result struct {
	Source string `json:"source"`
	Prefix string `json:"prefix"`
	// Output is the group directory written (or that would be, on a dry run
	// with Out and Name); "" otherwise.
	Output string `json:"output,omitempty"`
	DryRun bool   `json:"dry_run"`

	// Files are the files read, in order.
	Files []commitlog.FileStats `json:"files"`
	// Records and Bytes count the complete legacy records converted and
	// their size (headers and payloads).
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// FirstTS and LastTS are the header ts of the first and last record
	// (ns since the Unix epoch; 0 without records).
	FirstTS int64 `json:"first_ts"`
	LastTS  int64 `json:"last_ts"`
	// DroppedBytes is the size of the torn tail dropped from the end of the
	// log, at DroppedFile and DroppedOffset.
	DroppedBytes  int64  `json:"dropped_bytes"`
	DroppedFile   string `json:"dropped_file,omitempty"`
	DroppedOffset int64  `json:"dropped_offset,omitempty"`
	// Warnings are the anomalies found (at most commitlog.MaxWarningsPerCode
	// of each code); WarningCounts counts all of them by code.
	Warnings      []commitlog.Warning      `json:"warnings"`
	WarningCounts map[commitlog.Code]int64 `json:"warning_counts"`

	Members []uint64 `json:"members"`
	Term    uint64   `json:"term"`
	Data    DataMode `json:"data"`
	// FirstIndex is the index of the first legacy record's entry
	// (len(Members)+1) and LastIndex the index of the last entry, which is
	// also the HardState's commit.
	FirstIndex uint64 `json:"first_index"`
	LastIndex  uint64 `json:"last_index"`
	// Segments is the number of WAL segment files written (0 on a dry run).
	Segments int `json:"segments"`
	// Checksum is "xxh64:" and the hex xxHash64 over the Data of the legacy
	// entries in order, each preceded by its length as a little-endian
	// uint32. The written WAL was read back and matched it.
	Checksum string `json:"checksum"`
}

// Commitlog converts the legacy instance directory opts.Source into the Raft
// group directory <opts.Out>/<opts.Name>/{wal,snap}.
//
// The WAL holds, at contiguous indexes from 1: one EntryConfChange AddNode per
// member at term 1 (the entries raft's bootstrap writes), then one
// EntryNormal per legacy record in the log's order at term opts.Term. The
// HardState is {Term: opts.Term, Vote: 0, Commit: last index}: every entry is
// committed, and Vote 0 is what raft's bootstrap persists; since every member
// starts at opts.Term, the first election is at opts.Term+1, where no vote
// has been cast (copy the same directory to every member). The snap
// directory is empty.
//
// Guarantees:
//   - Nothing is visible at <Out>/<Name> until it is complete, durable and
//     verified: the group is built in a hidden directory beside it
//     (".<Name>.migrate-*"), every segment file and directory is fsynced, the
//     WAL is read back with etcd's reader and compared with the source (count
//     and checksum, index, term and HardState), and only then renamed into
//     place (without replacing anything) and Out fsynced.
//   - On any error, cancellation included, the hidden directory is removed
//     and <Out>/<Name> does not exist.
//   - An existing <Out>/<Name> is ErrExists, checked before reading and again
//     at the rename.
//   - Memory is bounded by a few batches (a few MiB) plus the largest record,
//     except for the read-back (see readBack).
//
// The returned error names the file and offset for corrupt input (wrapping
// commitlog.ErrCorrupt or commitlog.ErrTorn); option errors wrap
// ErrInvalidOptions; a cancelled ctx returns an error wrapping ctx.Err().
// The Result is nil on error.
func Commitlog(ctx context.Context, opts CommitlogOptions) (*Result, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	d, err := commitlog.OpenPrefix(opts.Source, opts.Prefix)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Source:     opts.Source,
		Prefix:     d.Prefix,
		DryRun:     opts.DryRun,
		Members:    append([]uint64(nil), opts.Members...),
		Term:       opts.Term,
		Data:       opts.Data,
		FirstIndex: uint64(len(opts.Members)) + 1,
	}
	if opts.Out != "" {
		res.Output = filepath.Join(opts.Out, opts.Name)
		if _, err := os.Lstat(res.Output); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrExists, res.Output)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	m := &migration{opts: &opts, dir: d, res: res}
	if opts.DryRun {
		if err := m.dryRun(ctx); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := m.run(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

func (o *CommitlogOptions) normalize() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}
	if o.Source == "" {
		return bad("no source directory")
	}
	if !o.DryRun && (o.Out == "" || o.Name == "") {
		return bad("an output directory and a group name are required")
	}
	if o.Name != "" {
		if o.Name == "." || o.Name == ".." || strings.ContainsAny(o.Name, `/\`) || strings.HasPrefix(o.Name, ".") {
			return bad("group name %q: a single path element not starting with '.' is required", o.Name)
		}
		if o.Out == "" {
			return bad("a group name needs an output directory")
		}
	}
	if len(o.Members) == 0 {
		o.Members = []uint64{1}
	}
	seen := make(map[uint64]bool, len(o.Members))
	for _, id := range o.Members {
		if id == 0 {
			return bad("member id 0 is not a valid Raft node id")
		}
		if seen[id] {
			return bad("member id %d given twice", id)
		}
		seen[id] = true
	}
	if o.Term == 0 {
		o.Term = 1
	}
	switch o.Data {
	case "":
		o.Data = DataRecord
	case DataRecord, DataPayload:
	default:
		return bad("data mode %q: want %q or %q", o.Data, DataRecord, DataPayload)
	}
	switch {
	case o.SegmentSize == 0:
		o.SegmentSize = DefaultSegmentSize
	case o.SegmentSize < MinSegmentSize:
		return bad("segment size %d below the minimum of %d bytes", o.SegmentSize, MinSegmentSize)
	}
	return nil
}

// progressEvery is the minimum interval between two Progress calls.
const progressEvery = 100 * time.Millisecond

type progress struct {
	f    func(bytesRead, records int64)
	last time.Time
}

func (p *progress) maybe(bytesRead, records int64) {
	if p.f == nil {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		p.f(bytesRead, records)
	}
}

func (p *progress) final(bytesRead, records int64) {
	if p.f != nil {
		p.f(bytesRead, records)
	}
}
