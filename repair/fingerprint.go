package repair

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/raftctl/raftctl/inspect"
)

// fingerprint is what a plan was made from, as the file system describes
// it without reading a byte: the WAL directory's segment names and, for
// every segment and every file the plan pins, its identity (device and
// inode), size and modification time; for a compaction also the names in
// the snapshot directory (a purge there changes what it keeps). Apply
// compares it with the group under its lock instead of planning again: any
// write to a file changes its modification time, a file replaced by a
// rename changes its inode, a cut or purge changes the listing. (Bytes
// that changed while size and time were forged back are not seen; the
// backup still refuses a pinned file whose SHA-256 changed.)
type fingerprint struct {
	segs  []string
	files map[string]fs.FileInfo
	snaps []string // nil unless the plan depends on the snapshot listing
}

// takeFingerprint records the fingerprint of a plan made from st.
func takeFingerprint(g inspect.Group, st *groupState, p *Plan, withSnaps bool) (*fingerprint, error) {
	fp := &fingerprint{files: map[string]fs.FileInfo{}}
	for _, s := range st.segs {
		fp.segs = append(fp.segs, s.Name)
		if err := fp.stat(s.Path); err != nil {
			return nil, err
		}
	}
	for _, f := range p.Files {
		if err := fp.stat(f.Path); err != nil {
			return nil, err
		}
	}
	if withSnaps {
		var err error
		if fp.snaps, err = snapDirNames(g.SnapDir); err != nil {
			return nil, err
		}
	}
	return fp, nil
}

func (fp *fingerprint) stat(path string) error {
	if _, ok := fp.files[path]; ok {
		return nil
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	fp.files[path] = fi
	return nil
}

// snapDirNames lists the .snap names of a snapshot directory ([] when there
// is none).
func snapDirNames(dir string) ([]string, error) {
	names := []string{}
	if dir == "" {
		return names, nil
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return names, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".snap") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// check fails with *StaleError when the group is not what fp describes.
// touched reports files that are the same files with the same sizes but
// newer modification times: written, perhaps with the same bytes, which
// the fingerprint cannot tell (checkFresh then compares plans).
func (fp *fingerprint) check(g inspect.Group) (touched bool, err error) {
	segs, _, err := inspect.OpenGroup(g)
	if err != nil {
		return false, err
	}
	var names []string
	for _, s := range segs {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, fp.segs) {
		return false, &StaleError{Reason: "its segments differ"}
	}
	for path, was := range fp.files {
		now, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, &StaleError{Reason: path + " is gone"}
		}
		if err != nil {
			return false, err
		}
		if !os.SameFile(was, now) || was.Size() != now.Size() || was.Mode() != now.Mode() {
			return false, &StaleError{Reason: path + " changed"}
		}
		touched = touched || !was.ModTime().Equal(now.ModTime())
	}
	if fp.snaps != nil {
		names, err := snapDirNames(g.SnapDir)
		if err != nil {
			return false, err
		}
		if !slices.Equal(names, fp.snaps) {
			return false, &StaleError{Reason: "its snapshot files differ"}
		}
	}
	return touched, nil
}

// fingerprintGroup is the fingerprint of a plan made from g's WAL (its
// segment listing and every segment), with its snapshot listing when
// withSnaps: what RepairFrom checks for the member and the donor between
// planning and applying under the same locks.
func fingerprintGroup(g inspect.Group, withSnaps bool) (*fingerprint, error) {
	segs, _, err := inspect.OpenGroup(g)
	if err != nil {
		return nil, err
	}
	fp := &fingerprint{files: map[string]fs.FileInfo{}}
	for _, s := range segs {
		fp.segs = append(fp.segs, s.Name)
		if err := fp.stat(s.Path); err != nil {
			return nil, err
		}
	}
	if withSnaps {
		if fp.snaps, err = snapDirNames(g.SnapDir); err != nil {
			return nil, err
		}
	}
	return fp, nil
}
