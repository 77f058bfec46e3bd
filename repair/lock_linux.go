//go:build linux

package repair

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an OFD fcntl lock on the whole file (a write lock when
// write, as etcd's ofdTryLockFile does; a read lock on a read-only file,
// which conflicts with etcd's write lock just the same) and then an flock
// (exclusive when write). Linux keeps the two kinds apart, so both are
// needed to exclude every kind of writer. A kernel without OFD locks (EINVAL)
// falls back to a classic POSIX record lock.
func lockFile(f *os.File, write bool) error {
	typ, how := int16(unix.F_WRLCK), unix.LOCK_EX
	if !write {
		typ, how = unix.F_RDLCK, unix.LOCK_SH
	}
	lk := unix.Flock_t{Type: typ, Whence: int16(io.SeekStart)}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EINVAL) {
		err = unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
	}
	if err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EWOULDBLOCK) {
			return &LockedError{Path: f.Name(), Kind: "fcntl"}
		}
		return &os.PathError{Op: "fcntl lock", Path: f.Name(), Err: err}
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return &LockedError{Path: f.Name(), Kind: "flock"}
		}
		return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return nil
}

func isReadOnlyFS(err error) bool { return errors.Is(err, unix.EROFS) }
