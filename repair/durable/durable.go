package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"go.etcd.io/etcd/server/v3/storage/wal"
)

// ErrExists is wrapped by the error of RenameNoReplace and of
// WriteAside with NoReplace when the target exists. errors.Is(err,
// fs.ErrExist) holds for it too.
var ErrExists error = existsError{}

type existsError struct{}

func (existsError) Error() string        { return "already exists" }
func (existsError) Is(target error) bool { return target == fs.ErrExist }

// existsErr is the error for an existing target.
func existsErr(to string) error { return fmt.Errorf("%s: %w", to, ErrExists) }

// ErrNoExchange says that the file system cannot swap two directory
// entries atomically (renameat2 RENAME_EXCHANGE).
var ErrNoExchange = errors.New("the file system cannot exchange two directories atomically (renameat2 RENAME_EXCHANGE)")

// SyncDir fsyncs the directory dir, making its entries' creations,
// renames and removals durable.
func SyncDir(dir string) error { return Sync(dir) }

// Sync fsyncs the file or directory at path (opened read-only, which is
// enough for fsync on Linux and the BSDs).
func Sync(path string) error {
	dir := path
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// renameChecked renames from to to after checking that to does not exist
// (two steps: the fallback where renameat2 is missing).
func renameChecked(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return existsErr(to)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(from, to)
}

// Options tune WriteAside.
type Options struct {
	// Mode is the permission of the new file (0600 when zero).
	Mode fs.FileMode
	// NoReplace makes the final rename fail with ErrExists when dst
	// exists (RenameNoReplace) instead of replacing it.
	NoReplace bool
	// Before, if set, is called on the new temporary file before fill
	// (repair locks it there).
	Before func(f *os.File) error
	// After, if set, is called once fill and the chmod are done, before
	// the fsync (repair gives the file its owner there).
	After func(f *os.File) error
	// Step, if set, is called after each of the four durable steps:
	// the file complete (filled, mode set), fsynced, renamed, the
	// directory fsynced (repair's crash tests kill the process there).
	Step func()
}

// WriteAside makes dst hold what fill writes, atomically: see the package
// doc comment for the contract and the crash-safety argument. tmp is the
// temporary file's base name, in dst's directory; a file of that name is
// one an interrupted run left and is removed first, so callers choose a
// name of their own (hidden, ending in .tmp).
func WriteAside(dst, tmp string, o Options, fill func(f *os.File) error) error {
	dir := filepath.Dir(dst)
	tmp = filepath.Join(dir, tmp)
	step := o.Step
	if step == nil {
		step = func() {}
	}
	mode := o.Mode.Perm()
	if mode == 0 {
		mode = 0o600
	}
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		f.Close()
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if o.Before != nil {
		if err := o.Before(f); err != nil {
			return err
		}
	}
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if o.After != nil {
		if err := o.After(f); err != nil {
			return err
		}
	}
	step()
	if err := f.Sync(); err != nil {
		return err
	}
	step()
	if err := f.Close(); err != nil {
		return err
	}
	if o.NoReplace {
		err = RenameNoReplace(tmp, dst)
	} else {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		return err
	}
	renamed = true
	step()
	if err := SyncDir(dir); err != nil {
		return err
	}
	step()
	return nil
}

// segmentMu is the guard of wal.SegmentSizeBytes.
var segmentMu sync.Mutex

// WithSegmentSize runs f with etcd's wal.SegmentSizeBytes set to size (kept
// as it is when size <= 0), holding the module's one mutex for it, and
// restores the previous value afterwards, also when f panics. Every WAL
// writer in the module runs inside it for its whole life (the wal package
// reads the variable at every cut). f must not call WithSegmentSize or
// LockSegmentSize (the mutex is not reentrant); reading
// wal.SegmentSizeBytes inside f is fine.
func WithSegmentSize(size int64, f func() error) error {
	defer LockSegmentSize(size)()
	return f()
}

// LockSegmentSize is WithSegmentSize for a writer whose life is the rest
// of a function body: it sets wal.SegmentSizeBytes under the same mutex
// and returns the function that restores it and unlocks (defer it).
func LockSegmentSize(size int64) (unlock func()) {
	segmentMu.Lock()
	old := wal.SegmentSizeBytes
	if size > 0 {
		wal.SegmentSizeBytes = size
	}
	return func() {
		wal.SegmentSizeBytes = old
		segmentMu.Unlock()
	}
}

// SegmentSize reads wal.SegmentSizeBytes under the guard (not from inside
// WithSegmentSize's f: read the variable directly there).
func SegmentSize() int64 {
	segmentMu.Lock()
	defer segmentMu.Unlock()
	return wal.SegmentSizeBytes
}
