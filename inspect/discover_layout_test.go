package inspect

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestDiscoverSymlinksAndNames: a PATH that is a link is followed, a link
// loop ends, names are unique across PATHs.
func TestDiscoverSymlinksAndNames(t *testing.T) {
	root := t.TempDir()
	mkdirs(t, root, "a/g1/wal", "b/g1/wal", "real/g2/wal", "loop")
	if err := os.Symlink(filepath.Join(root, "real"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "loop"), filepath.Join(root, "loop", "self")); err != nil {
		t.Fatal(err)
	}
	names := func(paths ...string) []string {
		t.Helper()
		gs, err := Discover(paths, DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range gs {
			out = append(out, g.Name)
		}
		return out
	}
	if got := names(filepath.Join(root, "link")); !reflect.DeepEqual(got, []string{"g2"}) {
		t.Errorf("link: %q", got)
	}
	if got := names(filepath.Join(root, "a"), filepath.Join(root, "b")); !reflect.DeepEqual(got, []string{"a/g1", "b/g1"}) {
		t.Errorf("same names: %q", got)
	}
	if got := names(filepath.Join(root, "a", "g1"), filepath.Join(root, "b", "g1")); !reflect.DeepEqual(got, []string{"a/g1", "b/g1"}) {
		t.Errorf("same groups named directly: %q", got)
	}
	if _, err := Discover([]string{filepath.Join(root, "loop")}, DiscoverOptions{}); err == nil {
		t.Error("a loop with no group: want NotRaftError")
	}
}
