package inspect

import (
	"os"
	"path/filepath"
	"testing"
)

// TestScannerReadsSegmentAsOpened: a live writer appends to the last
// segment while a scanner reads it. The scanner takes the file's size when
// it opens it and must read the segment as it was then: the records that
// were complete at open, and a clean end at that size. Today it reads on
// past that size (fill reads until EOF) and then judges the next frame
// against the old size: "record length N exceeds the -M bytes left in the
// file", a torn write that does not exist (the torn-tail warnings of
// TestVerifyLiveEtcd whose message says a negative number of bytes is
// left). RAFTCTL_LIVE_STRICT=0 only logs a failure, like
// TestVerifyLiveEtcd.
func TestScannerReadsSegmentAsOpened(t *testing.T) {
	// A segment that etcd cut: complete records up to its end, no zeros.
	var ops []op
	for i := uint64(0); i < 12; i++ {
		ops = append(ops, op{from: 5*i + 1, to: 5*i + 5, term: 1, size: 100, commit: 5*i + 5})
	}
	walDir := writeWAL(t, t.TempDir(), 4096, ops)
	segs := listSegs(t, walDir)
	if len(segs) < 2 {
		t.Fatalf("want a cut segment, got %d segments", len(segs))
	}
	full, err := os.ReadFile(segs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	sc := newScanner(segs[:1], scanOptions{})
	for sc.Next() {
		offs = append(offs, sc.Record().Offset)
	}
	if sc.Err() != nil || len(offs) < 8 {
		t.Fatalf("reading the cut segment: %v, %d records", sc.Err(), len(offs))
	}
	// The writer has written the first half of the records when the
	// scanner opens the file, and appends the rest while it reads.
	half := offs[len(offs)/2]
	live := filepath.Join(t.TempDir(), segs[0].Name)
	if err := os.WriteFile(live, full[:half], 0o600); err != nil {
		t.Fatal(err)
	}
	seg := Segment{Path: live, Name: segs[0].Name, Seq: segs[0].Seq, Index: segs[0].Index, Size: half, Canonical: true}
	sc = newScanner([]Segment{seg}, scanOptions{BufferSize: 256})
	if !sc.Next() {
		t.Fatalf("first record: %v", sc.Err())
	}
	f, err := os.OpenFile(live, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(full[half:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	n, last := 1, int64(0)
	for sc.Next() {
		n, last = n+1, sc.Record().Offset
	}
	want := len(offs) / 2
	if sc.Err() == nil && n == want && last < half {
		return
	}
	msg := "the scanner read the segment past the size it had when opened: %d records (want %d, the last at offset %d, size at open %d), error %v"
	if os.Getenv("RAFTCTL_LIVE_STRICT") != "0" {
		t.Errorf(msg, n, want, last, half, sc.Err())
	} else {
		t.Logf("RAFTCTL_LIVE_STRICT=0, not failing: "+msg, n, want, last, half, sc.Err())
	}
}
