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

// parseSeverity parses "error", "warning" or "info".
func parseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case SeverityError, SeverityWarning, SeverityInfo:
		return Severity(s), nil
	}
	return "", fmt.Errorf("unknown severity %q (want error, warning or info)", s)
}

// The finding codes. A code names one kind of problem and never changes
// meaning; Catalogue describes each.
//
// Severity follows what a restart by the real server (etcd, or any program
// that restores a node with etcd's wal and snap packages and raft) would do
// with the storage as it is:
//
//   - info: it restarts and no acknowledged committed entry is lost; the
//     finding is a fact worth knowing (a crash residue etcd handles itself,
//     a write in progress beside a live server).
//   - warning: it restarts and nothing committed is lost, but something
//     needs attention (a leftover to remove, evidence to look at).
//   - error: it refuses to restart, panics, or restarts having lost
//     committed entries; or no crash of a correct writer can leave the
//     state, so the storage was damaged.
//
// The states a correct writer can leave after a crash at any point are
// described in writermodel.go; every code has its place there.
const (
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
	CodeSnapshotTermMismatch  = "snapshot-term-mismatch"
	CodeSnapshotNameMismatch  = "snapshot-name-mismatch"
	CodeLogTailMissing        = "log-tail-missing"
	CodeRaftRestart           = "raft-restart"

	CodeTornTail            = "torn-tail"
	CodeSegmentName         = "segment-name"
	CodeSegmentIndex        = "segment-index"
	CodeEmptySegment        = "empty-segment"
	CodeSnapshotCorrupt     = "snapshot-corrupt"
	CodeSnapshotOrphan      = "snapshot-orphan"
	CodeSnapshotBeyondLog   = "snapshot-beyond-log"
	CodeLogTailSuspect      = "log-tail-suspect"
	CodeSnapshotFileMissing = "snapshot-file-missing"
	CodeHardStateMissing    = "hardstate-missing"

	CodeSnapshotBeyondCommit = "snapshot-beyond-commit"
	CodeWriteInProgress      = "write-in-progress"
	CodeOverwrittenEntries   = "overwritten-entries"
	CodeInUse                = "in-use"
	CodeUnknownFile          = "unknown-file"
)

// Hints shared by several codes.
const (
	hintRepair  = "run `raftctl repair` on this group (see `raftctl repair --dry-run` first)"
	hintReplica = "rewrite this member's log from a healthy replica that proves the lost entries (`raftctl repair --from REPLICA`), restore it from a backup, or remove the member and add it back so that it is re-seeded"
	hintTail    = "look for the newest segments (an interrupted copy or backup, a deleted file) before restarting this member: if they are gone, restore it from a healthy replica; raftctl does not change the evidence"
)

// CodeInfo describes one finding code.
type CodeInfo struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Summary says what the code means in one sentence.
	Summary string `json:"summary"`
	// Restart says what a restart by the real server does with such
	// storage: the reason for the severity.
	Restart string `json:"restart"`
	// Hint is the default remedy given with findings of this code.
	Hint string `json:"hint,omitempty"`
}

// Catalogue lists every code Verify may report, errors first.
var Catalogue = []CodeInfo{
	{CodeWALMissing, SeverityError, "the group has no WAL segment (missing or empty wal directory, or only snapshots)", "etcd bootstraps a new, empty member: the whole log is lost", hintReplica},
	{CodeSegmentSequence, SeverityError, "segment sequence numbers do not increase by exactly one (a hole, a duplicate or a jump)", "etcd refuses to open the WAL across the hole", hintReplica},
	{CodeSegmentHeader, SeverityError, "a segment does not open with the crc record etcd writes at the start of every segment, so reading from it (as etcd does to restart from a snapshot recorded in it) fails its first CRC check", "etcd refuses to read the WAL when it starts from that segment", hintReplica},
	{CodeCRCMismatch, SeverityError, "a record's CRC, or the CRC chain between records, does not match its data", "etcd refuses to read the WAL (crc mismatch)", hintReplica},
	{CodeZeroedRegion, SeverityError, "a run of zero bytes inside the log with records after it, or a segment other than the last that ends early: records in the middle of the log are lost", "etcd stops reading at the zeros and restarts without the records after them, or refuses", hintReplica},
	{CodeSegmentTruncated, SeverityError, "a segment ends inside a record or before records the next segment's CRC chain proves were there, or the last segment ends inside a record although it is shorter than the size it was preallocated to (a crash cannot shrink a preallocated file; a partial copy can)", "etcd refuses, or restarts without the records that were cut off", hintReplica},
	{CodeRecordMalformed, SeverityError, "a record, or the entry, HardState or snapshot it carries, does not decode, its type is unknown, or a segment's bytes cannot be framed as records from its start", "etcd refuses to read the WAL or panics", hintReplica},
	{CodeMetadataConflict, SeverityError, "two metadata records of the WAL differ (etcd refuses to open it)", "etcd refuses to read the WAL (metadata conflict)", hintReplica},
	{CodeIndexGap, SeverityError, "the log skips indexes", "etcd refuses to read the WAL (slice out of range) or raft panics", hintReplica},
	{CodeTermRegression, SeverityError, "an entry's term is lower than the term of the entry before it", "raft restarts with a log no correct leader wrote: no crash leaves this", hintReplica},
	{CodeCommitBeyondLast, SeverityError, "the HardState's commit index is beyond the last entry", "raft panics on restart (commit out of range): committed entries are gone", hintReplica},
	{CodeHardStateTerm, SeverityError, "the HardState's term is lower than the last entry's term", "raft restarts with a term older than its own log: no crash leaves this", hintReplica},
	{CodeSnapshotGap, SeverityError, "the entries after the newest usable snapshot do not continue at its index + 1", "etcd refuses to read the WAL or raft panics: the entries in between are gone", hintReplica},
	{CodeSnapshotRecordMissing, SeverityError, "the WAL holds no snapshot record for the snapshot etcd restarts from (the initial empty one included) where etcd looks for it, so etcd refuses to read the WAL", "etcd refuses to start (wal: snapshot not found)", hintReplica},
	{CodeSnapshotTermMismatch, SeverityError, "a snapshot's (index, term) disagrees with the log's entry at that index or with the WAL's snapshot record", "etcd refuses (snapshot mismatch) or restarts from a state that contradicts its log", hintReplica},
	{CodeSnapshotNameMismatch, SeverityError, "a .snap file's name says one (term, index) and its content another", "etcd picks snapshots by name and restarts from the wrong state", "move the file out of the snapshot directory; if etcd then has no snapshot to restart from (snapshot-gap), restore this member from a healthy replica"},
	{CodeLogTailMissing, SeverityError, "the end of the log is gone: several independent signs (snapshot files or records beyond the last entry, a last segment without the preallocated space etcd keeps at the end of the live segment, a last segment shorter than its preallocation) show that newer segments or records existed", "etcd restarts without the newest entries, committed ones included", hintTail},
	{CodeRaftRestart, SeverityError, "the raft library refuses to restart from this storage (deep mode)", "raft panics or refuses on restart", hintReplica},

	{CodeTornTail, SeverityWarning, "the last record of the last segment is incomplete, or non-record bytes follow the last record in the preallocated space (a crash during a write)", "etcd drops the unfinished record and zeroes the rest when it reopens the WAL; nothing acknowledged is lost", "run `raftctl repair` to zero the log after the last complete record, as etcd does when it reopens the WAL"},
	{CodeSegmentName, SeverityWarning, "a segment name is accepted by etcd but is not the canonical %016x-%016x.wal", "etcd reads it, but in name order: a non-canonical name can sort out of place", "run `raftctl repair` to rename it"},
	{CodeSegmentIndex, SeverityWarning, "a segment's name gives a first index other than the one etcd gives the segment it cuts (the index after the last entry written before it): the file was renamed", "etcd picks the segment to start reading from by the index in the names: a wrong one can make it start at the wrong segment (another finding says so when it does)", "run `raftctl repair` to give it the name etcd wrote"},
	{CodeEmptySegment, SeverityWarning, "a segment file holds no record", "etcd skips an empty last segment and refuses one in the middle", "run `raftctl repair` to remove it"},
	{CodeSnapshotCorrupt, SeverityWarning, "a .snap file fails its CRC or does not decode", "etcd renames it to .broken and falls back to an older snapshot (if that fallback fails, another finding says so)", "run `raftctl repair` to move the broken file aside"},
	{CodeSnapshotOrphan, SeverityWarning, "a .snap file within the log has no matching WAL snapshot record (a crash between saving a snapshot and its WAL record leaves this)", "etcd never loads it", "run `raftctl repair` to move it aside"},
	{CodeSnapshotBeyondLog, SeverityWarning, "a .snap file is newer than the log's last entry and has no WAL snapshot record: a crash between saving a snapshot received from the leader and its WAL record leaves this, and so does the loss of the newest segments", "etcd ignores it and restarts from the log it has; if the newest segments were lost, committed entries are gone", hintTail},
	{CodeLogTailSuspect, SeverityWarning, "the last segment does not end the way etcd leaves its live segment (no preallocated zero space after the last record, or shorter than its preallocation) and nothing explains it: newer segments may be missing", "etcd restarts from what is there; if newer segments existed, their entries are gone", hintTail},
	{CodeSnapshotFileMissing, SeverityWarning, "the newest usable WAL snapshot record has no .snap file (etcd falls back to an older snapshot)", "etcd restarts from an older snapshot and replays more of the log", ""},
	{CodeHardStateMissing, SeverityWarning, "the WAL holds entries but no HardState", "raft restarts with term 0 and nothing committed", ""},

	{CodeSnapshotBeyondCommit, SeverityInfo, "a WAL snapshot record is beyond the HardState's commit index (a crash between saving a snapshot received from the leader and the HardState that commits it)", "etcd ignores the record and restarts from the previous snapshot; the leader sends the snapshot again", ""},
	{CodeWriteInProgress, SeverityInfo, "a live process was writing while the group was read: an unfinished record at the end of the log, records or files that appeared while reading", "nothing to judge: the server is running", ""},
	{CodeOverwrittenEntries, SeverityInfo, "entries were overwritten by a new leader (normal after leader changes)", "raft keeps the newest record for each index, as etcd's ReadAll does", ""},
	{CodeInUse, SeverityInfo, "a live process holds a lock on the WAL; findings about its tail may reflect writes in progress", "the server is running", ""},
	{CodeUnknownFile, SeverityInfo, "a file in the WAL or snapshot directory that etcd ignores", "etcd ignores it", ""},
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
