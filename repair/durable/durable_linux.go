//go:build linux

package durable

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// RenameNoReplace renames from to to, failing with an error that wraps
// ErrExists and names to when to exists: atomically (renameat2
// RENAME_NOREPLACE) where the file system supports it, else checked first.
func RenameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return existsErr(to)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		return renameChecked(from, to)
	}
	return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
}

// Exchange swaps the directory entries a and b atomically, or fails with
// an error wrapping ErrNoExchange, having changed nothing, where the file
// system cannot.
func Exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EXDEV):
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: ErrNoExchange}
	}
	return &os.LinkError{Op: "exchange", Old: a, New: b, Err: err}
}

// OpenNoFollow opens path for reading, failing on a symbolic link.
func OpenNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
}
