//go:build !unix

package repair

import (
	"errors"
	"os"
)

// lockFile refuses: raftctl changes groups only where it can take the
// locks etcd takes (Unix).
func lockFile(f *os.File, write bool) error {
	return errors.New("repair: changing a group is supported on Unix systems only")
}

func isReadOnlyFS(error) bool { return false }
