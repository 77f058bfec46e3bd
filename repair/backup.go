// The backup of a change: its directory, what the change will touch copied
// or hard-linked into it (only what a change rewrites in place is copied),
// the files it creates, and the manifest restore reads.

package repair

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/raftctl/raftctl/inspect"
)

// makeBackupDir creates the backup directory (mode 0700).
func (a *applier) makeBackupDir(t time.Time) error {
	dir := a.opts.BackupDir
	if dir == "" {
		base := DefaultBackupDir(a.plan.Group, t)
		for i := 0; ; i++ {
			dir = base
			if i > 0 {
				dir = fmt.Sprintf("%s-%d", base, i)
			}
			ok, err := pathExists(dir)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
		}
	} else if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("backup directory %s is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	} else if err == nil {
		a.madeDir = true
	}
	a.backupDir = dir
	a.step()
	if err := fsyncDir(parent); err != nil {
		return err
	}
	a.step()
	return nil
}

// cleanup removes what a run that changed nothing created: the backup
// directory (when this run made it) and a rewrite's staging directory.
func (a *applier) cleanup() {
	if a.rewrite != nil && a.rewrite.stage != "" {
		removeOwnDir(a.rewrite.stage)
		os.RemoveAll(a.rewrite.stage + ".tmp")
	}
	if a.backupDir != "" {
		if a.madeDir {
			os.RemoveAll(a.backupDir)
		}
	}
}

// removeOwnDir removes a directory raftctl created and everything in it.
func removeOwnDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	return os.RemoveAll(dir)
}

// backup puts every file of the plan into the backup directory, checking
// that each still has the content the plan pinned. A file the plan
// removes or replaces whole (Remove, Truncate and Append write a new file
// and rename it over the old one; Replace swaps the whole WAL directory)
// is moved there: hard-linked now, so that it stays in place until its
// action unlinks or replaces it, and the backup costs no data written.
// Any other file (a rename keeps the same file in the group, where a
// server may later append to it) is copied. Where a hard link cannot be
// made (another file system, a file system without them, a link count at
// its limit), the file is copied too.
func (a *applier) backup() error {
	trunc := map[string]int64{}
	whole := map[string]bool{}
	var replaced []string
	for _, act := range a.plan.Actions {
		switch act.Kind {
		case Truncate:
			trunc[originOfAction(a.plan, act.Path)] = act.Offset
			whole[originOfAction(a.plan, act.Path)] = true
		case Remove, Append:
			whole[originOfAction(a.plan, act.Path)] = true
		case Replace:
			replaced = append(replaced, act.Path)
		}
	}
	a.after = map[string]string{}
	dirs := map[string]bool{}
	for _, fsPin := range a.plan.Files {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		rel, err := a.rel(fsPin.Path)
		if err != nil {
			return err
		}
		dst := filepath.Join(a.backupDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		dirs[filepath.Dir(dst)] = true
		off, truncated := trunc[fsPin.Path]
		if !truncated {
			off = -1
		}
		move := whole[fsPin.Path]
		for _, d := range replaced {
			move = move || sameDir(filepath.Dir(fsPin.Path), d)
		}
		var mf ManifestFile
		var afterSum string
		if move {
			mf, afterSum, err = linkOut(a.lock.held(), fsPin.Path, dst, off, a.pinned(fsPin))
		} else {
			mf, afterSum, err = copyOut(a.lock.held(), fsPin.Path, dst, off)
		}
		if err != nil {
			return err
		}
		if mf.SHA256 != fsPin.SHA256 || mf.Size != fsPin.Size {
			return &StaleError{Reason: fsPin.Path + " changed"}
		}
		mf.Path = rel
		if truncated {
			mf.AfterSHA256 = afterSum
			a.after[fsPin.Path] = afterSum
		}
		a.man.Files = append(a.man.Files, mf)
		a.step()
	}
	for d := range dirs {
		for p := d; within(a.backupDir, p); p = filepath.Dir(p) {
			if err := fsyncDir(p); err != nil {
				return err
			}
			if p == filepath.Clean(a.backupDir) {
				break
			}
		}
	}
	a.step()
	return nil
}

// originOfAction returns the current path of the file an action sees as
// path (the plan renames before it truncates).
func originOfAction(plan *Plan, path string) string {
	for _, act := range plan.Actions {
		if act.Kind == Rename && act.NewPath == path {
			return act.Path
		}
	}
	return path
}

// copyOut copies src to dst (created, same permission bits, fsynced) and
// returns its manifest entry. When truncAt >= 0 it also returns the
// SHA-256 the file will have once zeroed from truncAt on.
// It reads src through held's descriptor when it has one (see openHeld).
func copyOut(held map[string]*os.File, src, dst string, truncAt int64) (ManifestFile, string, error) {
	in, fi, done, err := openHeld(held, src)
	if err != nil {
		return ManifestFile{}, "", err
	}
	defer done()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return ManifestFile{}, "", err
	}
	defer out.Close()
	h := sha256.New()
	var ah hash.Hash
	w := io.MultiWriter(out, h)
	var n int64
	if truncAt >= 0 {
		ah = sha256.New()
		m, err := io.Copy(io.MultiWriter(w, ah), io.LimitReader(in, truncAt))
		n += m
		if err != nil {
			return ManifestFile{}, "", err
		}
	}
	m, err := io.Copy(w, in)
	n += m
	if err != nil {
		return ManifestFile{}, "", err
	}
	if err := out.Chmod(fi.Mode().Perm()); err != nil {
		return ManifestFile{}, "", err
	}
	if err := out.Sync(); err != nil {
		return ManifestFile{}, "", err
	}
	if err := out.Close(); err != nil {
		return ManifestFile{}, "", err
	}
	return backedUp(fi, n, h, ah, truncAt)
}

// linkOut moves src into the backup as dst with a hard link (src stays
// until its action removes or replaces it), falling back to copyOut when
// the link cannot be made, and returns its manifest entry as copyOut does,
// read from the linked file.
//
// When pinned is set (the plan hashed src through held's descriptor under
// this very lock) and nothing is to be truncated, the link's entry takes
// the pinned size and SHA-256 without reading the file again, once the
// link is checked to be the very file that was hashed.
func linkOut(held map[string]*os.File, src, dst string, truncAt int64, pinned *FileState) (ManifestFile, string, error) {
	fi, err := regularFile(src)
	if err != nil {
		return ManifestFile{}, "", err
	}
	if err := os.Link(src, dst); err != nil {
		return copyOut(held, src, dst, truncAt)
	}
	if f := held[src]; pinned != nil && truncAt < 0 && f != nil {
		lfi, lerr := os.Lstat(dst)
		hfi, herr := f.Stat()
		if err := errors.Join(lerr, herr); err != nil {
			return ManifestFile{}, "", err
		}
		if os.SameFile(fi, lfi) && os.SameFile(lfi, hfi) && lfi.Size() == pinned.Size {
			mf := ManifestFile{Size: pinned.Size, Mode: fmt.Sprintf("%04o", fi.Mode().Perm()), SHA256: pinned.SHA256}
			if uid, gid, ok := owner(fi); ok {
				mf.UID, mf.GID = &uid, &gid
			}
			return mf, "", nil
		}
	}
	in, err := openNoFollow(dst)
	if err != nil {
		return ManifestFile{}, "", err
	}
	defer in.Close()
	if lfi, err := in.Stat(); err != nil || !os.SameFile(fi, lfi) {
		return ManifestFile{}, "", errors.Join(err, &StaleError{Reason: src + " was replaced while it was backed up"})
	}
	h := sha256.New()
	var ah hash.Hash
	var n int64
	if truncAt >= 0 {
		ah = sha256.New()
		m, err := io.Copy(io.MultiWriter(h, ah), io.LimitReader(in, truncAt))
		n += m
		if err != nil {
			return ManifestFile{}, "", err
		}
	}
	m, err := io.Copy(h, in)
	n += m
	if err != nil {
		return ManifestFile{}, "", err
	}
	return backedUp(fi, n, h, ah, truncAt)
}

var zeroBlock = make([]byte, 64<<10)

func hashZeros(h hash.Hash, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeroBlock)))
		if _, err := h.Write(zeroBlock[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// created lists in the manifest the files the actions create.
func (a *applier) created() error {
	for _, act := range a.plan.Actions {
		switch act.Kind {
		case Rename, Quarantine:
			from, err := a.rel(act.Path)
			if err != nil {
				return err
			}
			to, err := a.rel(act.NewPath)
			if err != nil {
				return err
			}
			src := a.manFile(from)
			if src == nil {
				return fmt.Errorf("repair: %s is not backed up", act.Path)
			}
			c := *src
			c.Path, c.From, c.AfterSHA256 = to, from, ""
			if sum, ok := a.after[act.Path]; ok {
				c.SHA256 = sum
			}
			a.man.Created = append(a.man.Created, c)
		}
	}
	// A truncation after a rename changes the created file's content.
	for _, act := range a.plan.Actions {
		if act.Kind != Truncate {
			continue
		}
		src := originOfAction(a.plan, act.Path)
		if src == act.Path {
			continue
		}
		to, err := a.rel(act.Path)
		if err != nil {
			return err
		}
		for k := range a.man.Created {
			if a.man.Created[k].Path == to {
				a.man.Created[k].SHA256 = a.after[src]
			}
		}
	}
	if a.rewrite != nil {
		a.man.Created = append(a.man.Created, a.rewrite.created...)
		a.man.ReplacedDir = a.rewrite.relWAL
		a.man.StagingDir = a.rewrite.relStage
	}
	return nil
}

func (a *applier) manFile(rel string) *ManifestFile {
	for k := range a.man.Files {
		if a.man.Files[k].Path == rel {
			return &a.man.Files[k]
		}
	}
	return nil
}

// listExisting records the group's segments and snapshot files.
func (a *applier) listExisting() error {
	g := a.plan.Group
	segs, _, err := inspect.OpenGroup(g)
	if err != nil {
		return err
	}
	var paths []string
	for _, s := range segs {
		paths = append(paths, s.Path)
	}
	snaps, err := snapPaths(g.SnapDir)
	if err != nil {
		return err
	}
	paths = append(paths, snaps...)
	a.man.Existing = []string{}
	for _, p := range paths {
		rel, err := a.rel(p)
		if err != nil {
			return err
		}
		a.man.Existing = append(a.man.Existing, rel)
	}
	return nil
}

// writeManifest writes manifest.json last, aside and renamed.
func (a *applier) writeManifest() error {
	b, err := json.MarshalIndent(a.man, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	return a.writeAside(filepath.Join(a.backupDir, ManifestName), 0o600, nil, false, func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
}

// backedUp is the manifest entry of a file of n bytes backed up with hash
// h (its mode and owner from fi), and, when ah hashes what a truncation
// at truncAt keeps, the hash the file has after it (ah then gets the zeros
// that replace the rest).
func backedUp(fi os.FileInfo, n int64, h, ah hash.Hash, truncAt int64) (ManifestFile, string, error) {
	mf := ManifestFile{Size: n, Mode: fmt.Sprintf("%04o", fi.Mode().Perm()), SHA256: hex.EncodeToString(h.Sum(nil))}
	if uid, gid, ok := owner(fi); ok {
		mf.UID, mf.GID = &uid, &gid
	}
	var afterSum string
	if ah != nil {
		if err := hashZeros(ah, n-truncAt); err != nil {
			return ManifestFile{}, "", err
		}
		afterSum = hex.EncodeToString(ah.Sum(nil))
	}
	return mf, afterSum, nil
}
