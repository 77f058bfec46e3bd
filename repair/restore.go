package repair

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/raftctl/raftctl/inspect"
)

// RestoreOptions tune RestoreWith.
type RestoreOptions struct {
	// DryRun checks the backup and the group and says what would be put
	// back, changing nothing.
	DryRun bool
	// Force restores even when the group changed after the operation (a
	// member that ran since wrote to it): what was written since is lost.
	Force bool
	// FaultAfter is the crash-test hook of ApplyOptions.
	FaultAfter int
}

// RestoreResult says what Restore did (or, for a dry run, would do).
type RestoreResult struct {
	SchemaVersion int           `json:"schema_version"`
	BackupDir     string        `json:"backup_dir"`
	Operation     Operation     `json:"operation"`
	Group         inspect.Group `json:"group"`
	DryRun        bool          `json:"dry_run"`
	// Restored lists the files written back from the backup or renamed
	// back; Removed the files the operation had created.
	Restored []string `json:"restored"`
	Removed  []string `json:"removed"`
	// Left lists files Restore found where it removes what the operation
	// created, but did not create itself, and so left alone.
	Left []string `json:"left,omitempty"`
	// Steps counts the filesystem steps taken.
	Steps int `json:"steps"`
}

// ChangedError says that the group changed after the operation the backup
// belongs to (for instance a member ran and wrote to it): restoring would
// lose what was written since. Nothing was changed.
type ChangedError struct {
	// Paths are the files whose content is neither what the operation
	// found nor what it left.
	Paths []string
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("the group changed after the backup was made (%s); restoring would lose what was written since (use force to restore anyway)", strings.Join(e.Paths, ", "))
}

// BackupError says that a backup is damaged: a file is missing or its
// SHA-256 does not match the manifest. Nothing was changed.
type BackupError struct {
	Path string
	Err  error
}

func (e *BackupError) Error() string { return fmt.Sprintf("backup %s: %v", e.Path, e.Err) }
func (e *BackupError) Unwrap() error { return e.Err }

// Restore puts a group back exactly as it was before the operation backed
// up in backupDir. See RestoreWith.
func Restore(ctx context.Context, backupDir string) (*RestoreResult, error) {
	return RestoreWith(ctx, backupDir, RestoreOptions{})
}

// RestoreWith checks every backed-up file against the SHA-256 sums of the
// manifest, locks the group (a *LockedError if it is live), checks that
// every file the operation touched holds what it found or what it left (a
// *ChangedError otherwise, unless Force), and then undoes the operation's
// actions in reverse order, each one atomic: content is written aside and
// renamed into place, renamed files are renamed back, created files are
// removed, and a swapped directory is swapped back in one exchange.
// Finally it checks the sums of the restored files. Every prefix of a
// restore is a group some prefix of the operation could have left, and
// running Restore again after an interruption completes it.
func RestoreWith(ctx context.Context, backupDir string, opts RestoreOptions) (*RestoreResult, error) {
	m, err := ReadManifest(backupDir)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{SchemaVersion: SchemaVersion, BackupDir: backupDir, Operation: m.Operation, Group: m.Group,
		DryRun: opts.DryRun, Restored: []string{}, Removed: []string{}}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(backupDir, filepath.FromSlash(f.Path))
		sum, size, err := hashFile(p)
		if err != nil {
			return nil, &BackupError{Path: p, Err: err}
		}
		if sum != f.SHA256 || size != f.Size {
			return nil, &BackupError{Path: p, Err: errors.New("content does not match the manifest's SHA-256")}
		}
	}
	lock, err := LockGroup(m.Group)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	r := &restorer{ctx: ctx, m: m, dir: backupDir, opts: opts, lock: lock, res: res}
	if changed, err := r.changedSince(); err != nil {
		return nil, err
	} else if len(changed) > 0 && !opts.Force {
		return nil, &ChangedError{Paths: changed}
	}
	if err := r.run(); err != nil {
		return res, err
	}
	return res, nil
}

type restorer struct {
	ctx   context.Context
	m     *Manifest
	dir   string
	opts  RestoreOptions
	lock  *GroupLock
	res   *RestoreResult
	steps int
}

func (r *restorer) step() {
	r.steps++
	r.res.Steps = r.steps
	if r.opts.FaultAfter > 0 && r.steps >= r.opts.FaultAfter {
		killSelf()
	}
}

func (r *restorer) abs(rel string) string { return filepath.Join(r.m.Root, filepath.FromSlash(rel)) }

func (r *restorer) rel(p string) string {
	rel, err := filepath.Rel(r.m.Root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

func (r *restorer) original(rel string) *ManifestFile {
	for k := range r.m.Files {
		if r.m.Files[k].Path == rel {
			return &r.m.Files[k]
		}
	}
	return nil
}

// currentSum hashes the file at rel ("" when it does not exist).
func (r *restorer) currentSum(rel string) (string, error) {
	p := r.abs(rel)
	ok, err := pathExists(p)
	if err != nil || !ok {
		return "", err
	}
	sum, _, err := hashFile(p)
	return sum, err
}

// changedSince lists the files of the group that hold something the
// operation neither found nor left, and segments or snapshots it does not
// know.
func (r *restorer) changedSince() ([]string, error) {
	expect := map[string][]string{}
	for _, f := range r.m.Files {
		expect[f.Path] = append(expect[f.Path], f.SHA256)
		if f.AfterSHA256 != "" {
			expect[f.Path] = append(expect[f.Path], f.AfterSHA256)
		}
	}
	for _, f := range r.m.Created {
		expect[f.Path] = append(expect[f.Path], f.SHA256)
		if o := r.original(f.From); f.From != "" && o != nil {
			// Renamed, not yet changed in place.
			expect[f.Path] = append(expect[f.Path], o.SHA256)
		}
	}
	var changed []string
	for rel, sums := range expect {
		sum, err := r.currentSum(rel)
		if err != nil {
			return nil, err
		}
		if sum != "" && !contains(sums, sum) {
			changed = append(changed, r.abs(rel))
		}
	}
	// A segment or snapshot file the operation does not know was written
	// after it.
	segs, _, err := inspect.OpenGroup(r.m.Group)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(segs))
	for _, s := range segs {
		paths = append(paths, s.Path)
	}
	snaps, err := snapPaths(r.m.Group.SnapDir)
	if err != nil {
		return nil, err
	}
	paths = append(paths, snaps...)
	existing := map[string]bool{}
	for _, e := range r.m.Existing {
		existing[e] = true
	}
	for _, p := range paths {
		rel := r.rel(p)
		if _, ok := expect[rel]; !ok && !existing[rel] {
			changed = append(changed, p)
		}
	}
	sort.Strings(changed)
	return changed, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *restorer) run() error {
	acts := r.m.Actions
	for k := len(acts) - 1; k >= 0; k-- {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := r.undo(acts[k]); err != nil {
			return fmt.Errorf("undo %s %s: %w", acts[k].Kind, acts[k].Path, err)
		}
	}
	if r.opts.DryRun {
		return nil
	}
	if err := r.cleanTemps(); err != nil {
		return err
	}
	// Check the result.
	for _, f := range r.m.Files {
		sum, err := r.currentSum(f.Path)
		if err != nil {
			return err
		}
		if sum != f.SHA256 {
			return fmt.Errorf("restore: %s does not hold its original content after restoring", r.abs(f.Path))
		}
	}
	for _, f := range r.m.Created {
		if r.original(f.Path) != nil {
			continue
		}
		if ok, err := pathExists(r.abs(f.Path)); err != nil || ok {
			return errors.Join(err, fmt.Errorf("restore: %s is still there after restoring", r.abs(f.Path)))
		}
	}
	return nil
}

// relOf returns the manifest path of an action's path.
func (r *restorer) relOf(p string) (string, error) {
	ap, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if !within(r.m.Root, ap) {
		return "", fmt.Errorf("%s: outside the group's directory %s", p, r.m.Root)
	}
	return r.rel(ap), nil
}

// origin finds the original an action's file came from.
func (r *restorer) origin(rel string) *ManifestFile {
	if f := r.original(rel); f != nil {
		return f
	}
	for _, c := range r.m.Created {
		if c.Path == rel && c.From != "" {
			return r.original(c.From)
		}
	}
	return nil
}

func (r *restorer) undo(act Action) error {
	if act.Kind == Replace {
		return r.undoReplace(act)
	}
	rel, err := r.relOf(act.Path)
	if err != nil {
		return err
	}
	orig := r.origin(rel)
	if orig == nil {
		return fmt.Errorf("%s is not in the backup", act.Path)
	}
	switch act.Kind {
	case Truncate, Remove, Append:
		// rel must hold the original's content.
		sum, err := r.currentSum(rel)
		if err != nil || sum == orig.SHA256 {
			return err
		}
		return r.putBack(rel, orig)
	case Rename, Quarantine:
		newRel, err := r.relOf(act.NewPath)
		if err != nil {
			return err
		}
		sum, err := r.currentSum(rel)
		if err != nil {
			return err
		}
		newSum, err := r.currentSum(newRel)
		if err != nil {
			return err
		}
		switch {
		case sum == orig.SHA256:
		case sum == "" && newSum == orig.SHA256:
			r.res.Restored = append(r.res.Restored, r.abs(rel))
			if r.opts.DryRun {
				return nil
			}
			if err := renameNoReplace(r.abs(newRel), r.abs(rel)); err != nil {
				return err
			}
			r.step()
			if err := fsyncDir(filepath.Dir(r.abs(rel))); err != nil {
				return err
			}
			r.step()
			return nil
		default:
			if err := r.putBack(rel, orig); err != nil {
				return err
			}
		}
		if newSum != "" {
			return r.removeCreated(newRel)
		}
	}
	return nil
}

// putBack writes the original's backed-up content to rel, aside and
// renamed, with its mode and owner.
func (r *restorer) putBack(rel string, orig *ManifestFile) error {
	r.res.Restored = append(r.res.Restored, r.abs(rel))
	if r.opts.DryRun {
		return nil
	}
	mode, err := orig.perm()
	if err != nil {
		return err
	}
	return writeAside(r.m.ID+"-restore", r.abs(rel), mode, orig, r.lockFor(rel), r.step, func(f *os.File) error {
		return r.copyBackup(f, orig)
	})
}

// lockFor locks restored segments, not snapshot files.
func (r *restorer) lockFor(rel string) *GroupLock {
	if strings.HasSuffix(rel, ".wal") {
		return r.lock
	}
	return nil
}

func (r *restorer) copyBackup(f *os.File, orig *ManifestFile) error {
	in, err := os.Open(filepath.Join(r.dir, filepath.FromSlash(orig.Path)))
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(f, in)
	return err
}

// removeCreated removes a file the operation created.
func (r *restorer) removeCreated(rel string) error {
	p := r.abs(rel)
	r.res.Removed = append(r.res.Removed, p)
	if r.opts.DryRun {
		return nil
	}
	if _, err := regularFile(p); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return err
	}
	r.step()
	if err := fsyncDir(filepath.Dir(p)); err != nil {
		return err
	}
	r.step()
	return nil
}

// undoReplace swaps the original directory back: its files are copied
// from the backup into a hidden sibling (stageOriginals), which is
// exchanged with the current directory in one step; the swapped-out files
// are then removed when they are ones the operation created (or
// originals), others left (clearSwapped). Nothing is done when the
// directory holds exactly the originals (holdsOriginals).
func (r *restorer) undoReplace(act Action) error {
	dirRel := r.m.ReplacedDir
	if dirRel == "" {
		return errors.New("manifest names no replaced directory")
	}
	cur := r.abs(dirRel)
	origs := r.replacedOriginals(dirRel)
	same, err := r.holdsOriginals(cur, origs)
	if err != nil || same {
		return err
	}
	for _, o := range origs {
		r.res.Restored = append(r.res.Restored, r.abs(o.Path))
	}
	if r.opts.DryRun {
		return nil
	}
	stage, err := r.stageOriginals(cur, origs)
	if err != nil {
		return err
	}
	if err := exchange(stage, cur); err != nil {
		return err
	}
	r.step()
	if err := fsyncDir(filepath.Dir(cur)); err != nil {
		return err
	}
	r.step()
	// stage now holds what was in cur.
	if err := r.clearSwapped(stage, dirRel); err != nil {
		return err
	}
	if err := fsyncDir(filepath.Dir(cur)); err != nil {
		return err
	}
	r.step()
	return nil
}

// replacedOriginals returns the manifest's files that lay in the replaced
// directory dirRel.
func (r *restorer) replacedOriginals(dirRel string) []*ManifestFile {
	var origs []*ManifestFile
	for k := range r.m.Files {
		if path.Dir(r.m.Files[k].Path) == dirRel {
			origs = append(origs, &r.m.Files[k])
		}
	}
	return origs
}

// holdsOriginals reports whether the directory cur holds exactly the
// originals: each with its SHA-256, and no other segment.
func (r *restorer) holdsOriginals(cur string, origs []*ManifestFile) (bool, error) {
	same := true
	ents, err := os.ReadDir(cur)
	if err != nil {
		return false, err
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	for _, o := range origs {
		sum, err := r.currentSum(o.Path)
		if err != nil {
			return false, err
		}
		if sum != o.SHA256 {
			same = false
		}
		delete(names, path.Base(o.Path))
	}
	for n := range names {
		if strings.HasSuffix(n, ".wal") {
			same = false
		}
	}
	return same, nil
}

// stageOriginals copies the originals from the backup into a hidden
// sibling of cur with cur's permissions (segments held by the restore's
// lock), fsyncs it, and returns its path.
func (r *restorer) stageOriginals(cur string, origs []*ManifestFile) (string, error) {
	fi, err := os.Lstat(cur)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s: not a directory", cur)
	}
	stage := filepath.Join(filepath.Dir(cur), ".raftctl-restore-"+r.m.ID)
	if err := removeOwnDir(stage); err != nil {
		return "", err
	}
	if err := os.Mkdir(stage, fi.Mode().Perm()); err != nil {
		return "", err
	}
	r.step()
	for _, o := range origs {
		mode, err := o.perm()
		if err != nil {
			return "", err
		}
		dst := filepath.Join(stage, path.Base(o.Path))
		if err := writeNew(dst, mode, o, func(f *os.File) error { return r.copyBackup(f, o) }); err != nil {
			return "", err
		}
		if strings.HasSuffix(dst, ".wal") {
			if err := r.lock.hold(dst); err != nil {
				return "", err
			}
		}
		r.step()
	}
	if err := fsyncDir(stage); err != nil {
		return "", err
	}
	r.step()
	return stage, nil
}

// clearSwapped empties the directory swapped out of dirRel by a restore:
// it removes the files the operation created and the originals (both
// recognised by name and SHA-256) and temporary files of this backup, and
// then the directory; anything else is left in place and reported.
func (r *restorer) clearSwapped(stage, dirRel string) error {
	known := map[string][]string{}
	for _, c := range r.m.Created {
		if path.Dir(c.Path) == dirRel {
			known[path.Base(c.Path)] = append(known[path.Base(c.Path)], c.SHA256)
		}
	}
	for _, o := range r.m.Files {
		if path.Dir(o.Path) == dirRel {
			known[path.Base(o.Path)] = append(known[path.Base(o.Path)], o.SHA256)
		}
	}
	left := false
	ents, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(stage, e.Name())
		ours := strings.HasPrefix(e.Name(), ".raftctl-"+r.m.ID) && strings.HasSuffix(e.Name(), ".tmp")
		if !ours {
			if sums, ok := known[e.Name()]; ok && e.Type().IsRegular() {
				sum, _, err := hashFile(p)
				if err != nil {
					return err
				}
				ours = contains(sums, sum)
			}
		}
		if !ours {
			r.res.Left = append(r.res.Left, p)
			left = true
			continue
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		r.res.Removed = append(r.res.Removed, p)
		r.step()
	}
	if !left {
		if err := os.Remove(stage); err != nil {
			return err
		}
		r.step()
	}
	return nil
}

// writeNew creates dst (which must not exist) with the content fill
// writes, mode and owner, fsynced.
func writeNew(dst string, mode fs.FileMode, own *ManifestFile, fill func(f *os.File) error) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := chownLike(f, own); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// cleanTemps removes what an interrupted operation or restore of this
// backup may have left: its temporary files and staging directories.
func (r *restorer) cleanTemps() error {
	dirs := map[string]bool{}
	for _, list := range [][]ManifestFile{r.m.Files, r.m.Created} {
		for _, f := range list {
			dirs[filepath.Dir(r.abs(f.Path))] = true
		}
	}
	var doomed []string
	for d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		for _, e := range ents {
			n := e.Name()
			if strings.HasPrefix(n, ".raftctl-"+r.m.ID+"-") && strings.HasSuffix(n, ".tmp") && e.Type().IsRegular() {
				doomed = append(doomed, filepath.Join(d, n))
			}
		}
	}
	sort.Strings(doomed)
	for _, p := range doomed {
		if err := os.Remove(p); err != nil {
			return err
		}
		r.step()
	}
	if r.m.ReplacedDir != "" {
		stage := filepath.Join(filepath.Dir(r.abs(r.m.ReplacedDir)), ".raftctl-restore-"+r.m.ID)
		if ok, err := pathExists(stage); err != nil {
			return err
		} else if ok {
			if err := r.clearSwapped(stage, r.m.ReplacedDir); err != nil {
				return err
			}
		}
	}
	if r.m.StagingDir != "" {
		stage := r.abs(r.m.StagingDir)
		for _, p := range []string{stage, stage + ".tmp"} {
			ok, err := pathExists(p)
			if err != nil {
				return err
			}
			if ok {
				if err := removeOwnDir(p); err != nil {
					return err
				}
				r.step()
			}
		}
	}
	return nil
}

// snapPaths lists the *.snap files of a snapshot directory (none when it
// is "" or missing).
func snapPaths(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".snap") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}
