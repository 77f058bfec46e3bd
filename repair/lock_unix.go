//go:build unix

package repair

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an fcntl lock on the whole file (a write lock when write;
// a read lock on a read-only file, which conflicts with a writer's lock just
// the same) and then an flock (exclusive when write). On Linux the fcntl
// lock is an OFD lock, as etcd's ofdTryLockFile takes (see setRecordLock).
// Linux keeps fcntl and flock locks apart, so both are needed to exclude
// every kind of writer.
func lockFile(f *os.File, write bool) error {
	typ, how := int16(unix.F_WRLCK), unix.LOCK_EX
	if !write {
		typ, how = unix.F_RDLCK, unix.LOCK_SH
	}
	lk := unix.Flock_t{Type: typ, Whence: int16(io.SeekStart)}
	if err := setRecordLock(f, &lk); err != nil {
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
