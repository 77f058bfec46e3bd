package inspect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// verifyLock is a lock some process holds on a file of the group.
type verifyLock struct {
	Path string
	// Kind is how it was taken: "OFD" (fcntl open file description lock,
	// what etcd takes on Linux), "POSIX" (fcntl record lock), "FLOCK"
	// (flock(2)), or what /proc/locks says.
	Kind string
	// Mode is "WRITE" or "READ" when known.
	Mode string
	// PID is the holder's process id, 0 when unknown (OFD locks have no
	// owning process).
	PID int
}

// lockCheck looks, on a goroutine of its own, for a live process holding
// a lock on a segment, a .tmp file of etcd's pipeline, the WAL or snapshot
// directory, or the group directory (see verifyLockHolders for how,
// without taking a lock); reportLocks takes its answer. The WAL directory
// is listed afresh: a live server locks only its newest segments and the
// pipeline's file, which may be newer than the list the read started
// from (it is listed only if /proc/locks lists a lock at all). Verify asks
// as the reading of the log begins and once it has ended; the first lock
// found is reported.
//
// It runs beside the work because its answer costs the kernel a wait:
// reading /proc/locks takes a lock that waits for an RCU grace period,
// 5 to 14 ms on these machines, each time (strace -T), while it uses no
// processor. So the first check sees the locks of a few milliseconds into
// the reading rather than of its start: a writer only appends to the last
// segment, which is read last, and one alive then is seen by the check
// after the reading. It returns nil when there is nothing to ask (the
// group is already known to be live, or the caller said not to).
func (v *verifier) lockCheck() <-chan []verifyLock {
	if v.live || v.opts.NoLockCheck {
		return nil
	}
	segs, g := v.segs, v.g
	out := make(chan []verifyLock, 1)
	go func() { out <- lockHolders(func() []string { return lockPaths(segs, g) }, segs[len(segs)-1]) }()
	return out
}

// lockPaths lists the files of group g a live process may lock: segs, the
// segments and .tmp files in the WAL directory now, and the directories.
func lockPaths(segs []Segment, g Group) []string {
	var paths []string
	for _, s := range segs {
		paths = append(paths, s.Path)
	}
	if entries, err := os.ReadDir(g.WALDir); err == nil {
		for _, e := range entries {
			if n := e.Name(); strings.HasSuffix(n, ".wal") || strings.HasSuffix(n, ".tmp") {
				paths = append(paths, filepath.Join(g.WALDir, n))
			}
		}
	}
	for _, d := range []string{g.WALDir, g.SnapDir, g.Dir} {
		if d != "" {
			paths = append(paths, d)
		}
	}
	return paths
}

// lockHolders is verifyLockHolders, a variable so that tests can tell the
// check before the reading from the one after it.
var lockHolders = verifyLockHolders

// reportLocks waits for a lockCheck and reports the first lock it found
// at position at of the findings: where it stood when the check began, so
// the report reads as if the check had run there and then.
func (v *verifier) reportLocks(check <-chan []verifyLock, at int) {
	if check == nil {
		return
	}
	locks := <-check
	if len(locks) == 0 || v.live {
		return
	}
	v.live = true
	l := locks[0]
	who := "a process"
	if l.PID > 0 {
		who = fmt.Sprintf("process %d", l.PID)
	}
	how := l.Kind
	if l.Kind == "OFD" {
		how = "OFD (fcntl open file description, as etcd takes it)"
	}
	more := ""
	if len(locks) > 1 {
		more = fmt.Sprintf(" (and %d other lock(s) on the group's files)", len(locks)-1)
	}
	mode := ""
	if l.Mode != "" {
		mode = " " + l.Mode
	}
	v.insert(at, CodeInUse, l.Path, -1, 0, fmt.Sprintf("%s holds a%s %s lock on %s%s: the group is in use by a live process, and findings about the end of the log may reflect writes in progress", who, mode, how, filepath.Base(l.Path), more))
}
