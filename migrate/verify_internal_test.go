package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

func generate(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := legacytest.Generate(dir, legacytest.Config{Records: n, Seed: 9, RotateLimit: 16 << 10}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A read-back that differs from the source fails the migration with
// ErrVerify and removes the hidden build directory.
func TestVerifyMismatchRemovesOutput(t *testing.T) {
	src := generate(t, 300)
	tamper := map[string]func(s *walSummary){
		"checksum":  func(s *walSummary) { s.sum++ },
		"count":     func(s *walSummary) { s.entries-- },
		"member":    func(s *walSummary) { s.members[0] = 7 },
		"term":      func(s *walSummary) { s.term = 9 },
		"commit":    func(s *walSummary) { s.state.Commit = new(uint64(3)) },
		"vote":      func(s *walSummary) { s.state.Vote = new(uint64(1)) },
		"lastIndex": func(s *walSummary) { s.lastIndex++ },
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			readBackFunc = func(dir string) (*walSummary, error) {
				s, err := readBack(dir)
				if err == nil {
					f(s)
				}
				return s, err
			}
			defer func() { readBackFunc = readBack }()
			out := t.TempDir()
			_, err := Commitlog(context.Background(), CommitlogOptions{Source: src, Out: out, Name: "g"})
			if !errors.Is(err, ErrVerify) {
				t.Fatalf("err %v", err)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Fatalf("out holds %v", ents)
			}
		})
	}
}

// readBack sees damage in a written WAL: a flipped byte in an entry fails
// the CRC check (or, in read mode, ends the log early, which verify
// catches).
func TestReadBackDetectsDamage(t *testing.T) {
	src := generate(t, 300)
	res, err := Commitlog(context.Background(), CommitlogOptions{Source: src, Out: t.TempDir(), Name: "g"})
	if err != nil {
		t.Fatal(err)
	}
	walDir := filepath.Join(res.Output, "wal")
	ents, _ := os.ReadDir(walDir)
	seg := filepath.Join(walDir, ents[0].Name())
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	m := &migration{res: res}
	s, err := readBack(walDir)
	if err != nil || m.verify(s) != nil {
		t.Fatalf("intact WAL: %v %v", err, m.verify(s))
	}
	end := len(b) // the segment is preallocated: find the end of the data
	for end > 0 && b[end-1] == 0 {
		end--
	}
	for _, at := range []int{end / 3, end / 2, end - 1} {
		b[at] ^= 0x55
		if err := os.WriteFile(seg, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := readBack(walDir)
		if err == nil {
			err = m.verify(s)
		}
		if err == nil {
			t.Fatalf("flipped byte %d not detected", at)
		}
		t.Logf("flipped byte %d of %d: %v", at, end, err)
		b[at] ^= 0x55
	}
}
