//go:build !linux

package migrate

// renameNoReplace renames from to to, failing with ErrExists if to exists.
// Without renameat2 the check and the rename are two steps.
func renameNoReplace(from, to string) error { return renameChecked(from, to) }
