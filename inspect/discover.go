package inspect

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Group is one Raft group's storage: a WAL directory and a snapshot
// directory.
type Group struct {
	// Name is the group's directory relative to the path it was found
	// under (the path's base name when the path is the group itself).
	Name string `json:"name"`
	// Dir is the group's directory.
	Dir string `json:"dir"`
	// WALDir and SnapDir are the directories holding segments and .snap
	// files; either may be missing on disk (SnapDir is "" when none).
	WALDir  string `json:"wal_dir"`
	SnapDir string `json:"snap_dir"`
}

// NotRaftError says that a path holds no Raft group.
type NotRaftError struct{ Path string }

func (e *NotRaftError) Error() string {
	return fmt.Sprintf("%s: no Raft group found (want a directory with wal/ or snap/*.snap, member/wal as etcd writes it, or *.wal segments)", e.Path)
}

// DiscoverOptions filter discovery.
type DiscoverOptions struct {
	// Globs keep only groups whose name matches one of them (path.Match
	// syntax); all groups when empty.
	Globs []string
}

// ValidateGlobs reports the first malformed pattern.
func ValidateGlobs(globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("bad --group pattern %q: %v", g, err)
		}
	}
	return nil
}

// Discover searches each path recursively for groups and returns them
// sorted by name. A directory is a group when it has a wal/ subdirectory
// (even an empty one) or a snap/ subdirectory holding *.snap files; when
// it has member/wal or member/snap as etcd lays them out (the group is
// named after the directory above member/); or when it holds *.wal files
// itself (snapshots then come from a sibling snap/). Hidden directories are
// never searched. A path that does not exist, cannot be read or holds no
// group is an error.
func Discover(paths []string, opts DiscoverOptions) ([]Group, error) {
	if err := ValidateGlobs(opts.Globs); err != nil {
		return nil, err
	}
	var groups []Group
	for _, root := range paths {
		found, err := discoverOne(root)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, &NotRaftError{Path: root}
		}
		groups = append(groups, found...)
	}
	if len(opts.Globs) > 0 {
		kept := groups[:0]
		for _, g := range groups {
			for _, pat := range opts.Globs {
				if ok, _ := path.Match(pat, g.Name); ok {
					kept = append(kept, g)
					break
				}
			}
		}
		groups = kept
	}
	sort.SliceStable(groups, func(i, j int) bool {
		if groups[i].Name != groups[j].Name {
			return groups[i].Name < groups[j].Name
		}
		return groups[i].Dir < groups[j].Dir
	})
	return groups, nil
}

func discoverOne(root string) ([]Group, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", root)
	}
	var groups []Group
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		g, ok, err := classify(p)
		if err != nil {
			return err
		}
		if !ok && p == root && filepath.Base(filepath.Clean(p)) == "wal" {
			// The user named a WAL directory, even an empty one.
			g, ok = Group{Dir: p, WALDir: p}, true
			if sd := filepath.Join(filepath.Dir(filepath.Clean(p)), "snap"); isDir(sd) {
				g.SnapDir = sd
			}
		}
		if !ok {
			return nil
		}
		g.Name = groupName(root, p)
		groups = append(groups, g)
		return filepath.SkipDir
	})
	return groups, err
}

func groupName(root, dir string) string {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." {
		base := filepath.Base(filepath.Clean(dir))
		if base == "wal" || base == "member" {
			// The user named the WAL directory itself: name the group
			// after the directory that holds it.
			if abs, err := filepath.Abs(dir); err == nil {
				base = filepath.Base(filepath.Dir(abs))
				if base == "member" {
					base = filepath.Base(filepath.Dir(filepath.Dir(abs)))
				}
			}
		}
		return base
	}
	return filepath.ToSlash(rel)
}

// classify decides whether dir is a group and where its parts are.
func classify(dir string) (Group, bool, error) {
	g := Group{Dir: dir}
	for _, base := range []string{dir, filepath.Join(dir, "member")} {
		walDir, snapDir := filepath.Join(base, "wal"), filepath.Join(base, "snap")
		hasWAL := isDir(walDir)
		hasSnaps, err := holdsSnaps(snapDir)
		if err != nil {
			return g, false, err
		}
		if !hasWAL && hasSnaps {
			// Segments may sit in a sibling of snap/ under another name.
			if d, ok := segmentChild(base); ok {
				walDir = d
			}
		}
		if hasWAL || hasSnaps {
			g.WALDir = walDir
			if isDir(snapDir) {
				g.SnapDir = snapDir
			}
			return g, true, nil
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return g, false, err
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".wal") {
			g.WALDir = dir
			if sd := filepath.Join(filepath.Dir(filepath.Clean(dir)), "snap"); isDir(sd) {
				g.SnapDir = sd
			}
			return g, true, nil
		}
	}
	return g, false, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func holdsSnaps(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if isNotExist(err) {
			return false, nil
		}
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return false, nil
		}
		return false, err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".snap") {
			return true, nil
		}
	}
	return false, nil
}

// segmentChild finds the one subdirectory of dir that holds *.wal files.
func segmentChild(dir string) (string, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	found := ""
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == "snap" {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		files, err := os.ReadDir(sub)
		if err != nil {
			continue
		}
		for _, f := range files {
			if !f.IsDir() && strings.HasSuffix(f.Name(), ".wal") {
				if found != "" {
					return "", false
				}
				found = sub
				break
			}
		}
	}
	return found, found != ""
}
