//go:build !unix

package repair

import (
	"io/fs"
	"os"
)

func owner(fs.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }

func killSelf() { os.Exit(137) }
