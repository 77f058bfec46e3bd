package repair

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNoExchange says that the file system cannot swap two directories
// atomically (renameat2 RENAME_EXCHANGE), which a WAL rewrite needs.
var ErrNoExchange = errors.New("the file system cannot exchange two directories atomically (renameat2 RENAME_EXCHANGE); compact without --rewrite")

// fsyncDir makes the directory's entries (creations, renames, removals)
// durable.
func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// regularFile checks with Lstat that path is a regular file (not a
// symbolic link, directory or device) and returns its information.
func regularFile(path string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: is a symbolic link; raftctl never changes a group through one", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return fi, nil
}

// hashFile returns the SHA-256 (hex) and size of a regular file, refusing
// symbolic links.
func hashFile(path string) (string, int64, error) {
	if _, err := regularFile(path); err != nil {
		return "", 0, err
	}
	f, err := openNoFollow(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	return filepath.Clean(a) == filepath.Clean(b)
}

// pathExists reports whether path exists (without following a final
// symbolic link).
func pathExists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}
