package inspect

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func mkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func touch(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDiscoverLayouts(t *testing.T) {
	root := t.TempDir()
	mkdirs(t, root,
		"shard-1/wal", "shard-1/snap", // plain group, empty wal/
		"nested/deeper/shard-2/wal",
		"etcd-a/member/wal", "etcd-a/member/snap", // etcd layout
		".raftctl-backup/x/wal", // hidden: never searched
		"shard-1/wal/.hidden",
		"not-a-group/just-files",
	)
	touch(t, root,
		"snaponly/snap/0000000000000001-0000000000000005.snap",
		"flat/segments/0000000000000000-0000000000000000.wal",
		"flat/snap/0000000000000001-0000000000000005.snap",
		"emptysnap/snap/readme.txt",
	)
	groups, err := Discover([]string{root}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]Group{}
	for _, g := range groups {
		names = append(names, g.Name)
		byName[g.Name] = g
	}
	want := []string{"etcd-a", "flat", "nested/deeper/shard-2", "shard-1", "snaponly"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("groups %v, want %v", names, want)
	}
	if g := byName["etcd-a"]; g.WALDir != filepath.Join(root, "etcd-a/member/wal") || g.SnapDir != filepath.Join(root, "etcd-a/member/snap") {
		t.Errorf("etcd layout: %+v", g)
	}
	if g := byName["flat"]; g.WALDir != filepath.Join(root, "flat/segments") || g.SnapDir != filepath.Join(root, "flat/snap") {
		t.Errorf("flat layout: %+v", g)
	}
	if g := byName["shard-1"]; g.SnapDir == "" {
		t.Errorf("shard-1 has snap/: %+v", g)
	}

	// Globs filter; the path itself may be the group.
	groups, err = Discover([]string{root}, DiscoverOptions{Globs: []string{"shard-*", "etcd-?"}})
	if err != nil || len(groups) != 2 {
		t.Fatalf("globs: %v %v", groups, err)
	}
	for _, c := range []struct{ path, name string }{
		{"shard-1", "shard-1"},
		{"etcd-a", "etcd-a"},
		{"etcd-a/member", "etcd-a"},
		{"etcd-a/member/wal", "etcd-a"},
		{"flat/segments", "segments"},
	} {
		groups, err := Discover([]string{filepath.Join(root, c.path)}, DiscoverOptions{})
		if err != nil || len(groups) != 1 || groups[0].Name != c.name {
			t.Errorf("Discover(%s) = %v, %v; want one group %q", c.path, groups, err, c.name)
		}
	}

	// No group, a file, a missing path, a bad glob.
	var nr *NotRaftError
	if _, err := Discover([]string{filepath.Join(root, "not-a-group")}, DiscoverOptions{}); !errors.As(err, &nr) {
		t.Errorf("not-a-group: %v", err)
	}
	if _, err := Discover([]string{filepath.Join(root, "missing")}, DiscoverOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := Discover([]string{root}, DiscoverOptions{Globs: []string{"["}}); err == nil {
		t.Error("bad glob accepted")
	}
}

func TestParseSegmentName(t *testing.T) {
	for _, c := range []struct {
		name       string
		seq, index uint64
		canonical  bool
		ok         bool
	}{
		{"0000000000000001-0000000000000010.wal", 1, 16, true, true},
		{"1-10.wal", 1, 16, false, true},
		{"0000000000000001-0000000000000010.wal.tmp", 0, 0, false, false},
		{"garbage.wal", 0, 0, false, false},
	} {
		seq, idx, can, err := ParseSegmentName(c.name)
		if (err == nil) != c.ok || seq != c.seq || idx != c.index || can != c.canonical {
			t.Errorf("%s: %d %d %v %v", c.name, seq, idx, can, err)
		}
	}
	// The fast path for canonical names gives what Sscanf gives, on
	// names one edit away from canonical too.
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "0123456789abcdefABCDEF-.wxgz+ "
	for k := 0; k < 20000; k++ {
		b := []byte(SegmentName(rng.Uint64()>>(rng.IntN(64)), rng.Uint64()>>(rng.IntN(64))))
		switch rng.IntN(4) {
		case 1:
			b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
		case 2:
			i := rng.IntN(len(b))
			b = slices.Delete(b, i, i+1)
		case 3:
			i := rng.IntN(len(b))
			b = slices.Insert(b, i, alphabet[rng.IntN(len(alphabet))])
		}
		name := string(b)
		seq, idx, can, err := ParseSegmentName(name)
		wseq, widx, wcan, werr := parseSegmentNameScanf(name)
		if seq != wseq || idx != widx || can != wcan || (err == nil) != (werr == nil) {
			t.Fatalf("%q: %d %d %v %v; Sscanf gives %d %d %v %v", name, seq, idx, can, err, wseq, widx, wcan, werr)
		}
	}
}
