package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkExists checks the one behaviour on an existing target.
func checkExists(t *testing.T, err error, to string) {
	t.Helper()
	if !errors.Is(err, ErrExists) || !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), to) {
		t.Fatalf("err = %v, want one wrapping ErrExists and fs.ErrExist and naming %s", err, to)
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	if err := SyncDir(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncDir(missing) = %v", err)
	}
}

func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, from, "new")
	if err := RenameNoReplace(from, to); err != nil {
		t.Fatal(err)
	}
	if got := content(t, to); got != "new" {
		t.Fatalf("to holds %q", got)
	}
	if _, err := os.Lstat(from); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("from still there: %v", err)
	}
	// An existing target: nothing changes, and the error says so.
	write(t, from, "newer")
	checkExists(t, RenameNoReplace(from, to), to)
	if content(t, to) != "new" || content(t, from) != "newer" {
		t.Fatal("a failed rename changed a file")
	}
	// Also an existing directory (rename(2) would replace an empty one).
	d1, d2 := filepath.Join(dir, "d1"), filepath.Join(dir, "d2")
	for _, d := range []string{d1, d2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	checkExists(t, RenameNoReplace(d1, d2), d2)
}

// TestRenameChecked tests the two-step fallback (used where renameat2
// is missing) with the same existing-target behaviour.
func TestRenameChecked(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, from, "x")
	write(t, to, "y")
	checkExists(t, renameChecked(from, to), to)
	if content(t, to) != "y" {
		t.Fatal("target changed")
	}
	if err := os.Remove(to); err != nil {
		t.Fatal(err)
	}
	if err := renameChecked(from, to); err != nil || content(t, to) != "x" {
		t.Fatalf("renameChecked = %v", err)
	}
}

func TestExchange(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, "f"), filepath.Base(d))
	}
	err := Exchange(a, b)
	if runtime.GOOS != "linux" || errors.Is(err, ErrNoExchange) {
		if !errors.Is(err, ErrNoExchange) {
			t.Fatalf("Exchange = %v, want ErrNoExchange", err)
		}
		if content(t, filepath.Join(a, "f")) != "a" {
			t.Fatal("a failed exchange changed something")
		}
		t.Skip("no RENAME_EXCHANGE here")
	}
	if err != nil {
		t.Fatal(err)
	}
	if content(t, filepath.Join(a, "f")) != "b" || content(t, filepath.Join(b, "f")) != "a" {
		t.Fatal("not exchanged")
	}
	if err := Exchange(a, filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Exchange with a missing entry = %v", err)
	}
}

func TestOpenNoFollow(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	write(t, p, "x")
	f, err := OpenNoFollow(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if runtime.GOOS != "linux" {
		return
	}
	l := filepath.Join(dir, "l")
	if err := os.Symlink(p, l); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenNoFollow(l); err == nil {
		f.Close()
		t.Fatal("opened a symbolic link")
	}
}

func TestWriteAside(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "dst")
	tmp := ".x-dst.tmp"
	fill := func(s string) func(*os.File) error {
		return func(f *os.File) error { _, err := f.WriteString(s); return err }
	}
	noTemp := func() {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(dir, tmp)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("temporary file left: %v", err)
		}
	}

	// A new file, with a leftover temporary file of an interrupted run.
	write(t, filepath.Join(dir, tmp), "leftover")
	steps, before, after := 0, 0, 0
	o := Options{Mode: 0o640, Step: func() { steps++ },
		Before: func(f *os.File) error { before++; return nil },
		After: func(f *os.File) error {
			after++
			if fi, err := f.Stat(); err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("After sees mode %v, %v", fi.Mode(), err)
			}
			return nil
		}}
	if err := WriteAside(dst, tmp, o, fill("one")); err != nil {
		t.Fatal(err)
	}
	if content(t, dst) != "one" || steps != 4 || before != 1 || after != 1 {
		t.Fatalf("content %q, steps %d, before %d, after %d", content(t, dst), steps, before, after)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode())
	}
	noTemp()

	// Replacing.
	if err := WriteAside(dst, tmp, Options{}, fill("two")); err != nil || content(t, dst) != "two" {
		t.Fatalf("replace: %v, %q", err, content(t, dst))
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Fatalf("default mode %v", fi.Mode())
	}

	// NoReplace on an existing target: the one existing-target behaviour,
	// dst untouched, no temporary file left.
	checkExists(t, WriteAside(dst, tmp, Options{NoReplace: true}, fill("three")), dst)
	if content(t, dst) != "two" {
		t.Fatal("NoReplace replaced")
	}
	noTemp()
	fresh := filepath.Join(dir, "fresh")
	if err := WriteAside(fresh, ".fresh.tmp", Options{NoReplace: true}, fill("f")); err != nil || content(t, fresh) != "f" {
		t.Fatalf("NoReplace on a free name: %v", err)
	}

	// A failing fill, Before or After changes nothing.
	boom := errors.New("boom")
	for _, o := range []Options{{}, {Before: func(*os.File) error { return boom }}, {After: func(*os.File) error { return boom }}} {
		f := func(f *os.File) error { return boom }
		if o.Before != nil || o.After != nil {
			f = fill("four")
		}
		if err := WriteAside(dst, tmp, o, f); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if content(t, dst) != "two" {
			t.Fatal("a failed write changed dst")
		}
		noTemp()
	}
}

func TestWithSegmentSize(t *testing.T) {
	before := SegmentSize()
	err := WithSegmentSize(12345, func() error {
		if wal.SegmentSizeBytes != 12345 {
			t.Errorf("inside: %d", wal.SegmentSizeBytes)
		}
		return errors.New("returned")
	})
	if err == nil || err.Error() != "returned" {
		t.Fatalf("err = %v", err)
	}
	if SegmentSize() != before {
		t.Fatalf("not restored: %d, was %d", SegmentSize(), before)
	}
	_ = WithSegmentSize(0, func() error {
		if wal.SegmentSizeBytes != before {
			t.Errorf("size 0 changed it to %d", wal.SegmentSizeBytes)
		}
		return nil
	})
	func() {
		defer func() { _ = recover() }()
		_ = WithSegmentSize(777, func() error { panic("p") })
	}()
	if SegmentSize() != before {
		t.Fatalf("not restored after a panic: %d", SegmentSize())
	}

	// Writers in parallel each see their own size for their whole life.
	var wg sync.WaitGroup
	for k := int64(1); k <= 8; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := k * 4096
			for range 50 {
				if k%2 == 0 {
					_ = WithSegmentSize(size, func() error {
						for range 10 {
							runtime.Gosched()
							if wal.SegmentSizeBytes != size {
								t.Errorf("saw %d, want %d", wal.SegmentSizeBytes, size)
							}
						}
						return nil
					})
					continue
				}
				unlock := LockSegmentSize(size)
				runtime.Gosched()
				if wal.SegmentSizeBytes != size {
					t.Errorf("saw %d, want %d", wal.SegmentSizeBytes, size)
				}
				unlock()
			}
		}()
	}
	wg.Wait()
	if SegmentSize() != before {
		t.Fatalf("not restored: %d", SegmentSize())
	}
}
