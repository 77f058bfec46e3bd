//go:build linux

package inspect

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
)

// TestVerifyInUse holds the WAL's lock as etcd does (an OFD lock through
// fileutil.TryLockFile) and as other programs do (flock), and requires an
// in-use finding, and none once the lock is gone.
func TestVerifyInUse(t *testing.T) {
	g := baseGroup(t)
	segs := g.segs(t)
	last := segs[len(segs)-1].Path
	expectCodes(t, g.verify(t, VerifyOptions{}))

	t.Run("etcd-ofd", func(t *testing.T) {
		l, err := fileutil.TryLockFile(last, os.O_RDWR, fileutil.PrivateFileMode)
		if err != nil {
			t.Fatal(err)
		}
		rep := g.verify(t, VerifyOptions{})
		l.Close()
		expectCodes(t, rep, CodeInUse)
		if rep.Status != StatusOK {
			t.Errorf("in-use must not change the status: %s", rep.Status)
		}
		expectCodes(t, g.verify(t, VerifyOptions{}))
	})
	t.Run("flock", func(t *testing.T) {
		f, err := os.Open(segs[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		rep := g.verify(t, VerifyOptions{})
		f.Close()
		expectCodes(t, rep, CodeInUse)
		expectCodes(t, g.verify(t, VerifyOptions{}))
	})
	t.Run("flock-probe-without-proc", func(t *testing.T) {
		old := verifyProcLocks
		verifyProcLocks = filepath.Join(t.TempDir(), "no-proc-locks")
		defer func() { verifyProcLocks = old }()
		f, err := os.Open(last)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		expectCodes(t, g.verify(t, VerifyOptions{}), CodeInUse)
		// The probe left the owner's lock alone...
		other, err := os.Open(last)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
			t.Fatalf("the owner's flock is gone: %v", err)
		}
		// ...and, once it is released, holds none itself.
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		expectCodes(t, g.verify(t, VerifyOptions{}))
		if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatalf("verify left a lock behind: %v", err)
		}
	})
	t.Run("seen-after-the-read", func(t *testing.T) {
		// A server that starts while the log is read is seen by the
		// check after the reading alone (the one beside it is made
		// blind here), and reported once; a lock the first check sees
		// is reported once too, and the second check is not made.
		l, err := fileutil.TryLockFile(last, os.O_RDWR, fileutil.PrivateFileMode)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		defer func() { lockHolders = verifyLockHolders }()
		for _, blind := range []int{1, 0} {
			calls := 0
			lockHolders = func(paths func() []string, probe Segment) []verifyLock {
				calls++
				if calls == blind {
					return nil
				}
				return verifyLockHolders(paths, probe)
			}
			expectCodes(t, g.verify(t, VerifyOptions{}), CodeInUse)
			if want := 2 - (1 - blind); calls != want {
				t.Errorf("first check blind %v: %d checks, want %d", blind == 1, calls, want)
			}
		}
	})
	t.Run("probe-without-proc", func(t *testing.T) {
		l, err := fileutil.TryLockFile(last, os.O_RDWR, fileutil.PrivateFileMode)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		// The fallback alone (no /proc/locks match) must see etcd's lock.
		locks := verifyLockHolders(func() []string { return nil }, Segment{Path: last})
		if len(locks) != 1 || locks[0].Kind != "OFD" {
			t.Fatalf("probe found %+v", locks)
		}
	})
	t.Run("unfinished-end-is-a-write-in-progress", func(t *testing.T) {
		// Beside a live writer, a torn last record, a .snap newer than
		// the log and a corrupt .snap without a record are the server at
		// work: info, never a warning or an error; stopped, the same
		// files are judged as a crash left them.
		g := newGroup(t, 64*1024, []op{{from: 1, to: 20, term: 1, size: 100, commit: 20}, {from: 21, to: 22, term: 1, size: 1500, commit: 20}})
		s := g.segs(t)[0]
		rs := records(t, s)
		r := rs[len(rs)-2]
		zeroBytes(t, s.Path, r.Offset+8+600, 1<<20)
		g.saveSnap(t, 30, 1)
		os.WriteFile(filepath.Join(g.snapDir(), verifySnapFileName(1, 31)), []byte("half"), 0o600)
		expectCodes(t, g.verify(t, VerifyOptions{}), CodeTornTail, CodeSnapshotBeyondLog, CodeSnapshotCorrupt)
		l, err := fileutil.TryLockFile(s.Path, os.O_RDWR, fileutil.PrivateFileMode)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		rep := g.verify(t, VerifyOptions{})
		expectCodes(t, rep, CodeInUse, CodeWriteInProgress, CodeWriteInProgress)
		if rep.Status != StatusOK {
			t.Errorf("a write in progress must not change the status: %s", rep.Status)
		}
	})
	t.Run("skip", func(t *testing.T) {
		l, err := fileutil.TryLockFile(last, os.O_RDWR, fileutil.PrivateFileMode)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		expectCodes(t, g.verify(t, VerifyOptions{NoLockCheck: true}))
	})
}
