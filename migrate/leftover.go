package migrate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// leftoverMark is in the name of every hidden build directory:
// ".<name>.migrate-<pid>-<random>".
const leftoverMark = ".migrate-"

// Leftover is a hidden build directory that an interrupted migration (a
// process killed before it could clean up) left in an output directory.
// Nothing in it is visible as a group; it only takes space.
type Leftover struct {
	// Path is the directory.
	Path string `json:"path"`
	// Group is the name of the group it was building.
	Group string `json:"group"`
	// Size is the bytes of the files in it.
	Size int64 `json:"size"`
	// PID is the process that built it (0 if its name does not say).
	PID int `json:"pid,omitempty"`
	// Running is true if a process with that id exists now: perhaps a
	// migration still in progress, so not to be removed blindly.
	Running bool `json:"running"`
}

// findLeftovers lists the hidden build directories in out (none if out does
// not exist).
func findLeftovers(out string) ([]Leftover, error) {
	ents, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ls []Leftover
	for _, e := range ents {
		name := e.Name()
		i := strings.LastIndex(name, leftoverMark)
		if !e.IsDir() || !strings.HasPrefix(name, ".") || i <= 1 {
			continue
		}
		l := Leftover{Path: filepath.Join(out, name), Group: name[1:i]}
		rest := name[i+len(leftoverMark):]
		if j := strings.IndexByte(rest, '-'); j > 0 {
			if pid, err := strconv.Atoi(rest[:j]); err == nil && pid > 0 {
				l.PID = pid
				l.Running = processExists(pid)
			}
		}
		_ = filepath.WalkDir(l.Path, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					l.Size += fi.Size()
				}
			}
			return nil
		})
		ls = append(ls, l)
	}
	return ls, nil
}

func sortLeftovers(ls []Leftover) {
	sort.Slice(ls, func(i, j int) bool { return ls[i].Path < ls[j].Path })
}

// processExists reports whether a process with id pid exists (signal 0).
func processExists(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
