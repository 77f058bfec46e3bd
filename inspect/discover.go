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
	// Layout names the layout the group was found in: etcd
	// (DIR/member/{wal,snap}, k3s's server/db/etcd among them), fabric
	// (Hyperledger Fabric's etcdraft/wal/<channel> and
	// etcdraft/snapshot/<channel>), swarmkit (Docker SwarmKit's
	// raft/wal-v3[-encrypted] and raft/snap-v3[-encrypted]), plain (DIR/wal
	// and DIR/snap) or segments (a directory of *.wal files).
	Layout string `json:"layout,omitempty"`
	// Encrypted is set for SwarmKit's encrypted WAL and snapshots: their
	// framing, CRCs, HardState and Raft metadata are readable, entry
	// payloads and snapshot data are not.
	Encrypted bool `json:"encrypted,omitempty"`
}

// NotRaftError says that a path holds no Raft group.
type NotRaftError struct{ Path string }

func (e *NotRaftError) Error() string {
	return fmt.Sprintf("%s: no Raft group found (want a directory with wal/ or snap/*.snap, member/wal as etcd writes it, etcdraft/wal/<channel> as Fabric does, raft/wal-v3-encrypted as SwarmKit does, or *.wal segments)", e.Path)
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
// named after the directory above member/; k3s keeps it in
// server/db/etcd); when it has SwarmKit's wal-v3[-encrypted] and
// snap-v3[-encrypted]; or when it holds *.wal files itself (snapshots then
// come from a sibling snap/, or for Fabric's etcdraft/wal/<channel> from
// etcdraft/snapshot/<channel>; the group is named etcdraft/<channel>).
// Hidden directories are never searched. Symbolic links to directories are
// followed, each real directory visited once (a link loop ends there). A
// path that does not exist, cannot be read or holds no group is an error.
//
// Names are unique: when two paths give groups the same name, each such
// name is prefixed with the base name of the path it was found under (or,
// when the path is the group itself, of the directory above it), and
// failing that with the path as given.
func Discover(paths []string, opts DiscoverOptions) ([]Group, error) {
	if err := ValidateGlobs(opts.Globs); err != nil {
		return nil, err
	}
	var groups []Group
	var roots []string // the path each group was found under
	for _, root := range paths {
		found, err := discoverOne(root)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, &NotRaftError{Path: root}
		}
		groups = append(groups, found...)
		for range found {
			roots = append(roots, root)
		}
	}
	uniqueNames(groups, roots)
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

// uniqueNames qualifies the names that groups found under different paths
// share: with the path's base name (the parent's when the path is the
// group), then with the path as given.
func uniqueNames(groups []Group, roots []string) {
	count := func() map[string]int {
		n := map[string]int{}
		for _, g := range groups {
			n[g.Name]++
		}
		return n
	}
	n := count()
	orig := make([]string, len(groups))
	for k := range groups {
		orig[k] = groups[k].Name
		if n[groups[k].Name] < 2 {
			continue
		}
		root := filepath.Clean(roots[k])
		prefix := filepath.Base(root)
		if same(root, groups[k].Dir) {
			if abs, err := filepath.Abs(root); err == nil {
				prefix = filepath.Base(filepath.Dir(abs))
			}
		}
		groups[k].Name = prefix + "/" + groups[k].Name
	}
	n = count()
	for k := range groups {
		if n[groups[k].Name] > 1 {
			groups[k].Name = filepath.ToSlash(filepath.Clean(roots[k])) + "/" + orig[k]
		}
	}
}

func same(a, b string) bool {
	return filepath.Clean(a) == filepath.Clean(b)
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
	visited := map[string]bool{}
	var visit func(p string) error
	visit = func(p string) error {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return err
		}
		if visited[real] {
			return nil // a link loop, or a directory linked twice
		}
		visited[real] = true
		g, ok, err := classify(p)
		if err != nil {
			return err
		}
		if !ok && p == root && filepath.Base(filepath.Clean(p)) == "wal" {
			// The user named a WAL directory, even an empty one.
			g, ok = Group{Dir: p, WALDir: p, Layout: "segments"}, true
			if sd := filepath.Join(filepath.Dir(filepath.Clean(p)), "snap"); isDir(sd) {
				g.SnapDir = sd
			}
		}
		if ok {
			g.Name = groupName(root, p)
			if g.Layout == "fabric" {
				g.Name = fabricName(root, p)
			}
			groups = append(groups, g)
			return nil
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			sub := filepath.Join(p, e.Name())
			switch {
			case e.IsDir():
			case e.Type()&fs.ModeSymlink != 0 && isDir(sub):
			default:
				continue
			}
			if err := visit(sub); err != nil {
				return err
			}
		}
		return nil
	}
	err = visit(root)
	return groups, err
}

// fabricName names a Fabric channel's group etcdraft/<channel>, relative
// to the path searched (just <channel> when the path is etcdraft/wal, or
// the channel's own directory).
func fabricName(root, walDir string) string {
	channel := filepath.Base(walDir)
	etcdraft := filepath.Dir(filepath.Dir(walDir))
	rel, err := filepath.Rel(root, etcdraft)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return channel
	}
	return filepath.ToSlash(filepath.Join(rel, channel))
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
	if isFabricRoot(dir) {
		// etcdraft/: wal/<channel> and snapshot/<channel> hold one group
		// per channel, found further down.
		return g, false, nil
	}
	for k, base := range []string{dir, filepath.Join(dir, "member")} {
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
			g.Layout = "plain"
			if k == 1 {
				g.Layout = "etcd"
			}
			return g, true, nil
		}
	}
	// SwarmKit: raft/wal-v3-encrypted and raft/snap-v3-encrypted (or the
	// unencrypted wal-v3 and snap-v3 of older versions).
	for _, v := range []struct {
		wal, snap string
		encrypted bool
	}{{"wal-v3-encrypted", "snap-v3-encrypted", true}, {"wal-v3", "snap-v3", false}} {
		walDir := filepath.Join(dir, v.wal)
		if !isDir(walDir) {
			continue
		}
		g.WALDir, g.Layout, g.Encrypted = walDir, "swarmkit", v.encrypted
		if sd := filepath.Join(dir, v.snap); isDir(sd) {
			g.SnapDir = sd
		}
		return g, true, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return g, false, err
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".wal") {
			g.WALDir, g.Layout = dir, "segments"
			clean := filepath.Clean(dir)
			if sd := filepath.Join(filepath.Dir(clean), "snap"); isDir(sd) {
				g.SnapDir = sd
			}
			if parent := filepath.Dir(clean); filepath.Base(parent) == "wal" && isFabricRoot(filepath.Dir(parent)) {
				g.Layout = "fabric"
				if sd := filepath.Join(filepath.Dir(parent), "snapshot", filepath.Base(clean)); isDir(sd) {
					g.SnapDir = sd
				} else {
					g.SnapDir = ""
				}
			}
			return g, true, nil
		}
	}
	return g, false, nil
}

// isFabricRoot says whether dir is laid out as Fabric's etcdraft/: wal/
// and snapshot/ holding one subdirectory per channel (and no snap/).
func isFabricRoot(dir string) bool {
	if !isDir(filepath.Join(dir, "wal")) || !isDir(filepath.Join(dir, "snapshot")) || isDir(filepath.Join(dir, "snap")) {
		return false
	}
	entries, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".wal") {
			return false
		}
	}
	return true
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
