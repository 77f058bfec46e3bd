package inspect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Segment is one WAL segment file as named on disk.
type Segment struct {
	// Path is the file's path.
	Path string `json:"path"`
	// Name is the file's base name.
	Name string `json:"name"`
	// Seq and Index are the sequence number and the first raft index encoded
	// in the name (%016x-%016x.wal).
	Seq   uint64 `json:"seq"`
	Index uint64 `json:"index"`
	// Size is the file's size in bytes when it was listed.
	Size int64 `json:"size"`
	// Canonical is false for a name that etcd accepts but that is not
	// exactly %016x-%016x.wal (for example without zero padding).
	Canonical bool `json:"canonical"`
	// file, when set, is the segment opened when it was listed: readers
	// use it instead of the path, so that a live server's purge between
	// two passes cannot take the file away (see openSegments).
	file *os.File
}

// maxHeldSegments bounds how many segments of one group openSegments
// holds open.
const maxHeldSegments = 4096

// openSegments opens every segment so that all passes over them read the
// same files, whatever a live server purges meanwhile; release closes
// them. A segment gone since it was listed is an error that satisfies
// errors.Is(err, fs.ErrNotExist). Groups with more segments than
// maxHeldSegments are read by path.
func openSegments(segs []Segment) (release func(), err error) {
	release = func() {
		for k := range segs {
			if f := segs[k].file; f != nil {
				f.Close()
				segs[k].file = nil
			}
		}
	}
	if len(segs) > maxHeldSegments {
		return release, nil
	}
	for k := range segs {
		f, err := os.Open(segs[k].Path)
		if err != nil {
			release()
			return func() {}, err
		}
		segs[k].file = f
	}
	return release, nil
}

// ParseSegmentName parses a WAL segment name the way etcd does
// (fmt.Sscanf with "%016x-%016x.wal"). It reports whether the name is
// canonical, that is, exactly what etcd itself would write.
func ParseSegmentName(name string) (seq, index uint64, canonical bool, err error) {
	if seq, index, ok := parseCanonicalName(name); ok {
		// What Sscanf gives for such a name, without its cost (a tenth
		// of verify's time over thousands of small groups).
		return seq, index, true, nil
	}
	return parseSegmentNameScanf(name)
}

// parseCanonicalName parses a name exactly as etcd writes it: 16 lower-case
// hex digits, '-', 16 more, ".wal".
func parseCanonicalName(name string) (seq, index uint64, ok bool) {
	if len(name) != 37 || name[16] != '-' || name[33:] != ".wal" {
		return 0, 0, false
	}
	seq, ok1 := lowerHex(name[:16])
	index, ok2 := lowerHex(name[17:33])
	return seq, index, ok1 && ok2
}

// lowerHex parses s as lower-case hex digits only.
func lowerHex(s string) (uint64, bool) {
	var v uint64
	for k := 0; k < len(s); k++ {
		switch c := s[k]; {
		case '0' <= c && c <= '9':
			v = v<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// parseSegmentNameScanf is ParseSegmentName for any name, through
// fmt.Sscanf as etcd parses.
func parseSegmentNameScanf(name string) (seq, index uint64, canonical bool, err error) {
	if !strings.HasSuffix(name, ".wal") {
		return 0, 0, false, fmt.Errorf("%q: not a WAL segment name (want %%016x-%%016x.wal)", name)
	}
	if _, err := fmt.Sscanf(name, "%016x-%016x.wal", &seq, &index); err != nil {
		return 0, 0, false, fmt.Errorf("%q: not a WAL segment name (want %%016x-%%016x.wal): %v", name, err)
	}
	return seq, index, name == SegmentName(seq, index), nil
}

// SegmentName is the canonical segment name etcd writes.
func SegmentName(seq, index uint64) string {
	return fmt.Sprintf("%016x-%016x.wal", seq, index)
}

// ListSegments lists the WAL segments of walDir in the order etcd reads
// them (names sorted as strings). Files whose names etcd would ignore are
// returned in ignored (".tmp" files included).
func ListSegments(walDir string) (segs []Segment, ignored []string, err error) {
	entries, err := os.ReadDir(walDir)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		seq, idx, canonical, perr := ParseSegmentName(name)
		if perr != nil {
			ignored = append(ignored, name)
			continue
		}
		p := filepath.Join(walDir, name)
		fi, err := os.Stat(p)
		if isNotExist(err) {
			if _, lerr := os.Lstat(p); isNotExist(lerr) {
				// Removed since the directory was read (a live
				// server's purge, or the rename of a cut).
				continue
			}
		}
		if err != nil {
			return nil, nil, err
		}
		if !fi.Mode().IsRegular() {
			ignored = append(ignored, name)
			continue
		}
		segs = append(segs, Segment{Path: p, Name: name, Seq: seq, Index: idx, Size: fi.Size(), Canonical: canonical})
	}
	return segs, ignored, nil
}

// isNotExist reports whether err says a file is missing.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
