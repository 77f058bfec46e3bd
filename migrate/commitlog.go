// Package migrate converts legacy storage into Raft group directories in
// the format of etcd's wal package (byte for byte what it writes), and
// verifies what it wrote.
//
// It never prints, exits or reads configuration: callers pass options and get
// a [Result] (and optional progress and per-record callbacks). Legacy readers
// live in sub-packages, one per format ([commitlog] for Dgraph's 2015-2016
// commit logs).
//
// # Limitations
//
//   - The WAL is written by segWriter, which writes byte for byte what
//     etcd's wal package (wal.Create, Save, Close) writes for the same
//     calls, segment cuts included, without its per-record costs; a
//     differential test holds it to etcd's writer.
//   - The read-back streams each segment through raftctl's reader
//     (inspect.ReadLog and Records, two passes) as soon as it is complete,
//     while the next one is written, and joins the segments (CRC chain,
//     contiguous indexes); etcd's own wal.ReadAll and a restarted raft node
//     check the output in the tests.
//   - A migration is all or nothing: there is no resume. An interrupted run
//     leaves a hidden ".<name>.migrate-<pid>-*" directory only if the
//     process dies (cancellation removes it); the next run reports it
//     (Report.Leftovers) and it can be deleted.
//   - Several sources are built one after the other and all kept until the
//     last is verified: the output directory needs room for all of them at
//     once (as it does afterwards).
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
	"slices"
	"strings"
	"time"

	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/repair/durable"
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
	// Include and Skip decide about the files that the original server
	// would have refused to start on or never replayed (see
	// commitlog.OpenWith): without a decision, such a file holding data
	// fails the migration before anything is written. Paths are relative to
	// Source. Skip can leave out any file; skipped files are listed in
	// Result.Skipped.
	Include []commitlog.Include
	Skip    []string

	// Out is the directory that receives the group directory (--out);
	// created if missing. Required unless DryRun.
	Out string
	// Name is the group directory's name inside Out (--name): a single path
	// element, not starting with ".". Required unless DryRun; with DryRun
	// and no Out, it is only checked (and, in [CommitlogAll], compared with
	// the other sources' names).
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
	// checked exactly as for real: an existing output is ErrExists.
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
	// Name is the group's name ("" on a dry run without one).
	Name string `json:"name,omitempty"`
	// Output is the group directory written (or that would be, on a dry run
	// with Out and Name); "" otherwise.
	Output string `json:"output,omitempty"`
	DryRun bool   `json:"dry_run"`
	// Written is true once the group is in place under Output.
	Written bool `json:"written"`

	// Files are the files read, in order.
	Files []commitlog.FileStats `json:"files"`
	// Skipped are the files left unread by choice (CommitlogOptions.Skip).
	Skipped []commitlog.Skipped `json:"skipped"`
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
// group directory <opts.Out>/<opts.Name>/{wal,snap}. It is [CommitlogAll]
// with one source; see there for the guarantees.
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
// The Result is nil on error.
func Commitlog(ctx context.Context, opts CommitlogOptions) (*Result, error) {
	rep, err := CommitlogAll(ctx, []CommitlogOptions{opts})
	if err != nil {
		return nil, err
	}
	return rep.Migrations[0], nil
}

// Report is the outcome of [CommitlogAll].
type Report struct {
	DryRun bool `json:"dry_run"`
	// Migrations has one Result per source, in order: all of them on
	// success; on failure, those built (or, on a dry run, read) before it,
	// with Written telling which groups are in place.
	Migrations []*Result `json:"migrations"`
	// Leftovers are the hidden build directories of interrupted migrations
	// found in the output directories. They are never read or removed.
	Leftovers []Leftover `json:"leftovers"`
}

// Written returns the groups in place, in order.
func (r *Report) Written() []string {
	var w []string
	if r == nil {
		return nil
	}
	for _, m := range r.Migrations {
		if m.Written {
			w = append(w, m.Output)
		}
	}
	return w
}

// CommitlogAll migrates several legacy instance directories, one group each,
// in three phases:
//
//  1. Check, before reading any record or writing anything: every option;
//     group names unique across the sources; no output that exists; no
//     output directory inside a source; every source listed, with a
//     decision for each file the original server would have refused or
//     never replayed. Hidden directories left by interrupted migrations in
//     the output directories are reported (Report.Leftovers).
//  2. Build, source by source: the group is written in a hidden directory
//     beside its final name (".<Name>.migrate-<pid>-*"), every segment file
//     and directory is fsynced, the WAL is read back (each segment once
//     complete) and compared with the source (count and checksum, index,
//     term and HardState). A dry run
//     reads and decodes every source and stops here, having written
//     nothing.
//  3. Publish: each hidden directory is renamed into place (without
//     replacing anything) and its parent fsynced.
//
// Guarantees:
//   - Nothing is visible under a final name until it is complete, durable
//     and verified.
//   - A failure in phases 1 or 2, cancellation included, leaves nothing:
//     hidden directories are removed, and so is an output directory the
//     call created. Every problem of phase 1 is returned (errors.Join).
//   - Phase 3 is not cancellable. If a rename fails there (a name created
//     meanwhile), the groups renamed before it stay in place, marked
//     Written in the returned Report, and the others are removed.
//   - Memory is bounded by a few batches (a few MiB) plus the largest
//     record.
//
// Errors: options wrap ErrInvalidOptions; an existing output ErrExists;
// commitlog.ErrSelection, commitlog.ErrUndecided, commitlog.ErrNoLogs and
// commitlog.ErrAmbiguousPrefix come from listing a source; corrupt input
// names the file and offset (commitlog.ErrCorrupt or commitlog.ErrTorn); a
// read-back mismatch wraps ErrVerify; a cancelled ctx returns an error
// wrapping ctx.Err(). Each error names its source. The Report is never nil.
func CommitlogAll(ctx context.Context, all []CommitlogOptions) (*Report, error) {
	rep := &Report{Leftovers: []Leftover{}}
	if len(all) == 0 {
		return rep, fmt.Errorf("%w: no source", ErrInvalidOptions)
	}
	ms, err := check(all, rep)
	if err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("migrate: %w", err)
	}
	if rep.DryRun {
		for _, m := range ms {
			if err := m.dryRun(ctx); err != nil {
				return rep, fmt.Errorf("%s: %w", m.opts.Source, err)
			}
			rep.Migrations = append(rep.Migrations, m.res)
		}
		return rep, nil
	}
	return rep, build(ctx, ms, rep)
}

// check is phase 1 of CommitlogAll: it checks every source's options and
// output (sourceChecker) and opens its commitlog, then lists what earlier
// runs left in the output directories. It reports every problem found,
// not only the first.
func check(all []CommitlogOptions, rep *Report) ([]*migration, error) {
	rep.DryRun = all[0].DryRun
	c := newSourceChecker(all)
	var ms []*migration
	for i := range all {
		if all[i].DryRun != rep.DryRun {
			return nil, fmt.Errorf("%w: DryRun differs between sources", ErrInvalidOptions)
		}
		if m := c.source(all[i]); m != nil {
			ms = append(ms, m)
		}
	}
	for out := range c.outs {
		ls, err := findLeftovers(out)
		if err != nil {
			c.fail(out, err)
		}
		rep.Leftovers = append(rep.Leftovers, ls...)
	}
	sortLeftovers(rep.Leftovers)
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return ms, nil
}

// sourceChecker is check's state across the sources: their absolute
// paths, the source each output (or name) is taken by, the output
// directories, and the errors found so far.
type sourceChecker struct {
	all     []CommitlogOptions
	srcAbs  []string
	outputs map[string]string // output (or name) -> source
	outs    map[string]bool
	errs    []error
}

// newSourceChecker starts the checks of all.
func newSourceChecker(all []CommitlogOptions) *sourceChecker {
	c := &sourceChecker{all: all, srcAbs: make([]string, len(all)), outputs: map[string]string{}, outs: map[string]bool{}}
	for i := range all {
		if a, err := filepath.Abs(all[i].Source); err == nil {
			c.srcAbs[i] = a
		}
	}
	return c
}

// fail records a problem of source (or output directory) src.
func (c *sourceChecker) fail(src string, err error) {
	c.errs = append(c.errs, fmt.Errorf("%s: %w", src, err))
}

// source checks one source's options and output and opens its
// commitlog; nil when a problem stops it there (recorded with fail).
func (c *sourceChecker) source(opts CommitlogOptions) *migration {
	if err := opts.normalize(); err != nil {
		c.fail(opts.Source, err)
		return nil
	}
	res := &Result{
		Source:     opts.Source,
		Name:       opts.Name,
		DryRun:     opts.DryRun,
		Members:    append([]uint64(nil), opts.Members...),
		Term:       opts.Term,
		Data:       opts.Data,
		FirstIndex: uint64(len(opts.Members)) + 1,
	}
	c.output(&opts, res)
	d, err := commitlog.OpenWith(opts.Source, commitlog.OpenOptions{Prefix: opts.Prefix, Include: opts.Include, Skip: opts.Skip})
	if err != nil {
		c.fail(opts.Source, err)
		return nil
	}
	res.Prefix = d.Prefix
	res.Skipped = append([]commitlog.Skipped{}, d.Skipped...)
	return &migration{opts: &opts, dir: d, res: res}
}

// output sets res.Output and checks it: not inside any source, not the
// group (or name) of another source, not existing yet.
func (c *sourceChecker) output(opts *CommitlogOptions, res *Result) {
	key := opts.Name
	if opts.Out != "" {
		res.Output = filepath.Join(opts.Out, opts.Name)
		key, _ = filepath.Abs(res.Output)
		outAbs, _ := filepath.Abs(opts.Out)
		for j, s := range c.srcAbs {
			if s != "" && (outAbs == s || strings.HasPrefix(outAbs, s+string(filepath.Separator))) {
				c.fail(opts.Source, fmt.Errorf("%w: the output directory %s is inside the source %s, which is only read", ErrInvalidOptions, opts.Out, c.all[j].Source))
			}
		}
		c.outs[opts.Out] = true
	}
	if key != "" {
		if other, ok := c.outputs[key]; ok {
			where := "name " + opts.Name
			if res.Output != "" {
				where = res.Output
			}
			c.fail(opts.Source, fmt.Errorf("%w: %s and %s would both make the group %s (give distinct directory names, or migrate them separately with --name)",
				ErrInvalidOptions, other, opts.Source, where))
		} else {
			c.outputs[key] = opts.Source
		}
	}
	if res.Output != "" {
		if _, err := os.Lstat(res.Output); err == nil {
			c.fail(opts.Source, fmt.Errorf("%w: %s", ErrExists, res.Output))
		} else if !errors.Is(err, os.ErrNotExist) {
			c.fail(opts.Source, fmt.Errorf("migrate: %w", err))
		}
	}
}

// beforePublish runs between the build and publish phases; tests replace it.
var beforePublish = func() {}

// build runs phases 2 and 3 of CommitlogAll.
func build(ctx context.Context, ms []*migration, rep *Report) (err error) {
	// Output directories created here are removed again (if still empty)
	// when nothing was published in them.
	var created []string
	defer func() {
		for _, m := range ms {
			if m.tmp != "" {
				os.RemoveAll(m.tmp)
			}
		}
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i]) // only if empty; best effort
		}
	}()
	made := map[string]bool{}
	for _, m := range ms {
		out := m.opts.Out
		if made[out] {
			continue
		}
		made[out] = true
		c, err := mkdirAllSynced(out)
		if err != nil {
			return fmt.Errorf("%s: migrate: %w", m.opts.Source, err)
		}
		if c {
			created = append(created, out)
		}
	}
	for _, m := range ms {
		if err := m.build(ctx); err != nil {
			return fmt.Errorf("%s: %w", m.opts.Source, err)
		}
		rep.Migrations = append(rep.Migrations, m.res)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	beforePublish()
	synced := map[string]bool{}
	for _, m := range ms {
		if err := renameNoReplace(m.tmp, m.res.Output); err != nil {
			return fmt.Errorf("%s: %w", m.opts.Source, err)
		}
		m.tmp = ""
		m.res.Written = true
		created = slices.DeleteFunc(created, func(c string) bool { return c == m.opts.Out })
	}
	for _, m := range ms {
		if synced[m.opts.Out] {
			continue
		}
		synced[m.opts.Out] = true
		if err := durable.Sync(m.opts.Out); err != nil {
			// The groups are in place and complete; only the durability
			// of their names is in doubt. Report it without removing
			// anything.
			return fmt.Errorf("migrate: groups renamed into place, but syncing %s failed: %w", m.opts.Out, err)
		}
	}
	return nil
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
	}
	if o.Out != "" && o.Name == "" {
		return bad("an output directory needs a group name")
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
