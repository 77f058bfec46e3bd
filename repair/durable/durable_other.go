//go:build !linux

package durable

import "os"

// RenameNoReplace renames from to to, failing with an error that wraps
// ErrExists and names to when to exists. Without renameat2 the check and
// the rename are two steps.
func RenameNoReplace(from, to string) error { return renameChecked(from, to) }

// Exchange cannot swap directory entries atomically here: it fails with
// ErrNoExchange, having changed nothing.
func Exchange(a, b string) error {
	return &os.LinkError{Op: "exchange", Old: a, New: b, Err: ErrNoExchange}
}

// OpenNoFollow opens path for reading (callers check with Lstat that it
// is not a symbolic link).
func OpenNoFollow(path string) (*os.File, error) { return os.Open(path) }
