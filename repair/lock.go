package repair

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/raftctl/raftctl/inspect"
)

// LockedError says that another process holds a lock on a file of the
// group: most likely a live etcd (or raftctl) has the WAL open. Nothing was
// changed.
type LockedError struct {
	// Path is the locked file.
	Path string
	// Kind is the kind of lock found: "fcntl" (OFD or POSIX record lock,
	// what etcd takes on Linux) or "flock".
	Kind string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s: locked by another process (%s lock): is etcd, or another raftctl, still using this WAL?", e.Path, e.Kind)
}

// GroupLock holds both kinds of lock on every segment of a group, and on
// the files raftctl creates while it holds them.
type GroupLock struct {
	files []*os.File
	// byPath maps each locked segment's path (as listed) to its
	// descriptor: the reads under the lock go through them (see held).
	byPath map[string]*os.File
	// readOnly is set when a segment was opened for reading only.
	readOnly bool
}

// LockGroup locks every WAL segment of g (a group without a WAL directory
// locks nothing). Each segment is opened for writing and locked with an
// OFD fcntl write lock (F_OFD_SETLK, as etcd's fileutil.TryLockFile does on
// Linux) and with flock(LOCK_EX|LOCK_NB), so that neither an etcd using
// fcntl locks nor one using flock can be running on it, and neither can
// start while the lock is held. A segment locked by someone else is a
// *LockedError; any other failure to open or lock is returned as is. On
// error nothing stays locked.
func LockGroup(g inspect.Group) (*GroupLock, error) {
	return lockGroup(g, false)
}

// lockGroup locks the segments; with readOnlyOK, a segment that cannot be
// opened for writing (no permission, a read-only file system) is opened
// for reading and read-locked instead, which still excludes a writer.
// The planners (PlanRepair, PlanCompact) lock this way, for a dry run and
// for a real run alike; Apply locks with LockGroup, for writing.
func lockGroup(g inspect.Group, readOnlyOK bool) (*GroupLock, error) {
	segs, _, err := inspect.OpenGroup(g)
	if err != nil {
		return nil, err
	}
	l := &GroupLock{byPath: map[string]*os.File{}}
	for _, s := range segs {
		if err := l.lockPath(s.Path, readOnlyOK); err != nil {
			l.Release()
			return nil, err
		}
		l.byPath[s.Path] = l.files[len(l.files)-1]
	}
	return l, nil
}

// held maps the segments locked by lockGroup to their open descriptors
// (nil for a nil lock). Reads through them see the files that were
// locked, whatever is renamed meanwhile; callers read with ReadAt (or a
// SectionReader), never moving the shared offset, and never close them.
func (l *GroupLock) held() map[string]*os.File {
	if l == nil {
		return nil
	}
	return l.byPath
}

// lockPath opens path and locks it.
func (l *GroupLock) lockPath(path string, readOnlyOK bool) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	write := true
	if err != nil && readOnlyOK && (errors.Is(err, fs.ErrPermission) || isReadOnlyFS(err)) {
		f, err = os.Open(path)
		write = false
	}
	if err != nil {
		return err
	}
	if err := lockFile(f, write); err != nil {
		f.Close()
		return err
	}
	l.readOnly = l.readOnly || !write
	l.files = append(l.files, f)
	return nil
}

// hold opens path, a file raftctl created (a temporary file about to be
// renamed into the group), once more for writing, locks that new
// descriptor and keeps it open and locked until Release: the lock outlives
// the caller's own descriptor, which the caller closes before the rename.
func (l *GroupLock) hold(path string) error {
	_, err := l.holdFile(path)
	return err
}

// holdFile is hold, returning the locked descriptor (the lock keeps it and
// closes it on Release; read it with ReadAt only).
func (l *GroupLock) holdFile(path string) (*os.File, error) {
	if err := l.lockPath(path, false); err != nil {
		return nil, err
	}
	return l.files[len(l.files)-1], nil
}

// Release drops every lock. It is safe to call more than once.
func (l *GroupLock) Release() error {
	if l == nil {
		return nil
	}
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Close())
	}
	l.files, l.byPath = nil, nil
	return errors.Join(errs...)
}
