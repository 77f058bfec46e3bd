package repair

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/raftctl/raftctl/inspect"
)

// ManifestName is the name of the manifest in a backup directory.
const ManifestName = "manifest.json"

// Manifest describes one backup: the files an operation changed, moved or
// removed (hard-linked or copied next to the manifest under their relative
// paths) and the files it created, so that Restore can put the group back
// exactly.
//
// Every path is relative to Root and uses slashes.
type Manifest struct {
	SchemaVersion int       `json:"schema_version"`
	Tool          string    `json:"tool"`
	ID            string    `json:"id"`
	Operation     Operation `json:"operation"`
	// CreatedAt is when the backup was made (RFC 3339, UTC).
	CreatedAt string `json:"created_at"`
	// Root is the absolute directory the paths are relative to: the
	// group's directory, or the directory above it when the snapshot
	// directory is a sibling.
	Root  string        `json:"root"`
	Group inspect.Group `json:"group"`
	// Files are the originals, as they were before the operation; each is
	// in the backup directory under its Path (the very file, hard-linked,
	// when the operation removes or replaces it whole; else a copy).
	Files []ManifestFile `json:"files"`
	// Created are the files the operation creates, with the content they
	// have right after it (From names the original a renamed file was).
	Created []ManifestFile `json:"created"`
	// ReplacedDir is a directory the operation swapped as a whole (the
	// WAL directory of a rewrite); Restore swaps it back the same way.
	ReplacedDir string `json:"replaced_dir,omitempty"`
	// StagingDir is where a rewrite built the new WAL directory (left
	// behind only by a crash).
	StagingDir string `json:"staging_dir,omitempty"`
	// Existing lists every segment and snapshot file the group had when
	// the backup was made: Restore treats any other as written since.
	Existing []string `json:"existing"`
	// Actions are the plan's actions, in the order they ran.
	Actions []Action `json:"actions"`
}

// ManifestFile is one file of a manifest.
type ManifestFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Mode holds the permission bits in octal ("0600").
	Mode string `json:"mode"`
	// UID and GID are the owner, where the system has one.
	UID    *int   `json:"uid,omitempty"`
	GID    *int   `json:"gid,omitempty"`
	SHA256 string `json:"sha256"`
	// AfterSHA256 is, for an original changed in place, its content after
	// the operation.
	AfterSHA256 string `json:"after_sha256,omitempty"`
	// From is, for a created file, the original it was made from.
	From string `json:"from,omitempty"`
}

// perm parses Mode.
func (f ManifestFile) perm() (fs.FileMode, error) {
	m, err := strconv.ParseUint(f.Mode, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("manifest: bad mode %q for %s", f.Mode, f.Path)
	}
	return fs.FileMode(m).Perm(), nil
}

// ReadManifest reads and checks the manifest of a backup directory.
func ReadManifest(backupDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(backupDir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(backupDir, ManifestName), err)
	}
	if m.SchemaVersion != ManifestSchemaVersion || m.Tool != "raftctl" {
		return nil, fmt.Errorf("%s: not a raftctl backup manifest of schema version %d", filepath.Join(backupDir, ManifestName), ManifestSchemaVersion)
	}
	if !filepath.IsAbs(m.Root) {
		return nil, fmt.Errorf("%s: root %q is not absolute", filepath.Join(backupDir, ManifestName), m.Root)
	}
	for _, list := range [][]ManifestFile{m.Files, m.Created} {
		for _, f := range list {
			if !safeRel(f.Path) || (f.From != "" && !safeRel(f.From)) {
				return nil, fmt.Errorf("%s: unsafe path %q", filepath.Join(backupDir, ManifestName), f.Path)
			}
			if _, err := f.perm(); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range []string{m.ReplacedDir, m.StagingDir} {
		if d != "" && !safeRel(d) {
			return nil, fmt.Errorf("%s: unsafe path %q", filepath.Join(backupDir, ManifestName), d)
		}
	}
	return &m, nil
}

// safeRel accepts a relative slash path that stays below its root.
func safeRel(p string) bool {
	if p == "" || path.IsAbs(p) || strings.Contains(p, "\\") {
		return false
	}
	c := path.Clean(p)
	return c == p && c != "." && c != ".." && !strings.HasPrefix(c, "../")
}
