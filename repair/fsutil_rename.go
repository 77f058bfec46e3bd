package repair

import (
	"fmt"
	"io/fs"
	"os"
)

// renameChecked renames from to to after checking that to does not exist.
func renameChecked(from, to string) error {
	ok, err := pathExists(to)
	if err != nil {
		return err
	}
	if ok {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}
