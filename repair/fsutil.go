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

	"github.com/raftctl/raftctl/repair/durable"
)

// ErrNoExchange says that the file system cannot swap two directories
// atomically (renameat2 RENAME_EXCHANGE), which a WAL rewrite needs.
var ErrNoExchange = durable.ErrNoExchange

// The package's file primitives are those of repair/durable (see its
// contract); these names keep the call sites short.

// fsyncDir makes the directory's entries (creations, renames, removals)
// durable: durable.SyncDir.
func fsyncDir(dir string) error { return durable.SyncDir(dir) }

// renameNoReplace is durable.RenameNoReplace: on an existing target, an
// error wrapping durable.ErrExists (and fs.ErrExist) naming it.
func renameNoReplace(from, to string) error { return durable.RenameNoReplace(from, to) }

// openNoFollow is durable.OpenNoFollow.
func openNoFollow(path string) (*os.File, error) { return durable.OpenNoFollow(path) }

// exchange is durable.Exchange, with the advice for a compaction when the
// file system cannot exchange.
func exchange(a, b string) error {
	err := durable.Exchange(a, b)
	if errors.Is(err, durable.ErrNoExchange) {
		return fmt.Errorf("%w; compact without --rewrite", err)
	}
	return err
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

// openHeld returns a reader of the regular file at path: through held's
// descriptor for it (the segment locked under that name) when that is
// still the file at path, else opened without following a symbolic link.
// done closes what openHeld opened (never a held descriptor).
func openHeld(held map[string]*os.File, path string) (r *io.SectionReader, fi fs.FileInfo, done func(), err error) {
	if fi, err = regularFile(path); err != nil {
		return nil, nil, nil, err
	}
	if f := held[path]; f != nil {
		if hfi, err := f.Stat(); err == nil && os.SameFile(fi, hfi) {
			return io.NewSectionReader(f, 0, hfi.Size()), hfi, func() {}, nil
		}
	}
	f, err := openNoFollow(path)
	if err != nil {
		return nil, nil, nil, err
	}
	ofi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	return io.NewSectionReader(f, 0, ofi.Size()), ofi, func() { f.Close() }, nil
}

// hashHeld is hashFile reading through held's descriptors (see openHeld).
func hashHeld(held map[string]*os.File, path string) (string, int64, error) {
	r, _, done, err := openHeld(held, path)
	if err != nil {
		return "", 0, err
	}
	defer done()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
