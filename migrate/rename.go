package migrate

import (
	"errors"
	"fmt"

	"github.com/raftctl/raftctl/repair/durable"
)

// renameNoReplace renames from to to with durable.RenameNoReplace (one
// renameat2 RENAME_NOREPLACE where the file system supports it). On an
// existing target the error wraps ErrExists (this package's, which cmd
// maps to its exit status) and durable.ErrExists, and names to.
func renameNoReplace(from, to string) error {
	err := durable.RenameNoReplace(from, to)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, durable.ErrExists):
		return fmt.Errorf("%w: %w", ErrExists, err)
	}
	return fmt.Errorf("migrate: %w", err)
}
