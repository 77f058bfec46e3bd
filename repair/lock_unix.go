//go:build unix && !linux

package repair

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes a POSIX fcntl record lock and an flock on the whole file
// (etcd uses flock outside Linux).
func lockFile(f *os.File, write bool) error {
	typ, how := int16(unix.F_WRLCK), unix.LOCK_EX
	if !write {
		typ, how = unix.F_RDLCK, unix.LOCK_SH
	}
	lk := unix.Flock_t{Type: typ, Whence: int16(io.SeekStart)}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
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
