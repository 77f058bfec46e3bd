// Command gen regenerates the sample Raft data directory used by the README
// and by tests:
//
//	go run ./testdata/gen -out testdata/sample
//
// It runs fixture.GenerateSample (real raft.RawNodes persisting through etcd's
// wal and snap packages) into a temporary sibling directory and then
// replaces -out with it. The output is deterministic: running it again
// produces byte-identical files. With -check it regenerates into a
// temporary directory and only reports whether -out is up to date (exit
// status 1 if not).
//
// Layout of the result (see the fixture package documentation):
//
//	<out>/node-<id>/group-<n>/wal/*.wal
//	<out>/node-<id>/group-<n>/snap/*.snap
//
// for nodes 1..4 and groups 1..3.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// genCommitlog writes dir/m0: 300 legacy records (the spec's typical uid
// and value edges) over several rotated files and a current one, with equal
// neighbouring timestamps, reproducibly.
func genCommitlog(dir string) error {
	m0 := filepath.Join(dir, "m0")
	if err := os.RemoveAll(m0); err != nil {
		return err
	}
	_, err := legacytest.Generate(m0, legacytest.Config{Records: 300, Seed: 42, RotateLimit: 8192, EqualTSEvery: 7})
	return err
}

func main() {
	out := flag.String("out", "testdata/sample", "directory to (re)generate")
	check := flag.Bool("check", false, "only verify that -out matches a fresh generation")
	legacy := flag.String("commitlog", "", "also write a legacy commit-log instance directory here (DIR/m0), for `raftctl migrate commitlog`")
	flag.Parse()
	if *legacy != "" {
		if err := genCommitlog(*legacy); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
	if err := run(*out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// sampleEntry matches the top-level names a generated sample may contain.
var sampleEntry = regexp.MustCompile(`^(node-\d+|group-\d+)$`)

func run(out string, check bool) error {
	out = filepath.Clean(out)
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".gen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	res, err := fixture.GenerateSample(tmp)
	if err != nil {
		return err
	}

	if check {
		diffs, err := fixture.DiffTrees(out, tmp)
		if err != nil {
			return err
		}
		if len(diffs) > 0 {
			for _, d := range diffs {
				fmt.Fprintln(os.Stderr, d)
			}
			return fmt.Errorf("%s is out of date; run: go run ./testdata/gen -out %s", out, out)
		}
		fmt.Printf("%s is up to date\n", out)
		return nil
	}

	if err := checkReplaceable(out); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	// MkdirTemp created the root with mode 0700; make it like the rest.
	if err := os.Chmod(out, 0o755); err != nil {
		return err
	}
	size, err := fixture.TreeSize(out)
	if err != nil {
		return err
	}
	for _, g := range res.Groups {
		fmt.Printf("group %d: %d nodes, committed index %d, leaders %v\n",
			g.Group, len(g.Nodes), len(g.Committed), g.Leaders)
	}
	fmt.Printf("wrote %s (%d bytes)\n", out, size)
	return nil
}

// checkReplaceable refuses to delete a directory that does not look like a
// previously generated sample.
func checkReplaceable(out string) error {
	des, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, de := range des {
		if !de.IsDir() || !sampleEntry.MatchString(de.Name()) {
			return fmt.Errorf("%s contains %q, which the generator did not write; refusing to replace it", out, de.Name())
		}
	}
	return nil
}
