//go:build !linux

package repair

import "os"

// renameNoReplace renames from to to, failing if to exists. Without
// renameat2 the check and the rename are two steps.
func renameNoReplace(from, to string) error { return renameChecked(from, to) }

// exchange cannot swap directories atomically here.
func exchange(a, b string) error {
	return &os.LinkError{Op: "exchange", Old: a, New: b, Err: ErrNoExchange}
}

// openNoFollow opens path for reading (the caller has checked with Lstat
// that it is not a symbolic link).
func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
