//go:build unix && !linux

package repair

import (
	"os"

	"golang.org/x/sys/unix"
)

// setRecordLock takes a POSIX fcntl record lock (etcd uses flock outside
// Linux; lockFile takes that too).
func setRecordLock(f *os.File, lk *unix.Flock_t) error {
	return unix.FcntlFlock(f.Fd(), unix.F_SETLK, lk)
}
