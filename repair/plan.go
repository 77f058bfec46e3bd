package repair

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/raftctl/raftctl/inspect"
)

// SchemaVersion is the version of the JSON form of Plan, Result,
// RestoreResult, RecoverPlan and RecoverResult. Version 2 writes the
// HardState's vote as a hex string (etcd's form of a member ID) instead
// of a number; recover apply still reads plans of version 1.
const SchemaVersion = 2

// ManifestSchemaVersion is the version of the backup manifest (unchanged
// by version 2 of the plans: backups made before stay restorable).
const ManifestSchemaVersion = 1

// Refusal codes of raftctl's own (other refusals carry the code of the
// finding they refuse).
const (
	// CodeNoUsableSnapshot: after the planned quarantines no snapshot file
	// matches a WAL snapshot record and the WAL does not start at index 0.
	CodeNoUsableSnapshot = "no-usable-snapshot"
	// CodeVerifyError: compaction refuses a group with error findings.
	CodeVerifyError = "verify-error"
	// CodeCannotCompact: compaction cannot proceed safely (see message).
	CodeCannotCompact = "cannot-compact"
)

// Operation names what a plan does.
type Operation string

// The operations.
const (
	OpRepair  Operation = "repair"
	OpCompact Operation = "compact"
)

// ActionKind is the kind of change an action makes.
type ActionKind string

// The kinds of action.
const (
	// Truncate cuts a segment after its last complete record: bytes from
	// Offset to the end become zeros, the size stays (see the package
	// documentation).
	Truncate ActionKind = "truncate"
	// Remove deletes a file.
	Remove ActionKind = "remove"
	// Quarantine renames a snapshot file aside (NewPath) in its directory.
	Quarantine ActionKind = "quarantine"
	// Rename gives a segment its canonical name (NewPath).
	Rename ActionKind = "rename"
	// Replace swaps the WAL directory Path for a rewritten one.
	Replace ActionKind = "replace"
)

// Action is one change to one file (or, for Replace, one directory).
type Action struct {
	Kind ActionKind `json:"kind"`
	// Path is the file the action changes, as it is named when the action
	// runs (after the renames before it in the plan).
	Path string `json:"path"`
	// NewPath is the name a rename or quarantine gives the file.
	NewPath string `json:"new_path,omitempty"`
	// Offset is, for Truncate, where the last complete record ends: bytes
	// from Offset on are replaced with zeros.
	Offset int64 `json:"offset,omitempty"`
	// Size is the file's size (for Replace, the directory's files' total)
	// when the plan was made.
	Size int64 `json:"size"`
	// Bytes is what the action frees on disk (Remove, Replace) or
	// overwrites with zeros (Truncate); 0 for renames.
	Bytes int64 `json:"bytes"`
	// Reason is the finding code the action mends, or "compact".
	Reason string `json:"reason"`
	// Message says what the action does, for people.
	Message string `json:"message"`
}

// Refusal is a finding the plan does not mend, because mending it offline
// could lose data or because raftctl cannot tell how.
type Refusal struct {
	Code    string `json:"code"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	Advice  string `json:"advice"`
}

// FileState pins a file's content at planning time.
type FileState struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Plan is what a repair or a compaction would do: pure data, the same in
// JSON as in memory. Apply runs it; a dry run shows it.
type Plan struct {
	SchemaVersion int           `json:"schema_version"`
	Operation     Operation     `json:"operation"`
	Group         inspect.Group `json:"group"`
	// Actions run in this order; any prefix of them leaves a readable
	// group.
	Actions  []Action  `json:"actions"`
	Refusals []Refusal `json:"refusals"`
	// Notes are facts worth telling that need no action (a finding that
	// no longer applies, nothing to compact).
	Notes []string `json:"notes,omitempty"`
	// Files are the files the actions change, move or remove, with their
	// content when planned: what the backup will hold.
	Files []FileState `json:"files"`
	// Compact describes a compaction plan.
	Compact *CompactInfo `json:"compact,omitempty"`

	// Findings and CompactOptions are the plan's inputs.
	Findings       []inspect.Finding `json:"findings,omitempty"`
	CompactOptions *CompactOptions   `json:"compact_options,omitempty"`

	// fp is what the plan was made from: Apply checks under its own locks
	// that the group still matches it (nil: a plan not made by a planner,
	// which Apply refuses as stale).
	fp *fingerprint
	// read is what the plan was made from, and readLock the lock it was
	// read under: Apply under that same lock reuses it (a rewrite reads
	// the old log from it) instead of reading the group again.
	read     *groupState
	readLock *GroupLock
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Actions) == 0 }

// BytesReclaimed is the disk space the actions free (an estimate for a
// WAL rewrite).
func (p *Plan) BytesReclaimed() int64 {
	var n int64
	for _, a := range p.Actions {
		if a.Kind == Remove || a.Kind == Replace {
			n += a.Bytes
		}
	}
	return n
}

// BytesChanged is the number of bytes the actions overwrite in place.
func (p *Plan) BytesChanged() int64 {
	var n int64
	for _, a := range p.Actions {
		if a.Kind == Truncate {
			n += a.Bytes
		}
	}
	return n
}

// Advice for findings that cannot be mended offline.
const (
	adviceReplica = "rewrite this member's log from a healthy replica that proves the lost entries (raftctl repair --from REPLICA), or restore its data from a backup, or remove the member from the cluster and add it back empty so that it re-syncs from the leader (etcd: etcdctl member remove / member add, then start it with an empty data directory)"
	adviceRerun   = "run verify again and repair with its fresh findings"
)

// adviceFor returns what to do about a finding repair does not mend.
func adviceFor(code string) string {
	switch code {
	case inspect.CodeZeroedRegion:
		return "valid records follow a zeroed region, so truncating would drop entries that may be committed; " + adviceReplica
	case inspect.CodeCRCMismatch:
		return "a record in the middle of the log is corrupt and everything after it is unreadable; " + adviceReplica
	}
	return adviceReplica
}

func (p *Plan) refuse(code, path, format string, args ...any) {
	p.Refusals = append(p.Refusals, Refusal{Code: code, Path: path, Message: fmt.Sprintf(format, args...), Advice: adviceFor(code)})
}

func (p *Plan) refuseWith(code, path, advice, format string, args ...any) {
	p.Refusals = append(p.Refusals, Refusal{Code: code, Path: path, Message: fmt.Sprintf(format, args...), Advice: advice})
}

func (p *Plan) note(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}

// planPart is one part of two plans compared by sameParts: its name and
// each plan's value.
type planPart struct {
	name string
	x, y any
}

// sameParts compares the parts of two plans by their JSON form and
// returns a *StaleError naming the first that differs.
func sameParts(parts []planPart) error {
	for _, part := range parts {
		x, err1 := json.Marshal(part.x)
		y, err2 := json.Marshal(part.y)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			return &StaleError{Reason: "its " + part.name + " differ"}
		}
	}
	return nil
}
