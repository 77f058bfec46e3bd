//go:build linux

package inspect

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// verifyLockHolders finds the locks held on paths without disturbing their
// owner:
//
//  1. It parses /proc/locks, the kernel's list of every lock on the
//     system (OFDLCK, POSIX, FLOCK, LEASE ...), matching each file by device
//     and inode. Reading it touches no lock, and sees every kind of lock,
//     shared ones included.
//  2. It asks fcntl(F_OFD_GETLK) on a read-only descriptor of probe (the
//     last segment, which etcd always holds locked) whether a write lock
//     could be placed. F_OFD_GETLK only tests: it places nothing, and it
//     sees both OFD locks (etcd's, through fileutil.TryLockFile) and POSIX
//     record locks.
//  3. Only when /proc/locks cannot be read (a kernel without it, or a
//     hardened /proc), it probes flock(2) with LOCK_SH|LOCK_NB on the
//     probe file and releases at once. A shared flock conflicts only with
//     an exclusive one, so an owner holding LOCK_EX is never blocked, but
//     for an instant the file is share-locked: an owner that tries to take
//     LOCK_EX|LOCK_NB in that instant would fail once. This is why /proc
//     comes first.
//
// paths is called only when /proc/locks lists a lock at all: listing and
// stat'ing the group's files is most of the check's cost over a fleet of
// small groups, and most hosts hold no lock.
func verifyLockHolders(paths func() []string, probe Segment) []verifyLock {
	var out []verifyLock
	procOK := false
	if data, err := os.ReadFile(verifyProcLocks); err == nil {
		procOK = true
		out = verifyParseProcLocks(data, paths)
	}
	if len(out) > 0 {
		return out
	}
	// The probe reads through the descriptor the listing opened, if any
	// (a segment is opened once per command).
	if f, done, err := probe.openRead(); err == nil {
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
		if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err == nil && lk.Type != unix.F_UNLCK {
			kind, pid := "OFD", 0
			if lk.Pid > 0 {
				kind, pid = "POSIX", int(lk.Pid)
			}
			mode := "WRITE"
			if lk.Type == unix.F_RDLCK {
				mode = "READ"
			}
			out = append(out, verifyLock{Path: probe.Path, Kind: kind, Mode: mode, PID: pid})
		} else if !procOK {
			err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
			if err == nil {
				_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
			} else if err == unix.EWOULDBLOCK {
				out = append(out, verifyLock{Path: probe.Path, Kind: "FLOCK", Mode: "WRITE"})
			}
		}
		done()
	}
	return out
}

// verifyProcLocks is the kernel's list of locks (a variable for tests).
var verifyProcLocks = "/proc/locks"

// verifyParseProcLocks matches the lines of /proc/locks against paths.
// A line reads
//
//	1: OFDLCK ADVISORY  WRITE -1 fe:00:9979840 0 EOF
//	2: FLOCK  ADVISORY  WRITE 32313 fe:00:9979840 0 EOF
//	3: -> FLOCK  ADVISORY  WRITE 32314 fe:00:9979840 0 EOF   (a waiter)
//
// with the device's major and minor numbers in hex and the inode in
// decimal.
func verifyParseProcLocks(data []byte, paths func() []string) []verifyLock {
	type devIno struct{ major, minor, ino uint64 }
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	want := map[devIno]string{}
	for _, p := range paths() {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			continue
		}
		want[devIno{uint64(unix.Major(st.Dev)), uint64(unix.Minor(st.Dev)), st.Ino}] = p
	}
	var out []verifyLock
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] == "->" {
			continue
		}
		kind, mode, pidField, id := f[1], f[3], f[4], f[5]
		parts := strings.Split(id, ":")
		if len(parts) != 3 {
			continue
		}
		major, err1 := strconv.ParseUint(parts[0], 16, 64)
		minor, err2 := strconv.ParseUint(parts[1], 16, 64)
		ino, err3 := strconv.ParseUint(parts[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		p, ok := want[devIno{major, minor, ino}]
		if !ok || seen[p+kind] {
			continue
		}
		seen[p+kind] = true
		if kind == "OFDLCK" {
			kind = "OFD"
		}
		pid, _ := strconv.Atoi(pidField)
		out = append(out, verifyLock{Path: p, Kind: kind, Mode: mode, PID: max(pid, 0)})
	}
	return out
}
