package commitlog

import (
	"fmt"
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
	// Name is the base name, e.g. "dgraph-147009eef0fb0000.log".
	Name string `json:"name"`
	// Size is the size found when the directory was listed.
	Size int64 `json:"size"`
	// Current is true for <prefix>-current.log.
	Current bool `json:"current"`
	// EndTS is the end timestamp in a rotated file's name (the header ts of
	// its last record); 0 for the current file.
	EndTS int64 `json:"end_ts,omitempty"`
}

// Dir is a legacy instance directory, listed in reading order.
type Dir struct {
	// Path is the directory as given to Open.
	Path string
	// Prefix is the file prefix in use ("dgraph", "mutations", ...).
	Prefix string
	// Files are the files to read, in the spec's order: rotated files by the
	// numeric value of their end timestamp, then the current file.
	Files []File
	// Warnings are the anomalies found while listing (unknown names,
	// 0-byte rotated files, oversize files, ...).
	Warnings []Warning
}

// Open lists the commit log of the instance directory dir, detecting the
// prefix: "dgraph" if any file has it, else "mutations", else the only prefix
// present. Several prefixes without either of those is [ErrAmbiguousPrefix];
// use [OpenPrefix] to choose one. A directory without any commit log file is
// [ErrNoLogs].
//
// Open only lists and stats: it reads no record. Non-.log files are ignored
// silently; unreadable .log names, subdirectories, files of another prefix,
// 0-byte rotated files and files above [RotateLimit] are reported in
// Dir.Warnings.
func Open(dir string) (*Dir, error) { return OpenPrefix(dir, "") }

// OpenPrefix is [Open] with an explicit prefix; "" detects it.
func OpenPrefix(dir, prefix string) (*Dir, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	type cand struct {
		File
		prefix string
	}
	var (
		cands    []cand
		ws       warnings
		prefixes = map[string]bool{}
	)
	for _, de := range ents {
		name := de.Name()
		if de.IsDir() {
			ws.add(Warning{File: name, Offset: -1, Code: CodeSubdirectory, Message: "subdirectory not read"})
			continue
		}
		if !strings.HasSuffix(name, logExt) {
			continue
		}
		p, suffix, ok := splitName(name)
		if !ok {
			ws.add(Warning{File: name, Offset: -1, Code: CodeUnknownName,
				Message: "not <prefix>-current.log or <prefix>-<hex end ts>.log; not read"})
			continue
		}
		c := cand{File: File{Name: name}, prefix: p}
		if suffix == currentSuffix {
			c.Current = true
		} else {
			ts, err := strconv.ParseInt(suffix, 16, 64)
			if err != nil {
				ws.add(Warning{File: name, Offset: -1, Code: CodeUnknownName,
					Message: fmt.Sprintf("%q is not a hex end timestamp; not read", suffix)})
				continue
			}
			c.EndTS = ts
		}
		cands = append(cands, c)
		prefixes[p] = true
	}
	if prefix == "" {
		switch {
		case prefixes[DefaultPrefix]:
			prefix = DefaultPrefix
		case prefixes[TestPrefix]:
			prefix = TestPrefix
		case len(prefixes) == 1:
			for p := range prefixes {
				prefix = p
			}
		case len(prefixes) == 0:
			return nil, fmt.Errorf("%w in %s", ErrNoLogs, dir)
		default:
			ps := make([]string, 0, len(prefixes))
			for p := range prefixes {
				ps = append(ps, p)
			}
			sort.Strings(ps)
			return nil, fmt.Errorf("%w in %s: %s", ErrAmbiguousPrefix, dir, strings.Join(ps, ", "))
		}
	}
	if !prefixes[prefix] {
		return nil, fmt.Errorf("%w with prefix %q in %s", ErrNoLogs, prefix, dir)
	}

	d := &Dir{Path: dir, Prefix: prefix}
	var current *File
	for _, c := range cands {
		if c.prefix != prefix {
			ws.add(Warning{File: c.Name, Offset: -1, Code: CodeOtherPrefix,
				Message: fmt.Sprintf("prefix %q, not %q; not read", c.prefix, prefix)})
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, c.Name))
		if err != nil {
			return nil, fmt.Errorf("commitlog: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("commitlog: %s: not a regular file", filepath.Join(dir, c.Name))
		}
		c.Size = fi.Size()
		if c.Current {
			f := c.File
			current = &f
			continue
		}
		if want := strconv.FormatInt(c.EndTS, 16); c.Name != prefix+"-"+want+logExt {
			ws.add(Warning{File: c.Name, Offset: -1, Code: CodeNonCanonicalName,
				Message: fmt.Sprintf("the writer would have named it %s-%s.log", prefix, want)})
		}
		d.Files = append(d.Files, c.File)
	}
	sort.SliceStable(d.Files, func(i, j int) bool {
		a, b := d.Files[i], d.Files[j]
		if a.EndTS != b.EndTS {
			return a.EndTS < b.EndTS
		}
		return a.Name < b.Name
	})
	for i := 1; i < len(d.Files); i++ {
		if d.Files[i].EndTS == d.Files[i-1].EndTS {
			ws.add(Warning{File: d.Files[i].Name, Offset: -1, Code: CodeDuplicateEndTS,
				Message: fmt.Sprintf("same end timestamp as %s; read after it", d.Files[i-1].Name)})
		}
	}
	if current != nil {
		d.Files = append(d.Files, *current)
	} else {
		ws.add(Warning{Offset: -1, Code: CodeNoCurrent,
			Message: fmt.Sprintf("no %s-current.log; the last rotated file is the last file", prefix)})
	}
	for _, f := range d.Files {
		if f.Size == 0 && !f.Current {
			ws.add(Warning{File: f.Name, Offset: -1, Code: CodeEmptyFile, Message: "0-byte rotated file"})
		}
		if f.Size > RotateLimit {
			ws.add(Warning{File: f.Name, Offset: -1, Code: CodeOversizeFile,
				Message: fmt.Sprintf("%d bytes, above the %d-byte rotation limit", f.Size, RotateLimit)})
		}
	}
	d.Warnings = ws.list
	return d, nil
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
