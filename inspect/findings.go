package inspect

import (
	"fmt"
	"sort"
)

// Severity ranks a finding. A group's status is its worst finding, info not
// counting.
type Severity string

// The severities, worst first.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// rank orders severities: higher is worse.
func (s Severity) rank() int {
	switch s {
	case SeverityError:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// AtLeast reports whether s is at least as severe as t.
func (s Severity) AtLeast(t Severity) bool { return s.rank() >= t.rank() }

// ParseSeverity parses "error", "warning" or "info".
func ParseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case SeverityError, SeverityWarning, SeverityInfo:
		return Severity(s), nil
	}
	return "", fmt.Errorf("unknown severity %q (want error, warning or info)", s)
}

// The finding codes. A code names one kind of problem and never changes
// meaning; Catalogue describes each.
const (
	// Errors: the member cannot restart from this storage as it is, or it
	// would restart with a log that differs from what it acknowledged.
	CodeWALMissing            = "wal-missing"
	CodeSegmentSequence       = "segment-sequence"
	CodeSegmentHeader         = "segment-header"
	CodeCRCMismatch           = "crc-mismatch"
	CodeZeroedRegion          = "zeroed-region"
	CodeSegmentTruncated      = "segment-truncated"
	CodeRecordMalformed       = "record-malformed"
	CodeMetadataConflict      = "metadata-conflict"
	CodeIndexGap              = "index-gap"
	CodeTermRegression        = "term-regression"
	CodeCommitBeyondLast      = "commit-beyond-last"
	CodeHardStateTerm         = "hardstate-term"
	CodeSnapshotGap           = "snapshot-gap"
	CodeSnapshotRecordMissing = "snapshot-record-missing"
	CodeSnapshotCorrupt       = "snapshot-corrupt"
	CodeSnapshotTermMismatch  = "snapshot-term-mismatch"
	CodeSnapshotNameMismatch  = "snapshot-name-mismatch"
	CodeLogTailMissing        = "log-tail-missing"
	CodeRaftRestart           = "raft-restart"

	// Warnings: the member restarts, but something is off and usually
	// mendable.
	CodeTornTail             = "torn-tail"
	CodeSegmentName          = "segment-name"
	CodeEmptySegment         = "empty-segment"
	CodeSnapshotOrphan       = "snapshot-orphan"
	CodeSnapshotBeyondCommit = "snapshot-beyond-commit"
	CodeSnapshotFileMissing  = "snapshot-file-missing"
	CodeHardStateMissing     = "hardstate-missing"

	// Info: facts worth knowing that are not problems.
	CodeOverwrittenEntries = "overwritten-entries"
	CodeInUse              = "in-use"
	CodeUnknownFile        = "unknown-file"
)

// Hints shared by several codes.
const (
	hintRepair  = "run `raftctl repair` on this group (see `raftctl repair --dry-run` first)"
	hintReplica = "restore this member's data from a healthy replica, or remove the member and add it back so that it is re-seeded; no raftctl command can recreate lost records"
)

// CodeInfo describes one finding code.
type CodeInfo struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Summary says what the code means in one sentence.
	Summary string `json:"summary"`
	// Hint is the default remedy given with findings of this code.
	Hint string `json:"hint,omitempty"`
}

// Catalogue lists every code Verify may report, errors first.
var Catalogue = []CodeInfo{
	{CodeWALMissing, SeverityError, "the group has no WAL segment (missing or empty wal directory, or only snapshots)", hintReplica},
	{CodeSegmentSequence, SeverityError, "segment sequence numbers do not increase by exactly one (a hole, a duplicate or a jump)", hintReplica},
	{CodeSegmentHeader, SeverityError, "a segment does not open with the crc record etcd writes at the start of every segment, so reading from it (as etcd does to restart from a snapshot recorded in it) fails its first CRC check", hintReplica},
	{CodeCRCMismatch, SeverityError, "a record's CRC, or the CRC chain between records, does not match its data", hintReplica},
	{CodeZeroedRegion, SeverityError, "a run of zero bytes inside the log with records after it, or a segment other than the last that ends early: records in the middle of the log are lost", hintReplica},
	{CodeSegmentTruncated, SeverityError, "a segment other than the last ends inside a record, or before records that the next segment's CRC chain proves were there", hintReplica},
	{CodeRecordMalformed, SeverityError, "a record, or the entry, HardState or snapshot it carries, does not decode, or its type is unknown", hintReplica},
	{CodeMetadataConflict, SeverityError, "two metadata records of the WAL differ (etcd refuses to open it)", hintReplica},
	{CodeIndexGap, SeverityError, "the log skips indexes", hintReplica},
	{CodeTermRegression, SeverityError, "an entry's term is lower than the term of the entry before it", hintReplica},
	{CodeCommitBeyondLast, SeverityError, "the HardState's commit index is beyond the last entry", hintReplica},
	{CodeHardStateTerm, SeverityError, "the HardState's term is lower than the last entry's term", hintReplica},
	{CodeSnapshotGap, SeverityError, "the entries after the newest usable snapshot do not continue at its index + 1", hintReplica},
	{CodeSnapshotRecordMissing, SeverityError, "the WAL holds no snapshot record for the snapshot etcd restarts from (the initial empty one included) where etcd looks for it, so etcd refuses to read the WAL", hintReplica},
	{CodeSnapshotCorrupt, SeverityError, "a .snap file fails its CRC or does not decode", "run `raftctl repair` to move the broken file aside (etcd falls back to an older snapshot)"},
	{CodeSnapshotTermMismatch, SeverityError, "a snapshot's (index, term) disagrees with the log's entry at that index or with the WAL's snapshot record", hintReplica},
	{CodeSnapshotNameMismatch, SeverityError, "a .snap file's name says one (term, index) and its content another", "move the file out of the snapshot directory; if etcd then has no snapshot to restart from (snapshot-gap), restore this member from a healthy replica"},
	{CodeLogTailMissing, SeverityError, "snapshot files refer beyond the last entry: the newest segments are gone", hintReplica},
	{CodeRaftRestart, SeverityError, "the raft library refuses to restart from this storage (deep mode)", hintReplica},

	{CodeTornTail, SeverityWarning, "the last record of the last segment is incomplete (a crash during a write)", "run `raftctl repair` to cut the log after the last complete record (etcd does the same when it restarts)"},
	{CodeSegmentName, SeverityWarning, "a segment name is accepted by etcd but is not the canonical %016x-%016x.wal", "run `raftctl repair` to rename it"},
	{CodeEmptySegment, SeverityWarning, "a segment file holds no record", "run `raftctl repair` to remove it"},
	{CodeSnapshotOrphan, SeverityWarning, "a .snap file has no matching WAL snapshot record (etcd never loads it)", "run `raftctl repair` to move it aside"},
	{CodeSnapshotBeyondCommit, SeverityWarning, "a WAL snapshot record is beyond the HardState's commit index (etcd ignores it)", ""},
	{CodeSnapshotFileMissing, SeverityWarning, "the newest usable WAL snapshot record has no .snap file (etcd falls back to an older snapshot)", ""},
	{CodeHardStateMissing, SeverityWarning, "the WAL holds entries but no HardState", ""},

	{CodeOverwrittenEntries, SeverityInfo, "entries were overwritten by a new leader (normal after leader changes)", ""},
	{CodeInUse, SeverityInfo, "a live process holds a lock on the WAL; findings about its tail may reflect writes in progress", ""},
	{CodeUnknownFile, SeverityInfo, "a file in the WAL or snapshot directory that etcd ignores", ""},
}

// LookupCode returns the catalogue entry of code.
func LookupCode(code string) (CodeInfo, bool) {
	for _, c := range Catalogue {
		if c.Code == code {
			return c, true
		}
	}
	return CodeInfo{}, false
}

// Finding is one problem (or fact) found in a group.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// File is the path of the file concerned ("" when none).
	File string `json:"file"`
	// Offset is the byte offset in File, -1 when it does not apply.
	Offset int64 `json:"offset"`
	// Index is the raft index concerned, 0 when it does not apply.
	Index   uint64 `json:"index"`
	Message string `json:"message"`
	// Hint says how to fix it: the raftctl command when there is one.
	Hint string `json:"hint"`
}

// The statuses of a group.
const (
	StatusOK      = "ok"
	StatusWarning = "warning"
	StatusError   = "error"
	// StatusUnknown means no verdict could be reached (see GroupReport.Err).
	StatusUnknown = "unknown"
)

// GroupReport is the verdict on one group.
type GroupReport struct {
	Name    string `json:"name"`
	WALDir  string `json:"wal_dir"`
	SnapDir string `json:"snap_dir"`
	// Status is "ok", "warning" or "error" (the worst finding, info not
	// counting), or "unknown" when Err is set.
	Status string `json:"status"`
	// Err says why no verdict could be reached (an I/O or permission
	// error); the findings are then those made before it.
	Err      string    `json:"error,omitempty"`
	Findings []Finding `json:"findings"`

	// log is the single pass over the whole WAL, when there was one, so
	// that callers in this package need not read the log again.
	log  *Log
	segs []Segment
}

// Worst returns the most severe finding's severity, "" when there is none.
func (g *GroupReport) Worst() Severity {
	var w Severity
	for _, f := range g.Findings {
		if f.Severity.rank() > w.rank() {
			w = f.Severity
		}
	}
	return w
}

// Has reports whether the group has a finding at or above sev.
func (g *GroupReport) Has(sev Severity) bool {
	w := g.Worst()
	return w != "" && w.AtLeast(sev)
}

// Codes lists the codes found, in report order (with repeats).
func (g *GroupReport) Codes() []string {
	out := make([]string, len(g.Findings))
	for k, f := range g.Findings {
		out[k] = f.Code
	}
	return out
}

// finish sorts the findings (errors first, then by file and offset) and
// sets the status.
func (g *GroupReport) finish() {
	if g.Findings == nil {
		g.Findings = []Finding{}
	}
	sort.SliceStable(g.Findings, func(i, j int) bool {
		a, b := g.Findings[i], g.Findings[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() > b.Severity.rank()
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Offset < b.Offset
	})
	switch {
	case g.Err != "":
		g.Status = StatusUnknown
	case g.Has(SeverityError):
		g.Status = StatusError
	case g.Has(SeverityWarning):
		g.Status = StatusWarning
	default:
		g.Status = StatusOK
	}
}

// ReportSchemaVersion is the version of Report's JSON form.
const ReportSchemaVersion = 1

// Report is the verdict on several groups.
type Report struct {
	SchemaVersion int            `json:"schema_version"`
	Groups        []*GroupReport `json:"groups"`
	Summary       Summary        `json:"summary"`
}

// Summary counts groups by status.
type Summary struct {
	Groups  int `json:"groups"`
	OK      int `json:"ok"`
	Warning int `json:"warning"`
	Error   int `json:"error"`
	// Unknown counts groups without a verdict.
	Unknown int `json:"unknown"`
}

// summarize fills r.Summary from the groups.
func (r *Report) summarize() {
	s := Summary{Groups: len(r.Groups)}
	for _, g := range r.Groups {
		switch g.Status {
		case StatusOK:
			s.OK++
		case StatusWarning:
			s.Warning++
		case StatusError:
			s.Error++
		default:
			s.Unknown++
		}
	}
	r.Summary = s
}

// Has reports whether any group has a finding at or above sev.
func (r *Report) Has(sev Severity) bool {
	for _, g := range r.Groups {
		if g.Has(sev) {
			return true
		}
	}
	return false
}

// NoVerdict returns the groups without a verdict.
func (r *Report) NoVerdict() []*GroupReport {
	var out []*GroupReport
	for _, g := range r.Groups {
		if g.Status == StatusUnknown {
			out = append(out, g)
		}
	}
	return out
}
