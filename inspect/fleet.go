package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"path/filepath"
	"runtime"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sync/errgroup"
)

// HostSummarySchemaVersion is the version of the HostSummary JSON schema.
// It changes only when a field changes meaning or disappears; new fields
// may appear without a new version. Version 2 writes the HardState's vote
// as a hex string (etcd's form of a member ID) instead of a number; this
// raftctl reads both.
const HostSummarySchemaVersion = 2

// HostSummaryKind tells a summary from other raftctl JSON documents.
const HostSummaryKind = "raftctl-summary"

// DefaultHashRange is the number of indexes each content hash of a
// summary covers.
const DefaultHashRange = 1024

// HostSummary is what `raftctl summary` writes for one PATH: a small,
// host-independent description of every group found under it, enough for
// compare, recover plan and report to work without the WAL itself.
//
//	{ "schema_version": 2, "kind": "raftctl-summary", "server": PATH,
//	  "hash_range": 1024, "groups": [ FleetGroup, ... ] }
//
// A summary is a few KB per group plus one content hash per HashRange
// indexes of the log (about 60 bytes each).
type HostSummary struct {
	SchemaVersion int    `json:"schema_version"`
	Kind          string `json:"kind"`
	// Server names the replica's host: the PATH summarised, unless
	// `--server` gave another name. compare and recover use it as the
	// replica's name.
	Server string `json:"server"`
	// HashRange is the number of indexes each content hash covers.
	HashRange uint64        `json:"hash_range"`
	Groups    []*FleetGroup `json:"groups"`
}

// FleetGroup is the summary of one group.
type FleetGroup struct {
	// Name is the group's path relative to the PATH summarised (its base
	// name when the PATH is the group itself): the same on every host.
	Name string `json:"name"`
	// Dir, WALDir and SnapDir are the directories on the host.
	Dir     string `json:"dir"`
	WALDir  string `json:"wal_dir"`
	SnapDir string `json:"snap_dir"`
	// MemberID and ClusterID come from the WAL metadata (etcd's hex), ""
	// when the metadata is not etcd's.
	MemberID  string `json:"member_id,omitempty"`
	ClusterID string `json:"cluster_id,omitempty"`
	// FirstIndex, LastIndex and LastTerm bound the effective log.
	FirstIndex   uint64    `json:"first_index"`
	LastIndex    uint64    `json:"last_index"`
	LastTerm     uint64    `json:"last_term"`
	HardState    HardState `json:"hard_state"`
	HasHardState bool      `json:"has_hard_state"`
	// Snapshot is the newest WAL snapshot record at or below the commit
	// (what etcd restarts from), nil when there is only the initial one.
	Snapshot *SnapRef `json:"snapshot"`
	// WALSnapshots are the WAL's snapshot records in order; SnapFiles the
	// .snap files, newest name first.
	WALSnapshots []SnapRef       `json:"wal_snapshots"`
	SnapFiles    []FleetSnapFile `json:"snap_files"`
	// Segments is the WAL's segment inventory.
	Segments []FleetSegment `json:"segments"`
	// Records and EntryRecords count the records read (overwritten entry
	// records included); Overwritten the entries a later record replaced.
	Records      int64 `json:"records"`
	EntryRecords int64 `json:"entry_records"`
	Overwritten  int64 `json:"overwritten"`
	// Stop is the decode error that ended the read, "" at a clean end.
	Stop string `json:"stop,omitempty"`
	// Backend is the etcd backend database's consistent index, if any.
	Backend *Backend `json:"backend,omitempty"`
	// Status, Err and Findings are verify's verdict (see verify -o json).
	Status   string    `json:"status"`
	Err      string    `json:"error,omitempty"`
	Findings []Finding `json:"findings"`
	// TermRuns is the effective log as runs of one term: every index from
	// From to To has term Term (Hole: the log does not hold them). The
	// first run may start at the snapshot the log restarted from.
	TermRuns []TermRun `json:"term_runs"`
	// Hashes is the content-hash chain: one hash per HashRange indexes of
	// the effective log.
	Hashes []ContentHash `json:"hashes"`
	// HashErr says why the hash chain stops early ("" when complete).
	HashErr string `json:"hash_error,omitempty"`
	// NoLog is set when the WAL could not be read at all (Err says why):
	// only the verdict is known.
	NoLog bool `json:"no_log,omitempty"`

	readErr error // why the WAL could not be read, when NoLog
}

// FleetSnapFile is a .snap file of a summary.
type FleetSnapFile struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	OK    bool   `json:"ok"`
	Err   string `json:"error,omitempty"`
}

// FleetSegment is a WAL segment of a summary.
type FleetSegment struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Records counts its complete records; FirstEntry and LastEntry are
	// the indexes of its first and last entry records as written.
	Records    int64  `json:"records"`
	FirstEntry uint64 `json:"first_entry"`
	LastEntry  uint64 `json:"last_entry"`
	// End is the offset just past the last complete record (where the
	// records end); ZeroTail the preallocated zero bytes after it.
	End      int64 `json:"end"`
	ZeroTail int64 `json:"zero_tail"`
	Read     bool  `json:"read"`
}

// TermRun is a run of indexes of one term.
type TermRun struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	Term uint64 `json:"term"`
	Hole bool   `json:"hole,omitempty"`
}

// ContentHash is the hash of the effective entries with index in
// [From, To], all within one range [k*R, k*R+R-1] of R = HashRange
// indexes: xxhash64 over, for each entry in index order, its index, term,
// type, the length of its data and the xxhash64 of its data (8 bytes
// little-endian each). Two replicas holding the same entries over the same
// [From, To] have the same hash. Hashing the data's hash rather than the
// data lets a bundle without data (whose payloads hold their xxhash64, see
// BundleManifest) give the original's hashes.
type ContentHash struct {
	From  uint64 `json:"from"`
	To    uint64 `json:"to"`
	XXH64 string `json:"xxh64"`
}

// hashChain folds effective entries into ContentHashes.
type hashChain struct {
	r        uint64
	d        *xxhash.Digest
	cur      ContentHash
	open     bool
	out      []ContentHash
	header   [40]byte
	redacted bool // payloads are a bundle's: their first 8 bytes are their hash
}

func newHashChain(r uint64) *hashChain { return &hashChain{r: r, d: xxhash.New()} }

func (h *hashChain) add(e *Entry) {
	h.addHashed(hashedEntry{index: e.Index, term: e.Term, typ: e.Type, size: uint64(len(e.Data)), data: dataHash(e.Data, h.redacted)})
}

// dataHash is the xxhash64 of an entry's data, or, for a bundle without
// data (redacted), the hash its payload holds.
func dataHash(data []byte, redacted bool) uint64 {
	if redacted && len(data) >= redactMin {
		return binary.BigEndian.Uint64(data)
	}
	return xxhash.Sum64(data)
}

// hashedEntry is what the content hash takes of an entry.
type hashedEntry struct {
	index, term, size, data uint64
	typ                     EntryType
}

// addHashed adds the next effective entry, in index order.
func (h *hashChain) addHashed(e hashedEntry) {
	if h.open && (e.index/h.r != h.cur.From/h.r || e.index != h.cur.To+1) {
		h.close()
	}
	if !h.open {
		h.d.Reset()
		h.cur = ContentHash{From: e.index}
		h.open = true
	}
	h.cur.To = e.index
	binary.LittleEndian.PutUint64(h.header[0:], e.index)
	binary.LittleEndian.PutUint64(h.header[8:], e.term)
	binary.LittleEndian.PutUint64(h.header[16:], uint64(int64(e.typ)))
	binary.LittleEndian.PutUint64(h.header[24:], e.size)
	binary.LittleEndian.PutUint64(h.header[32:], e.data)
	_, _ = h.d.Write(h.header[:])
}

func (h *hashChain) close() {
	if h.open {
		h.cur.XXH64 = fmt.Sprintf("%016x", h.d.Sum64())
		h.out = append(h.out, h.cur)
		h.open = false
	}
}

// HashEntries computes a log's content-hash chain, reading the segments a
// second time (EffectiveEntries). summary and compare hash during the pass
// that reads the log (chainBuilder) and call it only when that pass could
// not (see chainBuilder.spilled). r is the number of indexes per hash;
// redacted says the payloads are those of a bundle without data.
func HashEntries(ctx context.Context, segs []Segment, l *Log, r uint64, redacted bool) ([]ContentHash, error) {
	if r == 0 {
		r = DefaultHashRange
	}
	h := newHashChain(r)
	h.redacted = redacted
	err := EffectiveEntries(ctx, segs, l, func(e *Entry, _ *Record) error {
		h.add(e)
		return nil
	})
	h.close()
	if h.out == nil {
		h.out = []ContentHash{}
	}
	return h.out, err
}

// termRuns lists l's term runs.
func termRuns(l *Log) []TermRun {
	out := make([]TermRun, 0, len(l.runs))
	for k, r := range l.runs {
		to := l.LastIndex
		if k+1 < len(l.runs) {
			to = l.runs[k+1].start - 1
		}
		tr := TermRun{From: r.start, To: to, Term: r.term}
		if r.term == holeTerm {
			tr.Term, tr.Hole = 0, true
		}
		out = append(out, tr)
	}
	return out
}

// SummaryOptions tune SummarizeHost.
type SummaryOptions struct {
	// Server names the host in the summary (the PATH when "").
	Server string
	// HashRange is the number of indexes per content hash
	// (DefaultHashRange when 0).
	HashRange uint64
	// Verify tunes the verification of each group.
	Verify VerifyOptions
}

// SummarizeHost summarises the groups found under path (see Discover),
// opts.Verify.Parallel (or the CPUs) at a time, in the order of groups. It returns an error only when ctx is cancelled; a
// group without a verdict has status "unknown" and Err set.
//
// Each group is read by Verify (one pass, a second look past the end of
// the records), which computes the content hashes as it reads; memory does
// not grow with the log.
func SummarizeHost(ctx context.Context, path string, groups []Group, opts SummaryOptions) (*HostSummary, error) {
	hr := opts.HashRange
	if hr == 0 {
		hr = DefaultHashRange
	}
	s := &HostSummary{SchemaVersion: HostSummarySchemaVersion, Kind: HostSummaryKind, Server: opts.Server, HashRange: hr, Groups: []*FleetGroup{}}
	if s.Server == "" {
		s.Server = path
	}
	s.Groups = make([]*FleetGroup, len(groups))
	eg, ectx := errgroup.WithContext(ctx)
	par := opts.Verify.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	eg.SetLimit(par)
	for k, g := range groups {
		eg.Go(func() error {
			fg, _, err := summarizeGroup(ectx, g, hr, opts.Verify)
			s.Groups[k] = fg
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return s, nil
}

// summarizeGroup verifies g and summarises it; it also returns the log
// read (nil when the group could not be read).
//
// The content hashes are computed during the pass that reads the log
// (chainBuilder); only when that pass cannot (see chainBuilder) is the
// log read a second time for them.
func summarizeGroup(ctx context.Context, g Group, hr uint64, vopts VerifyOptions) (*FleetGroup, *Log, error) {
	redacted := RestoredWithoutData(g.Dir)
	rep, chain, err := verifyGroup(ctx, g, vopts, &hashSpec{r: hr, redacted: redacted})
	if err != nil {
		return nil, nil, err
	}
	fg := &FleetGroup{Name: g.Name, Dir: g.Dir, WALDir: g.WALDir, SnapDir: g.SnapDir, Status: rep.Status, Err: rep.Err, Findings: rep.Findings,
		WALSnapshots: []SnapRef{}, SnapFiles: []FleetSnapFile{}, Segments: []FleetSegment{}, TermRuns: []TermRun{}, Hashes: []ContentHash{}}
	l, segs := rep.log, rep.segs
	if l == nil {
		// Verify read the WAL in parts (it is damaged), or not at all:
		// read it once the way every other command does.
		chain = newChainBuilder(hr, redacted)
		gs, err := summarize(ctx, g, chain)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, nil, cerr
			}
			if fg.Err == "" {
				fg.Err = err.Error()
			}
			fg.Status, fg.NoLog, fg.readErr = StatusUnknown, true, err
			fg.Backend = ReadBackend(g.SnapDir)
			return fg, nil, nil
		}
		l, segs = gs.Log, gs.SegmentList
	}
	fg.FirstIndex, fg.LastIndex, fg.LastTerm = l.FirstIndex, l.LastIndex, l.LastTerm
	fg.HardState, fg.HasHardState = l.HardState, l.HasHardState
	if snap, ok := l.LatestSnapshot(); ok {
		fg.Snapshot = &SnapRef{Index: snap.Index, Term: snap.Term}
	}
	for _, s := range l.Snapshots {
		fg.WALSnapshots = append(fg.WALSnapshots, SnapRef{Index: s.Index, Term: s.Term})
	}
	if m := ParseMetadata(l.Metadata); m.OK {
		fg.MemberID, fg.ClusterID = FormatID(m.NodeID), FormatID(m.ClusterID)
	}
	for k, ss := range l.Segments {
		fs := FleetSegment{Name: filepath.Base(ss.Path), Size: ss.Size, Records: ss.Records, FirstEntry: ss.FirstEntry, LastEntry: ss.LastEntry,
			End: ss.End, ZeroTail: ss.ZeroTail, Read: ss.Read}
		if ss.Path == "" && k < len(segs) {
			fs.Name, fs.Size = segs[k].Name, segs[k].Size
		}
		fg.Segments = append(fg.Segments, fs)
	}
	fg.Records, fg.EntryRecords, fg.Overwritten = l.Records, l.EntryRecords, l.Overwritten
	if l.Stop != nil {
		fg.Stop = l.Stop.Error()
	}
	fg.TermRuns = termRuns(l)
	if sfs, err := ListSnapFiles(g.SnapDir); err == nil {
		for _, sf := range sfs {
			fg.SnapFiles = append(fg.SnapFiles, FleetSnapFile{Name: sf.Name, Size: sf.Size, Index: sf.Index, Term: sf.Term, OK: sf.OK, Err: sf.Err})
		}
	}
	fg.Backend = ReadBackend(g.SnapDir)
	hashes, spilled, err := chain.result()
	if spilled {
		hashSecondPasses.Add(1)
		hashes, err = HashEntries(ctx, segs, l, hr, redacted)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, nil, cerr
		}
		fg.HashErr = err.Error()
	}
	fg.Hashes = hashes
	return fg, l, nil
}

// HostSummaryDecoder reads the summaries of a stream: JSON documents one
// after the other (summary -o json with several PATHs, or files
// concatenated) or one per line (-o jsonl).
type HostSummaryDecoder struct{ dec *json.Decoder }

// NewHostSummaryDecoder reads summaries from r.
func NewHostSummaryDecoder(r io.Reader) *HostSummaryDecoder {
	return &HostSummaryDecoder{dec: json.NewDecoder(r)}
}

// Next returns the next summary, io.EOF after the last.
func (d *HostSummaryDecoder) Next() (*HostSummary, error) {
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("not a raftctl summary: %w", err)
	}
	return ReadHostSummary(bytes.NewReader(raw))
}

// ReadHostSummary decodes one summary written by `raftctl summary -o
// json`. It refuses other documents and newer schema versions.
func ReadHostSummary(r io.Reader) (*HostSummary, error) {
	var s HostSummary
	dec := json.NewDecoder(r)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a raftctl summary: %w", err)
	}
	if s.Kind != HostSummaryKind {
		return nil, errors.New("not a raftctl summary (no \"kind\": \"" + HostSummaryKind + "\")")
	}
	if s.SchemaVersion < 1 || s.SchemaVersion > HostSummarySchemaVersion {
		return nil, fmt.Errorf("summary schema version %d is not supported (this raftctl reads up to %d)", s.SchemaVersion, HostSummarySchemaVersion)
	}
	if s.HashRange == 0 {
		return nil, errors.New("summary has no hash_range")
	}
	for _, g := range s.Groups {
		if g == nil {
			return nil, errors.New("summary holds a null group")
		}
		if err := g.validate(); err != nil {
			return nil, fmt.Errorf("summary of %s: group %s: %w", s.Server, g.Name, err)
		}
		if g.Findings == nil {
			g.Findings = []Finding{}
		}
	}
	return &s, nil
}

// validate refuses what no summary raftctl writes holds and compare
// cannot use (a summary is untrusted input): term runs and hashes out of
// order, bounds that overflow.
func (g *FleetGroup) validate() error {
	if g.LastIndex >= math.MaxUint64-1 || g.HardState.Commit >= math.MaxUint64-1 {
		return errors.New("index out of range")
	}
	for k, r := range g.TermRuns {
		if k > 0 && r.From <= g.TermRuns[k-1].From {
			return errors.New("term runs out of order")
		}
		if r.Hole && r.Term != 0 {
			return errors.New("a hole with a term")
		}
		if !r.Hole && r.Term == holeTerm {
			return errors.New("term out of range")
		}
	}
	for k, h := range g.Hashes {
		if h.From > h.To || (k > 0 && h.From <= g.Hashes[k-1].To) {
			return errors.New("content hashes out of order")
		}
	}
	return nil
}

// log rebuilds the part of a Log that compare needs from the summary.
func (g *FleetGroup) log() *Log {
	l := &Log{FirstIndex: g.FirstIndex, LastIndex: g.LastIndex, LastTerm: g.LastTerm, HardState: g.HardState, HasHardState: g.HasHardState}
	for _, r := range g.TermRuns {
		t := r.Term
		if r.Hole {
			t = holeTerm
		}
		l.runs = append(l.runs, termRun{start: r.From, term: t})
	}
	return l
}

// Select returns the summary's groups whose name matches one of globs
// (path.Match syntax), all of them when globs is empty.
func (s *HostSummary) Select(globs []string) []*FleetGroup {
	if len(globs) == 0 {
		return s.Groups
	}
	var out []*FleetGroup
	for _, g := range s.Groups {
		for _, pat := range globs {
			if ok, _ := path.Match(pat, g.Name); ok {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// Group returns the group the summary describes, as Discover found it on
// its host.
func (g *FleetGroup) Group() Group {
	return Group{Name: g.Name, Dir: g.Dir, WALDir: g.WALDir, SnapDir: g.SnapDir}
}
