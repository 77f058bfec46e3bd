//go:build unix

package cmd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/repair/durable"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestSegmentOpensRecover is TestSegmentOpens (see its comment for how
// opens are counted) for the commands that read several replicas: recover
// plan and recover apply on three members written by etcd's wal package
// (the member's uncommitted tail conflicts with entries another member
// proves committed: apply appends them and raises the commit), and repair
// --from, with and without --dry-run, on a copy of the sample group with a
// CRC mismatch in the middle of its log, and in its last segment. Every segment of every replica is
// counted (the backup directory apart), and none may be opened more than
// twice in any phase or in all:
//
//   - before the change: one lock per replica for the whole run opens each
//     segment once, and the replicas are read once through those
//     descriptors: recover's comparison (Verify with Held) and the plan
//     from it; repair --from's verify of the member, the member's log in
//     parts, the donor's log and the pins' hashes. Freshness is not a
//     second read: recover apply plans again from the plan file through the
//     same descriptors (a plan file carries no fingerprint), repair --from
//     checks fingerprints under the locks it planned under. The overlap
//     check, the member's CRC, the donor's entries, the comparison with
//     the donor, the backup and the member's own entries all read through
//     the descriptors too.
//   - after the change: the new segments are opened by path only where
//     they are written (recover apply: a temporary name, then renamed in;
//     repair --from: the staging directory, counted apart as in
//     TestSegmentOpens, where etcd's writer and reader open each once and
//     the lock once more). The verify after the change (deep, the
//     HardState and the entries written, and the final verdict) reads the
//     group through the descriptors that lock the new segments, and the
//     member's untouched segments through their first lock.
//
// Before one lock and one read per run, these fixtures measured (most
// opens of one segment): recover plan 3 (the member's last segment, hashed
// by path), recover apply 9 on the member (6 before the change, 3 after)
// and 5 on the donor, repair --from --dry-run 6 on the member and 3 on the
// donor, repair --from 11 on the member and 7 on the donor before the
// change and 4 on each new segment after it (on 512 MB replicas: 7-12 and
// 9-13). Now every segment here is opened once, but for repair --from
// with damage inside the member's last segment: inspect.ResumeAfterDamage,
// which reads on past the damage, opens that segment by path once more
// (2 in all; it takes no held descriptor).
func TestSegmentOpensRecover(t *testing.T) {
	strace, bin := straceAndBinary(t)
	sample, err := filepath.Abs("../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		name  string
		setup func(t *testing.T, root string) (args []string)
		// most opens of one path before the change, after it, in all;
		// changes reports whether the command must change the group.
		before, after, all int
		changes            bool
	}
	recoverSetup := func(t *testing.T, root string) []string {
		a, b, c := filepath.Join(root, "infra1.etcd"), filepath.Join(root, "infra2.etcd"), filepath.Join(root, "infra3.etcd")
		writeRecoverMember(t, a, 1, recoverSpan{2, 60, 2, 40})
		writeRecoverMember(t, b, 2, recoverSpan{2, 45, 2, 40}, recoverSpan{46, 80, 3, 75})
		writeRecoverMember(t, c, 3, recoverSpan{2, 45, 2, 40}, recoverSpan{46, 70, 3, 60})
		return []string{"recover", "plan", a, b, c, "--member", a, "--plan-file", filepath.Join(t.TempDir(), "plan.json")}
	}
	fromSetup := func(dry bool, seg string) func(t *testing.T, root string) []string {
		return func(t *testing.T, root string) []string {
			for _, n := range []string{"node-1", "node-2"} {
				if err := os.CopyFS(filepath.Join(root, n, "group-2"), os.DirFS(filepath.Join(sample, n, "group-2"))); err != nil {
					t.Fatal(err)
				}
			}
			flipMidRecord(t, filepath.Join(root, "node-1", "group-2", "wal", seg), 4)
			args := []string{"repair", filepath.Join(root, "node-1", "group-2"), "--from", filepath.Join(root, "node-2", "group-2"), "--backup-dir", filepath.Join(t.TempDir(), "backup")}
			if dry {
				args = append(args, "--dry-run")
			}
			return args
		}
	}
	// The damaged segment: one in the middle of the log, and the last one
	// (read on past the damage, inspect.ResumeAfterDamage).
	mid, last := "0000000000000005-0000000000000035.wal", "0000000000000006-000000000000003e.wal"
	runs := []run{
		{name: "recover_plan", setup: recoverSetup, before: 2, all: 2},
		{name: "recover_apply", setup: func(t *testing.T, root string) []string {
			args := recoverSetup(t, root)
			plan := args[len(args)-1]
			cmd := exec.Command(bin, args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("recover plan: %v\n%s", err, out)
			}
			return []string{"recover", "apply", plan, "--backup-dir", filepath.Join(t.TempDir(), "backup")}
		}, before: 2, after: 2, all: 2, changes: true},
		{name: "repair_from_dry-run", setup: fromSetup(true, mid), before: 2, all: 2},
		{name: "repair_from", setup: fromSetup(false, mid), before: 2, after: 2, all: 2, changes: true},
		{name: "repair_from_last_dry-run", setup: fromSetup(true, last), before: 2, all: 2},
		{name: "repair_from_last", setup: fromSetup(false, last), before: 2, after: 2, all: 2, changes: true},
	}
	var report []string
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "r")
			args := r.setup(t, root)
			trace := filepath.Join(t.TempDir(), "trace")
			cmd := exec.Command(strace, append([]string{"-f", "-qq", "-o", trace, "-e", "trace=openat,open,rename,renameat,renameat2,unlink,unlinkat", bin}, args...)...)
			cmd.Env = append(os.Environ(), "NO_COLOR=1", "XDG_CONFIG_HOME="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 0 && code != 1 {
				t.Fatalf("raftctl %v: exit %d (%v)\n%s", args, code, err, out)
			}
			before, after, stage, changed := countOpens(t, trace, root)
			for _, m := range []map[string]int{before, after, stage} {
				for p := range m {
					if !strings.HasPrefix(p, root+string(filepath.Separator)) {
						delete(m, p) // the backup directory
					}
				}
			}
			if changed != r.changes {
				t.Fatalf("raftctl %v: changed %v, want %v\n%s", args, changed, r.changes, out)
			}
			check := func(phase string, counts map[string]int, most int) int {
				top := 0
				for p, n := range counts {
					top = max(top, n)
					if n > most {
						t.Errorf("%s: %s opened %d times %s (at most %d)", r.name, p, n, phase, most)
					}
				}
				return top
			}
			total := map[string]int{}
			for _, m := range []map[string]int{before, after} {
				for p, n := range m {
					total[p] += n
				}
			}
			b := check("before the change", before, r.before)
			a := check("after the change", after, r.after)
			s := check("in the staging directory", stage, 2)
			all := check("in all", total, r.all)
			if t.Failed() || testing.Verbose() {
				var lines []string
				for p, n := range total {
					lines = append(lines, fmt.Sprintf("%3d (before %d, after %d) %s", n, before[p], after[p], strings.TrimPrefix(p, root)))
				}
				sort.Strings(lines)
				t.Logf("\n%s", strings.Join(lines, "\n"))
			}
			report = append(report, fmt.Sprintf("%-20s most opens of one segment: before %d, after %d, staged %d, in all %d", r.name, b, a, s, all))
		})
	}
	t.Logf("\n%s", strings.Join(report, "\n"))
}

// straceAndBinary returns strace and the raftctl binary, skipping (failing
// under CI=true) without them.
func straceAndBinary(t *testing.T) (strace, bin string) {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("strace is required in CI (install Debian's strace): %v", err)
		}
		t.Skipf("strace not installed: %v", err)
	}
	bin, err = exec.LookPath("raftctl") // the test binary as raftctl (TestMain)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no raftctl binary in PATH (testscript.Main puts the test binary there): %v", err)
		}
		t.Skipf("no raftctl binary in PATH: %v", err)
	}
	return strace, bin
}

// flipMidRecord flips a byte in the middle of the n-th record from the
// end of a segment: a CRC mismatch in the middle of the log.
func flipMidRecord(t *testing.T, seg string, n int) {
	t.Helper()
	recs, err := fixture.RecordOffsets(seg)
	if err != nil {
		t.Fatal(err)
	}
	r := recs[len(recs)-n]
	if err := fixture.FlipByte(seg, r.Offset+r.FrameLen/2); err != nil {
		t.Fatal(err)
	}
}

// recoverSpan is a run of entries [from, to] at term, followed by a
// HardState with commit (0 keeps the previous one).
type recoverSpan struct{ from, to, term, commit uint64 }

// writeRecoverMember writes <dir>/member/wal with etcd's wal package (16 KiB
// segments): a bootstrap conf change for voters 1..3 at index 1, then the
// spans; entry data depends on index and term only.
func writeRecoverMember(t *testing.T, dir string, id uint64, spans ...recoverSpan) {
	t.Helper()
	md, err := fixture.Metadata(id, 0xc1)
	if err != nil {
		t.Fatal(err)
	}
	defer durable.LockSegmentSize(16 * 1024)()
	w, err := wal.Create(zap.NewNop(), filepath.Join(dir, "member", "wal"), md)
	if err != nil {
		t.Fatal(err)
	}
	w.SetUnsafeNoFsync()
	cc, _ := proto.Marshal(&raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{
		{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(1)},
		{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(2)},
		{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(3)}}})
	hs := &raftpb.HardState{Term: proto.Uint64(1), Vote: proto.Uint64(0), Commit: proto.Uint64(1)}
	if err := w.Save(hs, []*raftpb.Entry{{Index: proto.Uint64(1), Term: proto.Uint64(1), Type: raftpb.EntryConfChangeV2.Enum(), Data: cc}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range spans {
		var ents []*raftpb.Entry
		for i := s.from; i <= s.to; i++ {
			ents = append(ents, &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(s.term), Type: raftpb.EntryNormal.Enum(),
				Data: []byte(fmt.Sprintf("entry %d of term %d %0100d", i, s.term, i))})
		}
		hs = &raftpb.HardState{Term: proto.Uint64(max(s.term, hs.GetTerm())), Vote: proto.Uint64(2), Commit: proto.Uint64(max(s.commit, hs.GetCommit()))}
		if err := w.Save(hs, ents); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
