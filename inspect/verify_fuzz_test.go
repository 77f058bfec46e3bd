package inspect

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify feeds arbitrary bytes, split into up to three segments, to
// Verify (in default or deep mode): it must never panic or fail to reach a
// verdict on readable files, every finding must come from the catalogue
// with its severity, the status must follow from the findings, and
// whenever etcd's own checks fail raftctl must report an error.
func FuzzVerify(f *testing.F) {
	g := newGroup(f, 4096, []op{
		{from: 1, to: 10, term: 1, size: 50, commit: 5},
		{snap: &[2]uint64{5, 1}},
		{from: 8, to: 30, term: 2, size: 150, commit: 20},
		{from: 31, to: 32, term: 1, size: 10, commit: 20},
	})
	for _, s := range g.segs(f) {
		b, err := os.ReadFile(s.Path)
		if err != nil {
			f.Fatal(err)
		}
		end := len(b)
		for end > 0 && b[end-1] == 0 {
			end--
		}
		f.Add(b[:min(len(b), end+16)], uint16(0), uint16(0), false)
		f.Add(b[:min(len(b), end+16)], uint16(end/3), uint16(end/2), true)
	}
	f.Add([]byte{}, uint16(0), uint16(0), false)
	f.Add(make([]byte, 1024), uint16(512), uint16(0), true)
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint16, deep bool) {
		dir := t.TempDir()
		walDir := filepath.Join(dir, "wal")
		if err := os.Mkdir(walDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, p := range fuzzSegments(data, cut1, cut2) {
			if err := os.WriteFile(filepath.Join(walDir, SegmentName(uint64(k), uint64(k))), p, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := Verify(context.Background(), Group{Name: "fuzz", Dir: dir, WALDir: walDir}, VerifyOptions{Deep: deep, NoLockCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		checkReportShape(t, rep)
		if rep.Status == StatusUnknown {
			t.Fatalf("no verdict on readable files: %s", rep.Err)
		}
		if rep.Status != StatusOK && len(rep.Findings) == 0 {
			t.Fatalf("status %s without findings", rep.Status)
		}
		if eerr := etcdVerdict(walDir); eerr != nil && !rep.Has(SeverityError) {
			t.Fatalf("etcd fails (%v) but raftctl reports no error:\n%s", eerr, dumpFindings(rep))
		}
	})
}
