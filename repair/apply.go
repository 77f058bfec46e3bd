package repair

import (
	"context"
	"errors"
	"fmt"
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
	return sameParts([]planPart{
		{"actions", plan.Actions, fresh.Actions},
		{"files", plan.Files, fresh.Files},
		{"compaction", plan.Compact, fresh.Compact},
	})
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
