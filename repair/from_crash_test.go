//go:build unix

package repair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// envFromHelper makes TestRepairFromHelperProcess apply the plan file it
// names, killed by the fault hook after RAFTCTL_FAULT_AFTER steps.
const envFromHelper = "RAFTCTL_FROM_HELPER"

// TestRepairFromHelperProcess is the process TestCrashRepairFrom kills; it
// does nothing in a normal test run.
func TestRepairFromHelperProcess(t *testing.T) {
	planFile := os.Getenv(envFromHelper)
	if planFile == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv(envFault))
	b, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	var p FromPlan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyRepairFrom(context.Background(), &p, ApplyOptions{BackupDir: os.Getenv(envBackup), FaultAfter: n}); err != nil {
		t.Fatal(err)
	}
}

// TestCrashRepairFrom kills repair --from after each filesystem step in
// turn: the member's WAL directory is then either the damaged one or the
// rewritten one, never a mixture; the rewritten one is what etcd reads in
// full; and restore (once the manifest is written) brings the damaged
// bytes back exactly, while a kill before the manifest changed nothing.
func TestCrashRepairFrom(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	tmpl := filepath.Join(root, "tmpl")
	if _, err := fixture.RaftCluster(tmpl, fixture.ClusterOptions{Groups: 1, Proposals: 8, NoSnapshots: true, MaxWALFiles: 1000}); err != nil {
		t.Fatal(err)
	}
	member := func(dir string) string { return filepath.Join(dir, "node-3") }
	donor := func(dir string) string { return filepath.Join(dir, "node-2") }
	segs := segPaths(t, discover(t, member(tmpl)))
	midDamages[0].do(t, segs[len(segs)/2])
	old := fileSums(t, member(tmpl))
	ref := filepath.Join(root, "ref")
	if err := fixture.CopyDir(tmpl, ref); err != nil {
		t.Fatal(err)
	}
	plan := func(dir string) *FromPlan {
		p, err := PlanRepairFrom(ctx, discover(t, member(dir)), discover(t, donor(dir)))
		if err != nil || len(p.Refusals) != 0 || p.Empty() {
			t.Fatalf("plan: %+v %v", p, err)
		}
		return p
	}
	res, err := ApplyRepairFrom(ctx, plan(ref), ApplyOptions{BackupDir: filepath.Join(root, "ref-backup")})
	if err != nil {
		t.Fatal(err)
	}
	neu := fileSums(t, member(ref))
	mg := discover(t, member(ref))
	walRel, _ := filepath.Rel(member(ref), mg.WALDir)
	if len(under(old, walRel)) == 0 || len(under(neu, walRel)) == 0 {
		t.Fatalf("no segment under %s", walRel)
	}
	sawOld, sawNew := 0, 0
	etcdNew := readAll(t, mg.WALDir)
	k := res.Steps
	if k < 5 {
		t.Fatalf("only %d steps", k)
	}
	for n := 1; n <= k; n++ {
		dir := filepath.Join(root, fmt.Sprint(n))
		if err := fixture.CopyDir(tmpl, dir); err != nil {
			t.Fatal(err)
		}
		planFile := filepath.Join(root, fmt.Sprintf("plan-%d.json", n))
		b, err := json.Marshal(plan(dir))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(planFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		backup := filepath.Join(root, fmt.Sprintf("backup-%d", n))
		cmd := exec.Command(os.Args[0], "-test.run=^TestRepairFromHelperProcess$")
		cmd.Env = append(os.Environ(), envFromHelper+"="+planFile, envBackup+"="+backup, envFault+"="+strconv.Itoa(n))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
			t.Fatalf("step %d of %d: the helper was not killed: %v\n%s", n, k, err, out)
		}
		cur := withoutStrays(fileSums(t, member(dir)))
		w := under(cur, walRel)
		switch {
		case equalMaps(w, under(old, walRel)):
			sawOld++
		case equalMaps(w, under(neu, walRel)):
			sawNew++
			sameEtcdState(t, fmt.Sprintf("etcd ReadAll, killed after step %d of %d", n, k), readAll(t, filepath.Join(member(dir), "group-1", "wal")), etcdNew)
		default:
			t.Fatalf("killed after step %d of %d: the WAL directory is a mixture: %v", n, k, keys(w))
		}
		if _, err := os.Stat(filepath.Join(backup, ManifestName)); errors.Is(err, os.ErrNotExist) {
			sameSums(t, fmt.Sprintf("killed after step %d of %d, before the manifest", n, k), cur, withoutStrays(old))
			continue
		}
		if _, err := Restore(ctx, backup); err != nil {
			t.Fatalf("restore after a kill at step %d of %d: %v", n, k, err)
		}
		sameSums(t, fmt.Sprintf("restored after a kill at step %d of %d", n, k), fileSums(t, member(dir)), old)
	}
	if sawOld == 0 || sawNew == 0 {
		t.Fatalf("the kills left the old WAL %d times and the new one %d times", sawOld, sawNew)
	}
	t.Logf("killed after each of %d steps: the old WAL %d times, the new one %d times, never a mixture; restored exactly", k, sawOld, sawNew)
}
