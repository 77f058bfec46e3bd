package migrate

import (
	"errors"
	"fmt"
	"os"
)

// renameChecked renames from to to after checking that to does not exist.
// (A directory renamed onto an empty directory would replace it.)
func renameChecked(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, to)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
