//go:build linux

package inspect

import (
	"sync/atomic"
	"syscall"
	"testing"
)

// TestScannerReadsThroughAPartialPageCache runs the differential test
// of the scanner with a stand-in for preadv2(RWF_NOWAIT) that finds only
// part of each read in the page cache, or none, or answers that the kernel
// does not know the flag: the plain read takes the rest, and every record
// and verdict stays the same.
func TestScannerReadsThroughAPartialPageCache(t *testing.T) {
	if !noWaitUsable.Load() {
		t.Skip("preadv2(RWF_NOWAIT) is not usable on this kernel")
	}
	g := newGroup(t, 8*1024, manyOps)
	want := g.verify(t, VerifyOptions{})
	real := preadv2
	defer func() { preadv2 = real; noWaitUsable.Store(true) }()
	for _, c := range []struct {
		name string
		fake func(fd uintptr, b []byte, off int64) (int, syscall.Errno)
	}{
		{"half of each read", func(fd uintptr, b []byte, off int64) (int, syscall.Errno) {
			if len(b) > 64 {
				return real(fd, b[:len(b)/2], off)
			}
			return 0, syscall.EAGAIN
		}},
		{"nothing cached", func(uintptr, []byte, int64) (int, syscall.Errno) { return 0, syscall.EAGAIN }},
		{"cached up to a page", func(fd uintptr, b []byte, off int64) (int, syscall.Errno) {
			if end := off &^ 4095; end > off {
				return real(fd, b[:end-off], off)
			}
			return 0, syscall.EAGAIN
		}},
		{"unknown flag", func(uintptr, []byte, int64) (int, syscall.Errno) { return 0, syscall.EOPNOTSUPP }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int64 // (called from the background reads)
			preadv2 = func(fd uintptr, b []byte, off int64) (int, syscall.Errno) {
				calls.Add(1)
				return c.fake(fd, b, off)
			}
			noWaitUsable.Store(true)
			compareOutcomes(t, c.name, g.segs(t))
			got := g.verify(t, VerifyOptions{})
			if got.Status != want.Status || dumpFindings(got) != dumpFindings(want) {
				t.Fatalf("verify through a partial page cache:\n%s\nwant\n%s", dumpFindings(got), dumpFindings(want))
			}
			if calls.Load() == 0 {
				t.Fatal("preadv2 was never tried")
			}
		})
	}
}
