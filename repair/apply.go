package repair

import (
	"bytes"
	"context"
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
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair/durable"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// BackupDir is the directory the backup of this run goes to; it must
	// not exist or be empty. Default: <group>/.raftctl-backup/<UTC time as
	// 20261123T101500Z>/ (see DefaultBackupDir). When several groups are
	// changed in one command, give each its own directory.
	BackupDir string
	// DryRun returns what Apply would do without locking, reading or
	// writing anything.
	DryRun bool
	// FaultAfter, when positive, kills the process with SIGKILL right after
	// the FaultAfter-th filesystem step (a test hook for crash safety; the
	// command sets it from RAFTCTL_FAULT_AFTER, the library never reads the
	// environment).
	FaultAfter int
	// Now gives the time that names the backup (time.Now when nil).
	Now func() time.Time
}

// Result says what Apply did.
type Result struct {
	SchemaVersion int           `json:"schema_version"`
	Operation     Operation     `json:"operation"`
	Group         inspect.Group `json:"group"`
	DryRun        bool          `json:"dry_run"`
	// Actions are the actions done (all of the plan's, unless an error
	// stopped Apply), or for a dry run those that would be done.
	Actions []Action `json:"actions"`
	// Refusals and Notes are the plan's: what was left alone and why.
	Refusals []Refusal `json:"refusals"`
	Notes    []string  `json:"notes,omitempty"`
	// BackupDir holds the backup and its manifest.json ("" when nothing
	// was changed).
	BackupDir string `json:"backup_dir,omitempty"`
	// BytesReclaimed is the disk space freed; BytesChanged the bytes
	// overwritten in place (zeroed torn tails). For a dry run, the plan's
	// estimate.
	BytesReclaimed int64 `json:"bytes_reclaimed"`
	BytesChanged   int64 `json:"bytes_changed"`
	// Steps counts the filesystem steps taken (FaultAfter counts the same).
	Steps int `json:"steps"`
}

// StaleError says that the group is not what the plan was made from: plan
// again. Nothing was changed.
type StaleError struct{ Reason string }

func (e *StaleError) Error() string {
	return "the group changed since the plan was made (" + e.Reason + "); plan again"
}

// PartialError says that Apply failed after it began changing the group.
// Every change is atomic and the actions done are a prefix of the plan, so
// the group is readable; Restore with BackupDir undoes them.
type PartialError struct {
	BackupDir string
	// Done is the number of the plan's actions completed.
	Done int
	Err  error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%v (after %d of the plan's actions; `raftctl restore %s` puts the group back)", e.Err, e.Done, e.BackupDir)
}

func (e *PartialError) Unwrap() error { return e.Err }

// BackupDirName is the directory, inside a group's directory, that holds
// the backups of the changes made to it.
const BackupDirName = ".raftctl-backup"

// backupTimeFormat names a backup after the UTC time it was made.
const backupTimeFormat = "20060102T150405Z"

// DefaultBackupDir is where Apply backs a group up by default.
func DefaultBackupDir(g inspect.Group, t time.Time) string {
	return filepath.Join(g.Dir, BackupDirName, t.UTC().Format(backupTimeFormat))
}

// Apply runs a plan under the safety protocol of the package: it locks
// every segment (a *LockedError if a live process holds one), refuses
// with *StaleError if the group is not what the plan was made from (its
// fingerprint: listing, identity, size and time of every file read), puts every file the
// plan changes into the backup directory (see backup: moved by a hard link
// when the plan removes or replaces it whole, else copied) and writes its
// manifest, and then
// runs the actions in order, each one atomic (write aside, fsync, rename,
// fsync the directory). A plan without actions changes nothing and makes
// no backup. An error before the first change leaves the group untouched
// (and removes the backup begun); an error after it is a *PartialError.
func Apply(ctx context.Context, plan *Plan, opts ApplyOptions) (*Result, error) {
	res := newResult(plan, opts.DryRun)
	if opts.DryRun {
		res.Actions = append(res.Actions, plan.Actions...)
		res.BytesReclaimed, res.BytesChanged = plan.BytesReclaimed(), plan.BytesChanged()
		return res, nil
	}
	if plan.Empty() {
		return res, nil
	}
	lock, err := LockGroup(plan.Group)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	return applyLocked(ctx, plan, opts, lock, res)
}

// newResult is the Result of a plan before anything is done.
func newResult(plan *Plan, dryRun bool) *Result {
	res := &Result{SchemaVersion: SchemaVersion, Operation: plan.Operation, Group: plan.Group, DryRun: dryRun,
		Actions: []Action{}, Refusals: plan.Refusals, Notes: append([]string(nil), plan.Notes...)}
	if res.Refusals == nil {
		res.Refusals = []Refusal{}
	}
	return res
}

// applyLocked is Apply under lock, a write lock on the group's segments
// (Repair and Compact plan and apply under one).
func applyLocked(ctx context.Context, plan *Plan, opts ApplyOptions, lock *GroupLock, res *Result) (*Result, error) {
	if err := checkFresh(ctx, plan, lock); err != nil {
		return nil, err
	}
	a := &applier{ctx: ctx, plan: plan, opts: opts, lock: lock, res: res}
	if err := a.run(); err != nil {
		return res, err
	}
	return res, nil
}

// checkFresh checks, under the locks, that the group is still what the
// plan was made from, by the plan's fingerprint (listing, identity, size
// and time of the files it was made from), without reading the group
// again. Two cases fall back to planning again from the plan's inputs
// under the lock and comparing: a plan without a fingerprint (one passed
// through JSON, as the crash tests' helper process gets it), and files
// whose modification time alone changed (same file, same size: written
// with the same bytes, as etcd's wal.Open zero-fills a tail that is zeros
// already). Repair and Compact plan and apply under one lock: for them
// the fingerprint always matches.
func checkFresh(ctx context.Context, plan *Plan, lock *GroupLock) error {
	if plan.fp != nil {
		touched, err := plan.fp.check(plan.Group)
		if err != nil || !touched {
			return err
		}
	}
	return replanSame(ctx, plan, lock)
}

// replanSame plans again from the plan's inputs and compares.
func replanSame(ctx context.Context, plan *Plan, lock *GroupLock) error {
	var fresh *Plan
	var err error
	in := readInput{lock: lock}
	switch plan.Operation {
	case OpRepair:
		fresh, err = planRepair(ctx, plan.Group, plan.Findings, in)
	case OpCompact:
		if plan.CompactOptions == nil {
			return errors.New("repair: compaction plan without its options")
		}
		fresh, err = planCompact(ctx, plan.Group, *plan.CompactOptions, in)
	default:
		return fmt.Errorf("repair: unknown operation %q", plan.Operation)
	}
	if err != nil {
		return err
	}
	for _, part := range []struct {
		name string
		a, b any
	}{
		{"actions", plan.Actions, fresh.Actions},
		{"files", plan.Files, fresh.Files},
		{"compaction", plan.Compact, fresh.Compact},
	} {
		x, err1 := json.Marshal(part.a)
		y, err2 := json.Marshal(part.b)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			return &StaleError{Reason: "its " + part.name + " differ"}
		}
	}
	return nil
}

// applier runs one plan.
type applier struct {
	ctx  context.Context
	plan *Plan
	opts ApplyOptions
	lock *GroupLock
	res  *Result

	id        string
	root      string
	backupDir string
	madeDir   bool // the backup directory was created by this run
	steps     int
	changed   bool // the group has been changed
	done      int
	man       *Manifest
	// after holds, for a file changed in place, the SHA-256 it will have.
	after map[string]string
	// rewrite is the state of a WAL rewrite (compaction with Rewrite).
	rewrite *rewriteState
}

// pinned returns the plan's pin of a file when the plan was read under
// this applier's lock (Repair and Compact: one lock from the read to the
// end), so that its SHA-256 was computed through the descriptor the lock
// still holds, with no writer since; nil otherwise (the backup then reads
// the file to check it).
func (a *applier) pinned(pin FileState) *FileState {
	if a.lock == nil || a.plan.readLock != a.lock || a.lock.held()[pin.Path] == nil {
		return nil
	}
	return &pin
}

// held maps path, as an action sees it (after the plan's renames), to the
// lock's descriptor of that file.
func (a *applier) held(path string) map[string]*os.File {
	if f := a.lock.held()[originOfAction(a.plan, path)]; f != nil {
		return map[string]*os.File{path: f}
	}
	return nil
}

// step counts one filesystem step and fires the fault hook.
func (a *applier) step() {
	a.steps++
	a.res.Steps = a.steps
	if a.opts.FaultAfter > 0 && a.steps >= a.opts.FaultAfter {
		killSelf()
	}
}

func (a *applier) run() (err error) {
	defer func() {
		if err != nil && !a.changed {
			a.cleanup()
			a.res.BackupDir = ""
		}
		if err != nil && a.changed {
			err = &PartialError{BackupDir: a.backupDir, Done: a.done, Err: err}
		}
	}()
	if err := a.begin(); err != nil {
		return err
	}
	a.res.BackupDir = a.backupDir
	if err := a.backup(); err != nil {
		return err
	}
	if err := a.prepareRewrite(); err != nil {
		return err
	}
	if err := a.created(); err != nil {
		return err
	}
	if err := a.listExisting(); err != nil {
		return err
	}
	if err := a.writeManifest(); err != nil {
		return err
	}
	for _, act := range a.plan.Actions {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		if err := a.act(act); err != nil {
			return fmt.Errorf("%s %s: %w", act.Kind, act.Path, err)
		}
		a.done++
		a.res.Actions = append(a.res.Actions, act)
		switch act.Kind {
		case Remove:
			a.res.BytesReclaimed += act.Bytes
		case Truncate:
			a.res.BytesChanged += act.Bytes
		}
	}
	return nil
}

// begin starts every applier's run (Apply, ApplyRepairFrom,
// ApplyRecover) the same way: it names the run after the time (a.id, which
// also names the temporary files), finds the manifest's root, creates the
// backup directory and begins the manifest of a.plan (operation, group,
// actions). It changes nothing in the group. Callers defer their clean-up
// before calling it (a.cleanup removes what begin made, and does nothing
// when begin failed before making the directory) and their wrap of later
// errors (*PartialError once a.changed).
func (a *applier) begin() error {
	now := time.Now
	if a.opts.Now != nil {
		now = a.opts.Now
	}
	t := now().UTC()
	a.id = t.Format(backupTimeFormat)
	var err error
	if a.root, err = groupRoot(a.plan.Group); err != nil {
		return err
	}
	if err := a.makeBackupDir(t); err != nil {
		return err
	}
	a.man = &Manifest{SchemaVersion: ManifestSchemaVersion, Tool: "raftctl", ID: a.id, Operation: a.plan.Operation,
		CreatedAt: t.Format(time.RFC3339), Root: a.root, Files: []ManifestFile{}, Created: []ManifestFile{}, Actions: a.plan.Actions}
	a.man.Group, err = absGroup(a.plan.Group)
	return err
}

// groupRoot is the deepest directory holding the group's directory, WAL
// directory and snapshot directory: the manifest's paths are relative to
// it.
func groupRoot(g inspect.Group) (string, error) {
	root, err := filepath.Abs(g.Dir)
	if err != nil {
		return "", err
	}
	for _, d := range []string{g.WALDir, g.SnapDir} {
		if d == "" {
			continue
		}
		ad, err := filepath.Abs(d)
		if err != nil {
			return "", err
		}
		for !within(root, ad) {
			parent := filepath.Dir(root)
			if parent == root {
				break
			}
			root = parent
		}
	}
	return root, nil
}

// within reports whether p is dir or inside it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func absGroup(g inspect.Group) (inspect.Group, error) {
	var err error
	out := g
	for _, p := range []*string{&out.Dir, &out.WALDir, &out.SnapDir} {
		if *p == "" {
			continue
		}
		if *p, err = filepath.Abs(*p); err != nil {
			return g, err
		}
	}
	return out, nil
}

// rel names p relative to the manifest's root, with slashes.
func (a *applier) rel(p string) (string, error) {
	ap, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(a.root, ap)
	if err != nil || !within(a.root, ap) {
		return "", fmt.Errorf("%s: outside the group's directory %s", p, a.root)
	}
	return filepath.ToSlash(r), nil
}

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

// tempName is the name of a file written aside: hidden, and ending in .tmp
// so that etcd ignores it quietly should it survive a crash.
func tempName(id, base string) string { return ".raftctl-" + id + "-" + base + ".tmp" }

// writeAside replaces dst with what fill writes, under the contract of
// durable.WriteAside (write aside, fsync, rename over dst, fsync the
// directory: after a crash dst holds the old bytes or the new ones): the
// temporary file, named by tempName after this run's backup id, gets mode
// and (when own is set) the owner in own, and is locked when lock is set,
// so that a server started meanwhile cannot open the new segment
// unlocked. Each of its four durable steps counts as one of the
// applier's steps (FaultAfter).
func (a *applier) writeAside(dst string, mode fs.FileMode, own *ManifestFile, lock bool, fill func(f *os.File) error) error {
	return writeAside(a.id, dst, mode, own, lockIf(lock, a.lock), a.step, fill)
}

func lockIf(ok bool, l *GroupLock) *GroupLock {
	if ok {
		return l
	}
	return nil
}

// writeAside is applier.writeAside for callers without an applier: id
// names the temporary file (tempName), step counts the durable steps.
func writeAside(id, dst string, mode fs.FileMode, own *ManifestFile, lock *GroupLock, step func(), fill func(f *os.File) error) error {
	o := durable.Options{Mode: mode, Step: step,
		After: func(f *os.File) error {
			if err := chownLike(f, own); err != nil {
				return fmt.Errorf("%s: %w", dst, err)
			}
			return nil
		}}
	if lock != nil {
		o.Before = func(f *os.File) error { return lock.hold(f.Name()) }
	}
	return durable.WriteAside(dst, tempName(id, filepath.Base(dst)), o, fill)
}

// chownLike gives f the owner recorded in own, if any and if it differs.
func chownLike(f *os.File, own *ManifestFile) error {
	if own == nil || own.UID == nil || own.GID == nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if uid, gid, ok := owner(fi); ok && uid == *own.UID && gid == *own.GID {
		return nil
	}
	if err := f.Chown(*own.UID, *own.GID); err != nil {
		return fmt.Errorf("cannot give the new file the owner %d:%d of the old one: %w", *own.UID, *own.GID, err)
	}
	return nil
}

// act runs one action.
func (a *applier) act(act Action) error {
	switch act.Kind {
	case Truncate:
		return a.truncate(act)
	case Remove:
		return a.remove(act.Path)
	case Rename, Quarantine:
		return a.rename(act.Path, act.NewPath)
	case Replace:
		return a.replace(act)
	}
	return fmt.Errorf("unknown action kind %q", act.Kind)
}

// truncate writes a copy of the file whose bytes from act.Offset on are
// zeros (fallocated, as etcd preallocates) and renames it over the file.
func (a *applier) truncate(act Action) error {
	fi, err := regularFile(act.Path)
	if err != nil {
		return err
	}
	if fi.Size() != act.Size {
		return &StaleError{Reason: act.Path + " changed size"}
	}
	rel, err := a.rel(originOfAction(a.plan, act.Path))
	if err != nil {
		return err
	}
	own := a.manFile(rel)
	a.changed = true
	return a.writeAside(act.Path, fi.Mode(), own, true, func(f *os.File) error {
		in, _, done, err := openHeld(a.held(act.Path), act.Path)
		if err != nil {
			return err
		}
		defer done()
		if _, err := io.CopyN(f, in, act.Offset); err != nil {
			return err
		}
		// Extend with zeros to the old size, blocks allocated, exactly as
		// etcd's fileutil.ZeroToEnd leaves a tail.
		if err := fileutil.Preallocate(f, act.Size, true); err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.Size() < act.Size {
			return f.Truncate(act.Size)
		}
		return nil
	})
}

// remove deletes a regular file (never through a symbolic link).
func (a *applier) remove(path string) error {
	if _, err := regularFile(path); err != nil {
		return err
	}
	a.changed = true
	if err := os.Remove(path); err != nil {
		return err
	}
	a.step()
	if err := fsyncDir(filepath.Dir(path)); err != nil {
		return err
	}
	a.step()
	return nil
}

// rename moves a regular file to a name that must be free.
func (a *applier) rename(from, to string) error {
	if _, err := regularFile(from); err != nil {
		return err
	}
	a.changed = true
	if err := renameNoReplace(from, to); err != nil {
		return err
	}
	a.step()
	if err := fsyncDir(filepath.Dir(to)); err != nil {
		return err
	}
	a.step()
	return nil
}
