//go:build linux

package migrate

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames from to to, failing with ErrExists if to exists,
// atomically (renameat2 RENAME_NOREPLACE) where the file system supports it.
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w: %s", ErrExists, to)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		return renameChecked(from, to)
	}
	return fmt.Errorf("migrate: %w", &os.LinkError{Op: "rename", Old: from, New: to, Err: err})
}
