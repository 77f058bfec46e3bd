//go:build unix

package repair

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// withoutStrays drops what an interrupted run may leave that etcd and
// discovery ignore: raftctl's hidden temporary files and staging
// directories.
func withoutStrays(sums map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range sums {
		stray := false
		for _, part := range strings.Split(filepath.ToSlash(k), "/") {
			if strings.HasPrefix(part, ".raftctl-") {
				stray = true
			}
		}
		if !stray {
			out[k] = v
		}
	}
	return out
}

// under keeps the entries of sums below dir (a relative directory).
func under(sums map[string]string, dir string) map[string]string {
	out := map[string]string{}
	for k, v := range sums {
		if strings.HasPrefix(filepath.ToSlash(k), dir+"/") && !strings.HasSuffix(k, "/") {
			out[k] = v
		}
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// crashTest applies plan(g) to copies of tmpl in a helper process killed
// after each filesystem step in turn, and checks after every kill that
//
//   - every file holds either its old or its new content, and the WAL
//     directory as a whole is either the old one or the new one when the
//     plan swaps it;
//   - etcd's ReadAll at the newest valid snapshot reads the same HardState
//     and entries as before (no committed entry lost);
//   - Restore from the backup (when its manifest was written) brings back
//     the old bytes exactly, and without a manifest nothing changed.
func crashTest(t *testing.T, tmpl inspect.Group, plan func(t *testing.T, g inspect.Group) *Plan, swapsWAL bool) {
	ctx := context.Background()
	root := t.TempDir()
	ref := copyGroup(t, tmpl, filepath.Join(root, "ref"))
	old := fileSums(t, ref.Dir)
	etcdOld := readAll(t, ref.WALDir)
	res, err := Apply(ctx, plan(t, ref), ApplyOptions{BackupDir: filepath.Join(root, "ref-backup")})
	if err != nil {
		t.Fatal(err)
	}
	neu := fileSums(t, ref.Dir)
	sameEtcdState(t, "etcd ReadAll after a full run", readAll(t, ref.WALDir), etcdOld)
	k := res.Steps
	if k < 5 {
		t.Fatalf("only %d steps", k)
	}
	walRel, err := filepath.Rel(ref.Dir, ref.WALDir)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= k; n++ {
		dir := filepath.Join(root, fmt.Sprint(n))
		g := copyGroup(t, tmpl, dir)
		planFile := filepath.Join(root, fmt.Sprintf("plan-%d.json", n))
		planJSON(t, plan(t, g), planFile)
		backup := filepath.Join(root, fmt.Sprintf("backup-%d", n))
		if !runHelper(t, "apply", planFile, backup, n) {
			t.Fatalf("step %d of %d: the helper was not killed", n, k)
		}
		cur := withoutStrays(fileSums(t, dir))
		for p, sum := range cur {
			if sum != old[p] && sum != neu[p] {
				t.Fatalf("killed after step %d of %d: %s is neither old nor new", n, k, p)
			}
		}
		if swapsWAL {
			w := under(cur, walRel)
			if !equalMaps(w, under(old, walRel)) && !equalMaps(w, under(neu, walRel)) {
				t.Fatalf("killed after step %d of %d: the WAL directory is a mixture: %v", n, k, keys(w))
			}
		}
		sameEtcdState(t, fmt.Sprintf("etcd ReadAll, killed after step %d of %d", n, k), readAll(t, g.WALDir), etcdOld)
		if _, err := os.Stat(filepath.Join(backup, ManifestName)); errors.Is(err, os.ErrNotExist) {
			sameSums(t, fmt.Sprintf("killed after step %d of %d, before the manifest", n, k), cur, old)
			continue
		}
		if _, err := Restore(ctx, backup); err != nil {
			t.Fatalf("restore after a kill at step %d of %d: %v", n, k, err)
		}
		sameSums(t, fmt.Sprintf("restored after a kill at step %d of %d", n, k), fileSums(t, dir), old)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestCrashRepair(t *testing.T) {
	tmpl, _ := writeGroup(t, baseSpec())
	damageAll(t, tmpl)
	tmpl = discover(t, tmpl.Dir)
	crashTest(t, tmpl, func(t *testing.T, g inspect.Group) *Plan {
		p, err := PlanRepair(context.Background(), g, detect(t, g))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Actions) != 5 {
			t.Fatalf("plan %v", kinds(p.Actions))
		}
		return p
	}, false)
}

// crashSpec is a smaller compactSpec: fewer files, fewer steps to kill.
func crashSpec() fixture.GroupSpec {
	return fixture.GroupSpec{Entries: 200, EntrySize: 100, SegmentSize: 4 << 10, SnapshotEvery: 40, Seed: 5, Bootstrap: true,
		Overwrite: []fixture.Overwrite{{FromIndex: 198, Term: 2, Count: 5}}}
}

func TestCrashCompact(t *testing.T) {
	tmpl, _ := writeGroup(t, crashSpec())
	crashTest(t, tmpl, func(t *testing.T, g inspect.Group) *Plan {
		p, err := PlanCompact(context.Background(), g, CompactOptions{KeepWAL: 2, KeepSnapshots: 2})
		if err != nil {
			t.Fatal(err)
		}
		if p.Empty() {
			t.Fatal("nothing to compact")
		}
		return p
	}, false)
}

func TestCrashCompactRewrite(t *testing.T) {
	tmpl, _ := writeGroup(t, crashSpec())
	crashTest(t, tmpl, func(t *testing.T, g inspect.Group) *Plan {
		p, err := PlanCompact(context.Background(), g, CompactOptions{KeepSnapshots: 3, Rewrite: true, SegmentSize: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if p.Empty() || p.Actions[0].Kind != Replace {
			t.Fatalf("plan %v", kinds(p.Actions))
		}
		return p
	}, true)
}

// TestCrashRestore kills Restore after each step: running it again always
// completes it.
func TestCrashRestore(t *testing.T) {
	ctx := context.Background()
	tmpl, _ := writeGroup(t, crashSpec())
	damaged := fileSums(t, tmpl.Dir)
	root := t.TempDir()
	apply := func(name string) (inspect.Group, string) {
		g := copyGroup(t, tmpl, filepath.Join(root, name))
		p, err := PlanCompact(ctx, g, CompactOptions{KeepSnapshots: 1, Rewrite: true, SegmentSize: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		bd := filepath.Join(root, name+"-backup")
		if _, err := Apply(ctx, p, ApplyOptions{BackupDir: bd}); err != nil {
			t.Fatal(err)
		}
		return g, bd
	}
	g, bd := apply("ref")
	etcd := readAll(t, g.WALDir)
	rr, err := Restore(ctx, bd)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= rr.Steps; n++ {
		g, bd := apply(fmt.Sprint(n))
		if !runHelper(t, "restore", "", bd, n) {
			t.Fatalf("step %d of %d: the helper was not killed", n, rr.Steps)
		}
		sameEtcdState(t, fmt.Sprintf("etcd ReadAll, restore killed after step %d", n), readAll(t, g.WALDir), etcd)
		if _, err := Restore(ctx, bd); err != nil {
			t.Fatalf("restore again after a kill at step %d: %v", n, err)
		}
		sameSums(t, fmt.Sprintf("restored again after a kill at step %d", n), fileSums(t, g.Dir), damaged)
	}
}
