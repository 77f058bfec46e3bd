package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	// HeaderSize is the size of a record header: ts, hash, size.
	HeaderSize = 16
	// RotateLimit is the size at which the original writer rotated the
	// current file (50 MiB, hard-coded): before appending a record of payload
	// size N, it rotated if size+16+N > RotateLimit.
	RotateLimit = 50 << 20
	// DefaultPrefix is the file prefix of a server (tests used "mutations").
	DefaultPrefix = "dgraph"
	// TestPrefix is the file prefix the original tests used.
	TestPrefix = "mutations"

	currentSuffix = "current"
	logExt        = ".log"
)

// File is one commit log file of a [Dir].
type File struct {
	// Name is the file's path relative to the instance directory, with
	// slashes: "dgraph-147009eef0fb0000.log", or "old/dgraph-1f.log" for a
	// file in a subdirectory.
	Name string `json:"name"`
	// Size is the size found when the directory was listed.
	Size int64 `json:"size"`
	// Current is true for the instance directory's own <prefix>-current.log.
	Current bool `json:"current"`
	// EndTS is the end timestamp in a rotated file's name (the header ts of
	// its last record), or the position given to an included file; 0 for the
	// current file.
	EndTS int64 `json:"end_ts,omitempty"`
	// Included is true for a file read only because OpenOptions.Include
	// names it.
	Included bool `json:"included,omitempty"`
}

// Skipped is a file left unread because OpenOptions.Skip names it.
type Skipped struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Dir is a legacy instance directory, listed in reading order.
type Dir struct {
	// Path is the directory as given to Open.
	Path string
	// Prefix is the file prefix in use ("dgraph", "mutations", ...).
	Prefix string
	// Files are the files to read, in the original server's order: rotated
	// files (from the whole tree) by the numeric value of their end
	// timestamp, then the current file.
	Files []File
	// Skipped are the files left unread by choice (OpenOptions.Skip).
	Skipped []Skipped
	// Warnings are the anomalies found while listing (files of another
	// prefix, 0-byte rotated files, oversize files, ...).
	Warnings []Warning
}

// Include names a file to read although the original server would have
// refused to start on it or never replayed it, and where to read it.
type Include struct {
	// File is the path relative to the instance directory.
	File string
	// EndTS places the file among the rotated files as if it were named for
	// this end timestamp. Without HasEndTS, the header ts of the file's last
	// record is used: the name the original writer would have given it.
	EndTS    int64
	HasEndTS bool
}

// OpenOptions configure [OpenWith]. The zero value detects the prefix and
// decides nothing.
type OpenOptions struct {
	// Prefix is the file prefix; "" detects it (see [Open]).
	Prefix string
	// Include are files to read that would otherwise be an [UndecidedError].
	Include []Include
	// Skip are files not to read (paths relative to the directory). Any
	// file of the tree can be skipped; each is listed in Dir.Skipped.
	Skip []string
}

// Undecided is a file holding data that the original server would have
// refused to start on, or would never have replayed.
type Undecided struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
}

// UndecidedError lists the files of an instance directory that hold data
// the original server would have refused or never replayed. Reading the
// directory without a decision for each would drop them or guess their
// order; name each in OpenOptions.Include or OpenOptions.Skip. It wraps
// [ErrUndecided].
type UndecidedError struct {
	Dir   string
	Files []Undecided
}

func (e *UndecidedError) Error() string {
	parts := make([]string, len(e.Files))
	for i, f := range e.Files {
		parts[i] = fmt.Sprintf("%s (%s)", filepath.Join(e.Dir, filepath.FromSlash(f.Name)), f.Reason)
	}
	return fmt.Sprintf("%d file(s) that the original server would refuse or never replay: %s", len(e.Files), strings.Join(parts, "; "))
}

// Unwrap returns ErrUndecided.
func (e *UndecidedError) Unwrap() error { return ErrUndecided }

// Open lists the commit log of the instance directory dir, as the original
// server did: it walks the whole tree (subdirectories included), and every
// file named <prefix>-<suffix>.log is the current file (suffix "current", in
// dir itself) or a rotated file whose suffix is its end timestamp in hex.
// The prefix is detected: "dgraph" if any file has it, else "mutations",
// else the only prefix present; several prefixes without either of those
// is [ErrAmbiguousPrefix] (use [OpenWith] to choose one). A directory
// without any commit log file is [ErrNoLogs].
//
// A file holding data that the original server would have refused to start
// on (a suffix that is not a hex int64, such as "0x1f", "foo" or a value
// that overflows) or would never have replayed (a negative end timestamp, a
// <prefix>-current.log in a subdirectory) makes Open fail with an
// [*UndecidedError] naming every such file: use [OpenWith] to include or
// skip each. Empty ones are only warnings.
//
// Open only lists and stats: it reads no record. Files that are not *.log
// are ignored silently; *.log files of another prefix, rotated files read
// from subdirectories, 0-byte rotated files and files above [RotateLimit]
// are reported in Dir.Warnings.
func Open(dir string) (*Dir, error) { return OpenWith(dir, OpenOptions{}) }

// OpenPrefix is [Open] with an explicit prefix; "" detects it.
func OpenPrefix(dir, prefix string) (*Dir, error) { return OpenWith(dir, OpenOptions{Prefix: prefix}) }

// candidate is a *.log file found in the tree.
type candidate struct {
	rel  string // relative path, slash-separated
	base string
	path string // dir joined with rel
	typ  fs.FileMode
}

// OpenWith is [Open] with options: a prefix, and the files to include or
// skip. A name in Include or Skip that is not a file of the tree, a file
// both included and skipped, or an included file that is read anyway is an
// error wrapping [ErrSelection]; so is an included file whose last record
// cannot be found (then give its EndTS).
func OpenWith(dir string, opts OpenOptions) (*Dir, error) {
	cands, err := listCandidates(dir, opts)
	if err != nil {
		return nil, err
	}
	prefix := opts.Prefix
	if prefix == "" {
		if prefix, err = detectPrefix(dir, cands); err != nil {
			return nil, err
		}
	}
	sel, err := newSelection(dir, opts)
	if err != nil {
		return nil, err
	}
	l := &lister{d: &Dir{Path: dir, Prefix: prefix}, sel: sel}
	for _, c := range cands {
		if err := l.add(c); err != nil {
			return nil, err
		}
	}
	if err := sel.unused(dir); err != nil {
		return nil, err
	}
	if len(l.undecided) > 0 {
		return nil, &UndecidedError{Dir: dir, Files: l.undecided}
	}
	if !l.found && len(l.d.Files) == 0 {
		if opts.Prefix != "" {
			return nil, fmt.Errorf("%w with prefix %q in %s", ErrNoLogs, prefix, dir)
		}
		return nil, fmt.Errorf("%w in %s", ErrNoLogs, dir)
	}
	l.order()
	l.d.Warnings = l.ws.list
	return l.d, nil
}

// listCandidates walks the tree of dir and returns every *.log file, and
// every file opts names, in the walk's (lexical) order.
func listCandidates(dir string, opts OpenOptions) ([]candidate, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("commitlog: %s: not a directory", dir)
	}
	var cands []candidate
	// The trailing separator makes the walk enter dir even when it is a
	// symbolic link; links below it are not followed, as in the original.
	err = filepath.WalkDir(dir+string(filepath.Separator), func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() || !strings.HasSuffix(de.Name(), logExt) && !opts.mentions(dir, p) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		cands = append(cands, candidate{rel: filepath.ToSlash(rel), base: de.Name(), path: p, typ: de.Type()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	return cands, nil
}

// selection is what OpenOptions decide, by path below the directory;
// lister deletes each entry as it meets its file.
type selection struct {
	include map[string]Include
	skip    map[string]bool
}

// newSelection indexes opts' Include and Skip; a file named by both is
// an error wrapping ErrSelection.
func newSelection(dir string, opts OpenOptions) (*selection, error) {
	sel := &selection{include: map[string]Include{}, skip: map[string]bool{}}
	for _, in := range opts.Include {
		sel.include[cleanRel(in.File)] = in
	}
	for _, s := range opts.Skip {
		s = cleanRel(s)
		if _, ok := sel.include[s]; ok {
			return nil, fmt.Errorf("%w: %s is both included and skipped", ErrSelection, filepath.Join(dir, s))
		}
		sel.skip[s] = true
	}
	return sel, nil
}

// unused returns an error wrapping ErrSelection for a name of Include or
// Skip that named no file of the tree.
func (sel *selection) unused(dir string) error {
	for rel := range sel.include {
		return fmt.Errorf("%w: no file %s", ErrSelection, filepath.Join(dir, filepath.FromSlash(rel)))
	}
	for rel := range sel.skip {
		return fmt.Errorf("%w: no file %s", ErrSelection, filepath.Join(dir, filepath.FromSlash(rel)))
	}
	return nil
}

// lister builds a Dir from the candidates, one at a time.
type lister struct {
	d         *Dir
	sel       *selection
	ws        warnings
	current   *File
	undecided []Undecided
	found     bool // any file of the prefix
}

// add places one candidate: chosen by the selection, ignored, warned
// about, undecided, the current file or a rotated file.
func (l *lister) add(c candidate) error {
	prefix := l.d.Prefix
	k := classify(c.base, prefix)
	nested := strings.Contains(c.rel, "/")
	if k.kind == kindCurrent && nested {
		k = kindInfo{kind: kindUndecided, reason: "a current file in a subdirectory: the original server only replayed " + CurrentName(prefix) + " of the instance directory"}
	}
	if k.kind != kindForeign && k.kind != kindIgnored {
		l.found = true
	}
	in, included := l.sel.include[c.rel]
	if l.sel.skip[c.rel] || included {
		delete(l.sel.skip, c.rel)
		delete(l.sel.include, c.rel)
		return l.addChosen(c, k, in, included)
	}
	switch k.kind {
	case kindIgnored:
		return nil
	case kindForeign:
		code, msg := CodeUnknownName, "not <prefix>-current.log or <prefix>-<hex end ts>.log; not read"
		if p, _, ok := splitName(c.base); ok {
			code, msg = CodeOtherPrefix, fmt.Sprintf("prefix %q, not %q; not read", p, prefix)
		}
		l.ws.add(Warning{File: c.rel, Offset: -1, Code: code, Message: msg})
		return nil
	}
	size, err := regularSize(c)
	if err != nil {
		return err
	}
	switch k.kind {
	case kindUndecided:
		if size == 0 {
			l.ws.add(Warning{File: c.rel, Offset: -1, Code: CodeUndecidedEmpty, Message: k.reason + "; empty, not read"})
			return nil
		}
		l.undecided = append(l.undecided, Undecided{Name: c.rel, Size: size, Reason: k.reason})
	case kindCurrent:
		l.current = &File{Name: c.rel, Size: size, Current: true}
	case kindRotated:
		if nested {
			l.ws.add(Warning{File: c.rel, Offset: -1, Code: CodeSubdirectory,
				Message: "a rotated file in a subdirectory; read in its place, as the original server did"})
		}
		if !k.canonical {
			l.ws.add(Warning{File: c.rel, Offset: -1, Code: CodeNonCanonicalName,
				Message: fmt.Sprintf("the writer would have named it %s", RotatedName(prefix, k.endTS))})
		}
		l.d.Files = append(l.d.Files, File{Name: c.rel, Size: size, EndTS: k.endTS})
	}
	return nil
}

// addChosen places a candidate named by Include (included) or Skip: a
// skipped file is listed in Dir.Skipped; an included one is read at its
// EndTS, or at the ts of its last record, unless it is read anyway (an
// error wrapping ErrSelection).
func (l *lister) addChosen(c candidate, k kindInfo, in Include, included bool) error {
	size, err := regularSize(c)
	if err != nil {
		return err
	}
	if !included {
		l.d.Skipped = append(l.d.Skipped, Skipped{Name: c.rel, Size: size})
		return nil
	}
	if k.kind == kindRotated || k.kind == kindCurrent {
		return fmt.Errorf("%w: %s is read anyway; --include is for files the original server would refuse or never replay", ErrSelection, c.path)
	}
	f := File{Name: c.rel, Size: size, Included: true, EndTS: in.EndTS}
	if !in.HasEndTS && size > 0 {
		if f.EndTS, err = lastRecordTS(c.path, size); err != nil {
			return fmt.Errorf("%w: %s: %w; give its position explicitly", ErrSelection, c.path, err)
		}
	}
	l.d.Files = append(l.d.Files, f)
	return nil
}

// order sorts the files as the original server read them (by end
// timestamp, then name; the current file last) and warns about equal end
// timestamps, a missing current file, and empty or oversize files.
func (l *lister) order() {
	d := l.d
	sort.SliceStable(d.Files, func(i, j int) bool {
		a, b := d.Files[i], d.Files[j]
		if a.EndTS != b.EndTS {
			return a.EndTS < b.EndTS
		}
		return a.Name < b.Name
	})
	for i := 1; i < len(d.Files); i++ {
		if d.Files[i].EndTS == d.Files[i-1].EndTS {
			l.ws.add(Warning{File: d.Files[i].Name, Offset: -1, Code: CodeDuplicateEndTS,
				Message: fmt.Sprintf("same end timestamp as %s; read after it", d.Files[i-1].Name)})
		}
	}
	if l.current != nil {
		d.Files = append(d.Files, *l.current)
	} else {
		l.ws.add(Warning{Offset: -1, Code: CodeNoCurrent,
			Message: fmt.Sprintf("no %s; the last rotated file is the last file", CurrentName(d.Prefix))})
	}
	for _, f := range d.Files {
		if f.Size == 0 && !f.Current {
			l.ws.add(Warning{File: f.Name, Offset: -1, Code: CodeEmptyFile, Message: "0-byte rotated file"})
		}
		if f.Size > RotateLimit {
			l.ws.add(Warning{File: f.Name, Offset: -1, Code: CodeOversizeFile,
				Message: fmt.Sprintf("%d bytes, above the %d-byte rotation limit", f.Size, RotateLimit)})
		}
	}
}

// mentions reports whether p is named in Include or Skip (so that a file
// without the .log extension can be chosen too).
func (o *OpenOptions) mentions(dir, p string) bool {
	if len(o.Include) == 0 && len(o.Skip) == 0 {
		return false
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return false
	}
	rel = filepath.ToSlash(rel)
	for _, in := range o.Include {
		if cleanRel(in.File) == rel {
			return true
		}
	}
	for _, s := range o.Skip {
		if cleanRel(s) == rel {
			return true
		}
	}
	return false
}

func cleanRel(p string) string { return filepath.ToSlash(filepath.Clean(p)) }

// regularSize stats a candidate (following a symbolic link, as the original
// server's open did) and returns its size; anything but a regular file is
// an error.
func regularSize(c candidate) (int64, error) {
	fi, err := os.Stat(c.path)
	if err != nil {
		return 0, fmt.Errorf("commitlog: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("commitlog: %s: not a regular file", c.path)
	}
	return fi.Size(), nil
}

type fileKind int

const (
	kindIgnored   fileKind = iota // not *.log
	kindForeign                   // *.log without the prefix: the original ignored it
	kindCurrent                   // <prefix>-current.log
	kindRotated                   // <prefix>-<hex int64 >= 0>.log
	kindUndecided                 // refused or never replayed by the original
)

type kindInfo struct {
	kind      fileKind
	endTS     int64
	canonical bool
	reason    string
}

// classify applies the original server's rule to a base name: a file
// <prefix>-<suffix>.log is the current file if suffix is "current", else
// suffix must parse as a hex int64 (strconv.ParseInt(suffix, 16, 64): an
// optional sign, any case, leading zeros, no "0x") or the server refused to
// start. A negative end timestamp was accepted but never replayed (the
// replay only read files ending after the posting list's timestamp).
func classify(base, prefix string) kindInfo {
	if !strings.HasSuffix(base, logExt) {
		return kindInfo{kind: kindIgnored}
	}
	if !strings.HasPrefix(base, prefix+"-") {
		return kindInfo{kind: kindForeign}
	}
	suffix := base[len(prefix)+1 : len(base)-len(logExt)]
	if suffix == currentSuffix {
		return kindInfo{kind: kindCurrent}
	}
	ts, err := strconv.ParseInt(suffix, 16, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return kindInfo{kind: kindUndecided, reason: fmt.Sprintf("end timestamp %q overflows int64: the original server refused to start", suffix)}
	case err != nil && (strings.HasPrefix(suffix, "0x") || strings.HasPrefix(suffix, "0X")):
		return kindInfo{kind: kindUndecided, reason: fmt.Sprintf("end timestamp %q has a 0x prefix: the original server refused to start", suffix)}
	case err != nil:
		return kindInfo{kind: kindUndecided, reason: fmt.Sprintf("%q is not a hex end timestamp: the original server refused to start", suffix)}
	case ts < 0:
		return kindInfo{kind: kindUndecided, reason: fmt.Sprintf("negative end timestamp %d: the original server never replayed it", ts)}
	}
	return kindInfo{kind: kindRotated, endTS: ts, canonical: suffix == strconv.FormatInt(ts, 16)}
}

// detectPrefix picks the prefix: "dgraph" if any file has it, else
// "mutations", else the only prefix of the well-formed names, else the only
// prefix at all.
func detectPrefix(dir string, cands []candidate) (string, error) {
	valid, all := map[string]bool{}, map[string]bool{}
	for _, c := range cands {
		if !strings.HasSuffix(c.base, logExt) {
			continue
		}
		for _, p := range []string{DefaultPrefix, TestPrefix} {
			if strings.HasPrefix(c.base, p+"-") {
				all[p] = true
			}
		}
		p, _, ok := splitName(c.base)
		if !ok {
			continue
		}
		all[p] = true
		if k := classify(c.base, p); k.kind == kindRotated || k.kind == kindCurrent {
			valid[p] = true
		}
	}
	switch {
	case all[DefaultPrefix]:
		return DefaultPrefix, nil
	case all[TestPrefix]:
		return TestPrefix, nil
	case len(valid) == 1:
		return onlyKey(valid), nil
	case len(valid) == 0 && len(all) == 1:
		return onlyKey(all), nil
	case len(all) == 0:
		return "", fmt.Errorf("%w in %s", ErrNoLogs, dir)
	}
	ps := valid
	if len(ps) == 0 {
		ps = all
	}
	names := make([]string, 0, len(ps))
	for p := range ps {
		names = append(names, p)
	}
	sort.Strings(names)
	return "", fmt.Errorf("%w in %s: %s", ErrAmbiguousPrefix, dir, strings.Join(names, ", "))
}

func onlyKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

// lastRecordTS walks the record headers of the file at path (size bytes)
// and returns the header ts of its last record. Any length that does not
// fit is an error: the file's position cannot be derived then.
func lastRecordTS(path string, size int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var (
		h    [HeaderSize]byte
		off  int64
		last int64
	)
	for off < size {
		if size-off < HeaderSize {
			return 0, fmt.Errorf("offset %d: %d bytes, shorter than a record header", off, size-off)
		}
		if _, err := f.ReadAt(h[:], off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		n := int64(int32(binary.LittleEndian.Uint32(h[12:16])))
		if n <= 0 || n > size-off-HeaderSize {
			return 0, fmt.Errorf("offset %d: payload size %d does not fit the file", off, n)
		}
		last = int64(binary.LittleEndian.Uint64(h[0:8]))
		off += HeaderSize + n
	}
	return last, nil
}

// splitName splits "<prefix>-<suffix>.log" at its last '-'.
func splitName(name string) (prefix, suffix string, ok bool) {
	base := strings.TrimSuffix(name, logExt)
	i := strings.LastIndexByte(base, '-')
	if i <= 0 || i == len(base)-1 {
		return "", "", false
	}
	return base[:i], base[i+1:], true
}

// Size is the total size of the files, as listed.
func (d *Dir) Size() int64 {
	var n int64
	for _, f := range d.Files {
		n += f.Size
	}
	return n
}

// RotatedName returns the name the original writer gave a rotated file whose
// last record has header ts endTS.
func RotatedName(prefix string, endTS int64) string {
	return prefix + "-" + strconv.FormatInt(endTS, 16) + logExt
}

// CurrentName returns the name of the file being appended to.
func CurrentName(prefix string) string { return prefix + "-" + currentSuffix + logExt }
