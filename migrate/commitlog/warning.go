package commitlog

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Code classifies a [Warning]. Codes are stable strings, safe to match on and
// to emit in machine-readable output.
type Code string

// Warning codes.
const (
	// CodeUnknownName: a *.log file whose name has no "<prefix>-" part. The
	// original server ignored it; it is not read.
	CodeUnknownName Code = "unknown-name"
	// CodeOtherPrefix: a commit log file with a prefix other than the one
	// selected. The original server (started with one prefix) ignored it;
	// it is not read.
	CodeOtherPrefix Code = "other-prefix"
	// CodeNonCanonicalName: a rotated file whose hex part is not in the form
	// the writer produced (lowercase, no padding). It is read.
	CodeNonCanonicalName Code = "noncanonical-name"
	// CodeDuplicateEndTS: two rotated files name the same end timestamp
	// (possible only with non-canonical names); they are ordered by name.
	CodeDuplicateEndTS Code = "duplicate-end-ts"
	// CodeSubdirectory: a rotated file in a subdirectory of the instance
	// directory. The writer never created one, but the original server
	// walked the tree and replayed such files in their place; so are they
	// read.
	CodeSubdirectory Code = "subdirectory"
	// CodeUndecidedEmpty: an empty file that the original server would have
	// refused to start on or never replayed (see UndecidedError). It holds
	// nothing; it is not read.
	CodeUndecidedEmpty Code = "undecided-empty"
	// CodeNoCurrent: rotated files exist but <prefix>-current.log does not.
	CodeNoCurrent Code = "no-current"
	// CodeEmptyFile: a 0-byte rotated file (a symptom of the original
	// writer's rotation race).
	CodeEmptyFile Code = "empty-file"
	// CodeOversizeFile: a file larger than the 50 MiB rotation limit (the
	// other symptom of the rotation race).
	CodeOversizeFile Code = "oversize-file"
	// CodeDecreasingTS: a record whose header ts is lower than the previous
	// record's (pre-v0.3 data). Order is still file order.
	CodeDecreasingTS Code = "decreasing-ts"
	// CodeNameTSMismatch: a rotated file whose last record's ts differs from
	// the end timestamp in its name.
	CodeNameTSMismatch Code = "name-ts-mismatch"
	// CodeTornRecord: an incomplete record (or a zero-filled tail) at the end
	// of the last file, dropped.
	CodeTornRecord Code = "torn-record"
)

// MaxWarningsPerCode is the number of warnings of one code that are kept with
// their file and offset. Further warnings of that code are only counted
// (see [Reader.WarningCounts]), so that a directory with millions of
// timestamp inversions cannot exhaust memory.
const MaxWarningsPerCode = 100

// Warning is an anomaly that did not prevent reading.
type Warning struct {
	// File is the base name of the file concerned ("" for the directory).
	File string `json:"file,omitempty"`
	// Offset is the byte offset in File of the record concerned, or -1 when
	// the warning is about the file as a whole (left out of the JSON form).
	Offset  int64  `json:"offset"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// MarshalJSON leaves out the offset of a warning about a whole file.
func (w Warning) MarshalJSON() ([]byte, error) {
	type plain Warning
	if w.Offset >= 0 {
		return json.Marshal(plain(w))
	}
	return json.Marshal(struct {
		File    string `json:"file,omitempty"`
		Code    Code   `json:"code"`
		Message string `json:"message"`
	}{w.File, w.Code, w.Message})
}

func (w Warning) String() string {
	if w.File == "" {
		return fmt.Sprintf("%s: %s", w.Code, w.Message)
	}
	if w.Offset < 0 {
		return fmt.Sprintf("%s: %s: %s", w.File, w.Code, w.Message)
	}
	return fmt.Sprintf("%s@%d: %s: %s", w.File, w.Offset, w.Code, w.Message)
}

// warnings collects warnings, keeping at most MaxWarningsPerCode of each code.
type warnings struct {
	list   []Warning
	counts map[Code]int64
}

func (ws *warnings) add(w Warning) {
	if ws.counts == nil {
		ws.counts = make(map[Code]int64)
	}
	ws.counts[w.Code]++
	if ws.counts[w.Code] <= MaxWarningsPerCode {
		ws.list = append(ws.list, w)
	}
}

// Errors.
var (
	// ErrNoLogs is returned by [Open] for a directory without any commit log
	// file.
	ErrNoLogs = errors.New("commitlog: no commit log files")
	// ErrAmbiguousPrefix is returned by [Open] when files with several
	// prefixes exist and none of them is "dgraph" or "mutations".
	ErrAmbiguousPrefix = errors.New("commitlog: several file prefixes")
	// ErrCorrupt is wrapped by every [CorruptError]: data that cannot be a
	// commit log (a negative size, a record past the end of a file that is
	// not the last one, ...).
	ErrCorrupt = errors.New("commitlog: corrupt")
	// ErrTorn is wrapped by the [CorruptError] returned in strict mode for a
	// torn record at the end of the last file.
	ErrTorn = errors.New("commitlog: torn record at end of log")
	// ErrUndecided is wrapped by [UndecidedError]: files holding data that
	// the original server would have refused or never replayed.
	ErrUndecided = errors.New("commitlog: files the original server would refuse or never replay")
	// ErrSelection is returned by [OpenWith] for an OpenOptions.Include or
	// OpenOptions.Skip that names no file, or a file it cannot apply to.
	ErrSelection = errors.New("commitlog: invalid file selection")
	// ErrInvalidPosting is wrapped by every error of [DecodePosting].
	ErrInvalidPosting = errors.New("invalid posting")
)

// CorruptError reports impossible data at a file offset. It wraps
// [ErrCorrupt], or [ErrTorn] for a torn tail refused in strict mode.
type CorruptError struct {
	Path   string // path of the file
	Offset int64  // offset of the record (or header) concerned
	Reason string
	Err    error // ErrCorrupt or ErrTorn
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Unwrap returns ErrCorrupt or ErrTorn.
func (e *CorruptError) Unwrap() error { return e.Err }
