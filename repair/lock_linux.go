//go:build linux

package repair

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// setRecordLock takes an OFD fcntl lock, what etcd takes on Linux; a kernel
// without OFD locks (EINVAL) falls back to a classic POSIX record lock.
func setRecordLock(f *os.File, lk *unix.Flock_t) error {
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, lk)
	if errors.Is(err, unix.EINVAL) {
		err = unix.FcntlFlock(f.Fd(), unix.F_SETLK, lk)
	}
	return err
}
