package cmd_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// The election rule's trap on real etcd bytes.
//
// A cluster of etcd members (subprocesses) runs under a write load by many
// clients; at seeded points the load pauses for a seeded moment (0 to 150
// ms: the in-flight puts are acknowledged, nothing new is proposed) and
// every member is frozen with SIGSTOP at once, as a crash of all of them
// would leave them (the kernel holds whatever each process wrote), and its
// data directory copied. Any two copies are then the survivors of a quorum
// loss. Members learn the last commit index one message after the leader,
// and etcd's wal.Save does not flush a HardState whose commit alone
// changed: a member's durable commit is the one that came with its last
// entries, which differs between members (the leader's own can be behind a
// follower's), and its backend (snap/db) records what it applied only at
// its next batch commit (every 100 ms, each member on its own clock). Two
// members then hold the same log (same last term and index: the election
// rule cannot tell them apart) but --force-new-cluster, which keeps
// max(HardState commit, consistent index), keeps more on one of them:
// plain --force-new-cluster on the other loses the last acknowledged
// writes. termChangeCopies (below) makes the election rule's choice
// strictly ahead, with a newer last term, across a leader change.

// electionCase is what a freeze left: the member copies, in the order
// given to compare, and the acknowledged keys at the freeze.
type electionCase struct {
	Seed    int64    `json:"seed"`
	Freeze  int      `json:"freeze"`
	Members int      `json:"members"`
	Leader  string   `json:"leader"`
	PauseMs int      `json:"pause_ms"`
	Order   []string `json:"order"` // survivors' directory names, as given to compare
	Acked   []string `json:"acked"`
}

// electionResult is what the assertion computed.
type electionResult struct {
	Elect, Other, Recommended string
	// The two survivors' last index and term, HardState commit and
	// backend consistent index.
	ElectLast, ElectTerm, ElectCommit uint64
	OtherLast, OtherTerm, OtherCommit uint64
	ElectCI, OtherCI                  string
	ElectForceKeep                    uint64
	ProvenCommit                      uint64
	ProvenBy                          string
	LostEntries                       uint64
	LostKeys                          int
	Expected, Acked                   int
	Strict                            bool
}

// sentence is how the README states the result (checked by
// TestEtcdElectionRuleFixture).
func (r electionResult) sentence() string {
	return fmt.Sprintf("%s (last index %d, term %d; HardState commit %d, consistent index %s) and %s (last index %d, term %d; commit %d, consistent index %s): "+
		"plain `--force-new-cluster` on %s keeps up to %d and loses %d committed entries, %d acknowledged keys; "+
		"raftctl recommends %s (proven commit %d), and after recover apply `ForceNewCluster` there serves all %d acknowledged keys that a survivor proves committed",
		r.Elect, r.ElectLast, r.ElectTerm, r.ElectCommit, r.ElectCI, r.Other, r.OtherLast, r.OtherTerm, r.OtherCommit, r.OtherCI,
		r.Elect, r.ElectForceKeep, r.LostEntries, r.LostKeys, r.Recommended, r.ProvenCommit, r.Expected)
}

func electionSpecs(t *testing.T, root string, members int) ([]memberSpec, []string) {
	var names []string
	for k := 1; k <= members; k++ {
		names = append(names, fmt.Sprintf("infra%d", k))
	}
	specs := newClusterSpecs(t, root, names)
	for k := range specs {
		// Every entry stays in the WAL (no snapshot): an acknowledged key
		// at or below a survivor's proven commit is in that survivor's log.
		specs[k].SegmentSize, specs[k].SnapshotCount = 32*1024, 100000
	}
	return specs, names
}

// freezeCopies runs a cluster of members under a write load by 16 clients
// and, at seeded points (a freeze every 60 to 200 acknowledged puts), pauses
// the load for a seeded moment, freezes every member at once, copies every
// data directory into root/freeze-K, and lets them run on.
// found is called after each freeze and ends the run when it returns true;
// freezeCopies reports whether it did. The cluster is stopped when it
// returns (start no copy while it runs: a copy keeps the member's IDs).
func freezeCopies(t *testing.T, root string, members int, seed int64, freezes int, found func(dir string, c electionCase) bool) bool {
	rng := rand.New(rand.NewSource(seed))
	specs, names := electionSpecs(t, filepath.Join(root, "cluster"), members)
	c := startCluster(t, specs)
	defer c.stop()
	cli := c.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		if _, err := cli.Put(ctx, "ready", "1"); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	var seq int64
	var gate sync.RWMutex // writers hold it for reading around each put
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { wcancel(); wg.Wait() }()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for wctx.Err() == nil {
				gate.RLock()
				mu.Lock()
				seq++
				k := fmt.Sprintf("k-%06d", seq)
				mu.Unlock()
				pctx, pcancel := context.WithTimeout(wctx, 2*time.Second)
				_, err := cli.Put(pctx, k, strings.Repeat("v", 100))
				pcancel()
				if err == nil {
					mu.Lock()
					acked[k] = true
					mu.Unlock()
				}
				gate.RUnlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	leaderName := func() string {
		for k, s := range specs {
			sctx, scancel := context.WithTimeout(ctx, time.Second)
			st, err := cli.Status(sctx, s.Client)
			scancel()
			if err == nil && st.Header.GetMemberId() == st.Leader {
				return names[k]
			}
		}
		return ""
	}
	next := 0
	for f := 0; f < freezes; f++ {
		next += 60 + rng.Intn(140)
		for count() < next {
			if ctx.Err() != nil {
				t.Fatal("the load stalled")
			}
			time.Sleep(2 * time.Millisecond)
		}
		pause := rng.Intn(151)
		leader := leaderName()
		gate.Lock() // every put in flight has its answer
		time.Sleep(time.Duration(pause) * time.Millisecond)
		for _, p := range c.procs {
			if err := p.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
		}
		dir := filepath.Join(root, fmt.Sprintf("freeze-%02d", f))
		var err error
		for k, s := range specs {
			if err = copySparse(s.Dir, filepath.Join(dir, names[k]+".etcd")); err != nil {
				break
			}
		}
		for _, p := range c.procs {
			p.Process.Signal(syscall.SIGCONT)
		}
		mu.Lock()
		ec := electionCase{Seed: seed, Freeze: f, Members: members, Leader: leader, PauseMs: pause}
		for k := range acked {
			ec.Acked = append(ec.Acked, k)
		}
		mu.Unlock()
		gate.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(ec.Acked)
		if found(dir, ec) {
			return true
		}
	}
	return false
}

// comparePair is compare (in process) on two member copies, in this order.
func comparePair(t *testing.T, a, b string) *inspect.Comparison {
	t.Helper()
	servers := []string{a, b}
	var groups [][]inspect.Group
	for _, s := range servers {
		gs, err := inspect.Discover([]string{s}, inspect.DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, gs)
	}
	comps, err := inspect.CompareGroups(context.Background(), servers, groups, inspect.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != 1 || len(comps[0].Replicas) != 2 {
		t.Fatalf("%s and %s: %d groups", a, b, len(comps))
	}
	return comps[0]
}

// worstPair is the ordered pair of member copies in dir where the election
// rule's choice with plain --force-new-cluster loses the most provably
// committed entries (0 when none loses any).
func worstPair(t *testing.T, dir string, names []string) (a, b string, loses uint64, strict bool) {
	for _, x := range names {
		for _, y := range names {
			if x == y {
				continue
			}
			pa, pb := filepath.Join(dir, x+".etcd"), filepath.Join(dir, y+".etcd")
			comp := comparePair(t, pa, pb)
			ec := comp.Candidate(comp.ElectionChoice)
			if ec == nil || ec.ForceLoses <= loses {
				continue
			}
			if rc := comp.Candidate(comp.Recommended); rc == nil || rc.RecoverLoses != 0 {
				continue
			}
			e, o := comp.Replica(comp.ElectionChoice), comp.Replica(pb)
			if comp.ElectionChoice == pb {
				o = comp.Replica(pa)
			}
			a, b, loses = x, y, ec.ForceLoses
			strict = e.LastTerm > o.LastTerm || (e.LastTerm == o.LastTerm && e.LastIndex > o.LastIndex)
		}
	}
	return a, b, loses, strict
}

// assertElectionLoss checks, on copies of the survivors (in root), that the
// election rule's choice started with plain ForceNewCluster misses exactly
// the acknowledged keys compare predicts (and at least one), and that
// raftctl's recommendation after recover apply serves every acknowledged
// key a survivor proves committed. ok is false, with nothing asserted, when
// the election rule's choice loses nothing.
func assertElectionLoss(t *testing.T, root string, survivors []string, acked []string) (r electionResult, ok bool) {
	t.Helper()
	comp := compareJSONOf(t, survivors)
	elect := comp.ElectionChoice
	ec := comp.Candidate(elect)
	if ec == nil || ec.ForceLoses == 0 {
		return r, false
	}
	other := survivors[0]
	if other == elect {
		other = survivors[1]
	}
	e, o := comp.Replica(elect), comp.Replica(other)
	name := func(dir string) string { return strings.TrimSuffix(filepath.Base(dir), ".etcd") }
	r = electionResult{Elect: name(elect), Other: name(other), Recommended: name(comp.Recommended),
		ElectForceKeep: ec.ForceKeep, ProvenCommit: comp.ProvenCommit, ProvenBy: name(comp.ProvenBy), LostEntries: ec.ForceLoses,
		Acked: len(acked), Strict: e.LastTerm > o.LastTerm || (e.LastTerm == o.LastTerm && e.LastIndex > o.LastIndex),
		ElectLast: e.LastIndex, ElectTerm: e.LastTerm, ElectCommit: e.HardState.Commit, ElectCI: backendCI(e),
		OtherLast: o.LastIndex, OtherTerm: o.LastTerm, OtherCommit: o.HardState.Commit, OtherCI: backendCI(o)}
	// Where each key is in the survivors' logs (the lowest index).
	index := map[string]uint64{}
	for _, s := range survivors {
		if r := comp.Replica(s); r.FirstIndex > 1 {
			t.Fatalf("%s: its log starts at %d; the case needs whole logs", s, r.FirstIndex)
		}
		for k, i := range logKeys(t, s) {
			if j, ok := index[k]; !ok || i < j {
				index[k] = i
			}
		}
	}
	var expected, predicted []string
	for _, k := range acked {
		i, ok := index[k]
		if !ok || i > comp.ProvenCommit {
			continue
		}
		expected = append(expected, k)
		if i > ec.ForceKeep {
			predicted = append(predicted, k)
		}
	}
	r.Expected = len(expected)
	electCopy := filepath.Join(root, "election-plain", filepath.Base(elect))
	if err := fixture.CopyDir(elect, electCopy); err != nil {
		t.Fatal(err)
	}
	// recover plan on the election rule's choice predicts the same and
	// would keep everything too.
	electPlan := readPlan(t, filepath.Join(root, "plan-election.json"), append(survivors, "--member", elect))
	if electPlan.ForceKeep != ec.ForceKeep || electPlan.Keep != comp.ProvenCommit || electPlan.Loses != 0 {
		t.Errorf("recover plan --member %s: force keep %d, keep %d, loses %d; compare: force keep %d, proven commit %d",
			elect, electPlan.ForceKeep, electPlan.Keep, electPlan.Loses, ec.ForceKeep, comp.ProvenCommit)
	}
	// raftctl: recover plan (its recommendation) and apply.
	planFile := filepath.Join(root, "plan.json")
	plan := readPlan(t, planFile, survivors)
	if plan.Member != comp.Recommended || plan.Keep != comp.ProvenCommit || plan.Loses != 0 {
		t.Fatalf("plan on %s keeps %d and loses %d; compare recommends %s, proven commit %d", plan.Member, plan.Keep, plan.Loses, comp.Recommended, comp.ProvenCommit)
	}
	run(t, 0, "recover", "apply", planFile, "--backup-dir", filepath.Join(root, "backup"))
	served := serve(t, name(plan.Member), plan.Member)
	for _, k := range expected {
		if !served[k] {
			t.Errorf("acknowledged %s (index %d, proven committed) is not served after recover on %s", k, index[k], plan.Member)
		}
	}
	// The election rule's choice, plain --force-new-cluster.
	servedPlain := serve(t, name(elect), electCopy)
	var missing []string
	for _, k := range expected {
		if !servedPlain[k] {
			missing = append(missing, k)
		}
	}
	r.LostKeys = len(missing)
	if strings.Join(missing, ",") != strings.Join(predicted, ",") {
		t.Errorf("plain --force-new-cluster on %s: compare predicts %d acknowledged keys lost (indexes %d..%d), %d missing:\npredicted %v\nmissing   %v",
			elect, len(predicted), ec.ForceKeep+1, comp.ProvenCommit, len(missing), predicted, missing)
	}
	// Whether the lost entries hold acknowledged keys is the caller's to
	// judge (r.LostKeys): a recorded case must, a live run may find that
	// the client had not yet heard back for them.
	t.Logf("the election rule picks %s (strict: %v); %s", r.Elect, r.Strict, r.sentence())
	return r, true
}

// readPlan runs recover plan with args and reads the plan file it writes.
func readPlan(t *testing.T, planFile string, args []string) *repair.RecoverPlan {
	t.Helper()
	run(t, 0, append(append([]string{"recover", "plan"}, args...), "--plan-file", planFile)...)
	var plan repair.RecoverPlan
	raw, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &plan); err != nil {
		t.Fatal(err)
	}
	return &plan
}

func backendCI(r *inspect.Replica) string {
	if r.Backend == nil || r.Backend.Err != "" {
		return "-"
	}
	return strconv.FormatUint(r.Backend.ConsistentIndex, 10)
}

// TestEtcdElectionRuleLive: real 3- and 5-member etcd clusters, frozen
// whole at seeded points under a write load (see freezeCopies) until two
// of the copies are a pair where the election rule's choice with plain
// --force-new-cluster loses acknowledged writes; then assertElectionLoss
// on them. The condition depends on timing (each member's backend commit
// clock; about one freeze in three leaves it): when it does not arise
// within 12 freezes the test skips with the reason;
// TestEtcdElectionRuleFixture runs the same assertion on copies recorded
// from such a run.
func TestEtcdElectionRuleLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd clusters")
	}
	for _, members := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d-members", members), func(t *testing.T) { electionRuleLive(t, members) })
	}
}

func electionRuleLive(t *testing.T, members int) {
	root := t.TempDir()
	var names []string
	for k := 1; k <= members; k++ {
		names = append(names, fmt.Sprintf("infra%d", k))
	}
	var tried, survivors []string
	var found electionCase
	ok := freezeCopies(t, root, members, 1, 12, func(dir string, ec electionCase) bool {
		a, b, loses, strict := worstPair(t, dir, names)
		tried = append(tried, fmt.Sprintf("freeze %d (pause %d ms): %d", ec.Freeze, ec.PauseMs, loses))
		if loses == 0 {
			return false
		}
		t.Logf("freeze %d (pause %d ms, leader %s): survivors %s, %s; the election rule's choice loses %d committed entries (strict %v)", ec.Freeze, ec.PauseMs, ec.Leader, a, b, loses, strict)
		survivors = []string{filepath.Join(dir, a+".etcd"), filepath.Join(dir, b+".etcd")}
		found = ec
		return true
	})
	if !ok {
		t.Skipf("no freeze left a pair where the election rule's choice loses committed entries (timing): %s", strings.Join(tried, "; "))
	}
	// The cluster is stopped: a copy started with ForceNewCluster keeps
	// its member and cluster IDs, and the live members would talk to it.
	r, ok := assertElectionLoss(t, filepath.Join(root, "check"), survivors, found.Acked)
	if !ok {
		t.Fatalf("compare in process and raftctl compare disagree on %v", survivors)
	}
	if r.LostKeys == 0 {
		t.Skipf("the %d committed entries the election rule's choice loses hold no acknowledged key (timing: the client had not heard back); compare predicted that too", r.LostEntries)
	}
}

// The recorded cases: copies that real etcd clusters left, with the
// acknowledged keys (case.json).
var electionFixtures = []struct {
	file string
	// strict: the election rule's choice has the newer last term (a leader
	// change), not only the same last entry as the other survivor.
	strict bool
}{
	// TestEtcdElectionRuleSearch, seed 1, freeze 2: the leader and a
	// follower end on the same entry.
	{"testdata/election-rule.tar.gz", false},
	// TestEtcdElectionRuleTermSearch: the member that holds the new
	// leader's first entry had not learnt the old leader's last commit.
	{"testdata/election-rule-term.tar.gz", true},
}

// TestEtcdElectionRuleFixture runs assertElectionLoss on member copies
// real etcd clusters left (each archive holds the two survivors' data
// directories and case.json with the acknowledged keys), and checks that
// the README states the numbers.
func TestEtcdElectionRuleFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("starts embedded etcd servers")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\s+`).ReplaceAllString(string(readme), " ")
	for _, f := range electionFixtures {
		t.Run(filepath.Base(f.file), func(t *testing.T) {
			root := t.TempDir()
			if err := untarGz(f.file, root); err != nil {
				t.Fatal(err)
			}
			var ec electionCase
			raw, err := os.ReadFile(filepath.Join(root, "case.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &ec); err != nil {
				t.Fatal(err)
			}
			var survivors []string
			for _, s := range ec.Order {
				survivors = append(survivors, filepath.Join(root, s))
			}
			r, ok := assertElectionLoss(t, filepath.Join(root, "check"), survivors, ec.Acked)
			if !ok {
				t.Fatalf("the election rule's choice among %v loses nothing", ec.Order)
			}
			if r.LostKeys == 0 {
				t.Errorf("plain --force-new-cluster on %s loses %d committed entries but no acknowledged key", r.Elect, r.LostEntries)
			}
			if r.Strict != f.strict {
				t.Errorf("the election rule's choice is strictly ahead: %v, want %v", r.Strict, f.strict)
			}
			if !strings.Contains(text, r.sentence()) {
				t.Errorf("README.md does not say: %s", r.sentence())
			}
		})
	}
}

// TestEtcdElectionRuleSearch (by hand: RAFTCTL_ELECTION_SEARCH=FILE.tar.gz,
// RAFTCTL_ELECTION_SEEDS=1,2,3, RAFTCTL_ELECTION_MEMBERS=5) runs
// freezeCopies over the seeds, 8 freezes each, logs every freeze's worst
// pair and writes the pair that loses the most to FILE (the fixture of
// TestEtcdElectionRuleFixture).
func TestEtcdElectionRuleSearch(t *testing.T) {
	out := os.Getenv("RAFTCTL_ELECTION_SEARCH")
	if out == "" {
		t.Skip("set RAFTCTL_ELECTION_SEARCH=FILE.tar.gz to search")
	}
	members := 5
	if v := os.Getenv("RAFTCTL_ELECTION_MEMBERS"); v != "" {
		members, _ = strconv.Atoi(v)
	}
	seeds := []int64{1, 2, 3}
	if v := os.Getenv("RAFTCTL_ELECTION_SEEDS"); v != "" {
		seeds = nil
		for _, s := range strings.Split(v, ",") {
			n, _ := strconv.ParseInt(s, 10, 64)
			seeds = append(seeds, n)
		}
	}
	var names []string
	for k := 1; k <= members; k++ {
		names = append(names, fmt.Sprintf("infra%d", k))
	}
	var best electionCase
	var bestDir string
	var bestLoses uint64
	for _, seed := range seeds {
		root := t.TempDir()
		freezeCopies(t, root, members, seed, 8, func(dir string, ec electionCase) bool {
			a, b, loses, strict := worstPair(t, dir, names)
			t.Logf("seed %d freeze %d (pause %d ms, leader %s, %d acknowledged): worst pair %s, %s loses %d (strict %v)",
				seed, ec.Freeze, ec.PauseMs, ec.Leader, len(ec.Acked), a, b, loses, strict)
			if loses > bestLoses {
				bestLoses = loses
				ec.Order = []string{a + ".etcd", b + ".etcd"}
				best = ec
				bestDir = filepath.Join(t.TempDir(), "case")
				for _, s := range ec.Order {
					if err := fixture.CopyDir(filepath.Join(dir, s), filepath.Join(bestDir, s)); err != nil {
						t.Fatal(err)
					}
				}
			}
			return false
		})
	}
	if bestDir == "" {
		t.Fatal("no case found")
	}
	raw, _ := json.MarshalIndent(best, "", " ")
	if err := os.WriteFile(filepath.Join(bestDir, "case.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tarGz(bestDir, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d freeze %d: %v loses %d; written to %s", best.Seed, best.Freeze, best.Order, bestLoses, out)
}

// copySparse copies the regular files under src to dst (which must not
// exist) as fixture.CopyDir does, but leaves 64 KiB blocks of zeros as
// holes: an etcd backend grows its file 16 MiB at a time, mostly unwritten.
func copySparse(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("%s already exists", dst)
	}
	zero := make([]byte, 64*1024)
	buf := make([]byte, 64*1024)
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		var off int64
		for {
			n, rerr := io.ReadFull(in, buf)
			if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
				if _, err := out.WriteAt(buf[:n], off); err != nil {
					out.Close()
					return err
				}
			}
			off += int64(n)
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				out.Close()
				return rerr
			}
		}
		if err := out.Truncate(off); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// tarGz writes the regular files under dir to a gzipped tar at out, with
// fixed times and modes (reproducible bytes for the same files). The
// preallocated .tmp segment of etcd's file pipeline is left out.
func tarGz(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".tmp") {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o600, Size: int64(len(b)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

func untarGz(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(hdr.Name)
		if !filepath.IsLocal(name) || hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s: unexpected entry %s", file, hdr.Name)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		w, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, tr); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// termChangeCopies runs a 5-member cluster under a write load by 16
// clients, then, at a seeded point, a cascade: the clients propose nothing
// new, and two followers, N and A, are killed with SIGKILL at once, most
// likely with the last entries written but not yet acknowledged to the
// leader; the leader commits those with B and X, the other two followers,
// and answers the clients; after a seeded 150-300 ms (B's backend has
// recorded the commit) the leader and B are killed too (the leader's disk
// counts as lost, B's survives); N and A restart from their disks while X
// stalls (SIGSTOP) for a seeded 0.5-1 s, and the three elect a new leader,
// which replicates its first entry.
// The three are frozen and copied every 15 ms of their running time, into
// root/freeze-K, and B's directory into root/survivor. It returns the
// three members' names, B's, the old leader's, and the acknowledged keys.
func termChangeCopies(t *testing.T, root string, seed int64) (three []string, b, old string, freezes int, acked []string) {
	rng := rand.New(rand.NewSource(seed))
	specs, names := electionSpecs(t, filepath.Join(root, "cluster"), 5)
	c := startCluster(t, specs)
	defer c.stop()
	cli := c.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leader := waitLeader(t, cli, specs)
	var mu sync.Mutex
	ack := map[string]bool{}
	var seq int64
	var stopped atomic.Bool
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for wctx.Err() == nil && !stopped.Load() {
				mu.Lock()
				seq++
				k := fmt.Sprintf("k-%06d", seq)
				mu.Unlock()
				pctx, pcancel := context.WithTimeout(wctx, 2*time.Second)
				_, err := cli.Put(pctx, k, strings.Repeat("v", 100))
				pcancel()
				if err == nil {
					mu.Lock()
					ack[k] = true
					mu.Unlock()
				}
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(ack) }
	target := 100 + rng.Intn(300)
	for count() < target {
		if ctx.Err() != nil {
			t.Fatal("the load stalled")
		}
		time.Sleep(2 * time.Millisecond)
	}
	bk := (leader + 1) % 5
	var p []int
	for k := range specs {
		if k != leader && k != bk {
			p = append(p, k)
			three = append(three, names[k])
		}
	}
	signal := func(ks []int, sig syscall.Signal) {
		for _, k := range ks {
			c.procs[k].Process.Signal(sig)
		}
	}
	stopped.Store(true)
	// N and A crash a seeded 0-12 ms later: with luck, with the last
	// entries written but their commit not yet learnt.
	time.Sleep(time.Duration(rng.Intn(13)) * time.Millisecond)
	signal(p[:2], syscall.SIGKILL)
	for _, k := range p[:2] {
		c.procs[k].Wait()
		c.procs[k] = nil
	}
	time.Sleep(time.Duration(150+rng.Intn(150)) * time.Millisecond)
	signal([]int{bk, leader}, syscall.SIGKILL)
	c.procs[bk].Wait()
	c.procs[leader].Wait()
	c.procs[bk], c.procs[leader] = nil, nil
	b = names[bk]
	if err := fixture.CopyDir(specs[bk].Dir, filepath.Join(root, "survivor", b+".etcd")); err != nil {
		t.Fatal(err)
	}
	// X waits (frozen) while N and A restart from their disks.
	signal(p[2:], syscall.SIGSTOP)
	wcancel()
	wg.Wait()
	for _, k := range p[:2] {
		raw, _ := json.Marshal(specs[k])
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envMember+"="+string(raw))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.procs[k] = cmd
	}
	time.Sleep(time.Duration(500+rng.Intn(500)) * time.Millisecond)
	signal(p[2:], syscall.SIGCONT)
	for freezes = 0; freezes < 40; freezes++ {
		time.Sleep(15 * time.Millisecond)
		signal(p, syscall.SIGSTOP)
		dir := filepath.Join(root, fmt.Sprintf("freeze-%02d", freezes))
		for _, k := range p {
			if err := copySparse(specs[k].Dir, filepath.Join(dir, names[k]+".etcd")); err != nil {
				t.Fatal(err)
			}
		}
		signal(p, syscall.SIGCONT)
	}
	c.stop()
	for k := range ack {
		acked = append(acked, k)
	}
	sort.Strings(acked)
	return three, b, names[leader], freezes, acked
}

// termLoss looks through the copies termChangeCopies left in root for a
// copy of one of the three members with a newer last term than B's (the
// election rule picks it over B) whose --force-new-cluster loses entries B
// proves committed; it returns the one that loses the most (loses 0: none)
// and a line per freeze.
func termLoss(t *testing.T, root string, three []string, b string, freezes int) (mdir string, freeze int, loses uint64, lines []string) {
	bdir := filepath.Join(root, "survivor", b+".etcd")
	for f := 0; f < freezes; f++ {
		dir := filepath.Join(root, fmt.Sprintf("freeze-%02d", f))
		var line []string
		for _, m := range three {
			md := filepath.Join(dir, m+".etcd")
			comp := comparePair(t, bdir, md)
			rm, rb := comp.Replica(md), comp.Replica(bdir)
			ec := comp.Candidate(comp.ElectionChoice)
			line = append(line, fmt.Sprintf("%s last %d/%d commit %d ci %s", m, rm.LastIndex, rm.LastTerm, rm.HardState.Commit, backendCI(rm)))
			if f == 0 && m == three[0] {
				line = append(line, fmt.Sprintf("[%s last %d/%d commit %d ci %s]", b, rb.LastIndex, rb.LastTerm, rb.HardState.Commit, backendCI(rb)))
			}
			if comp.ElectionChoice != md || rm.LastTerm <= rb.LastTerm || ec.ForceLoses == 0 {
				continue
			}
			line = append(line, fmt.Sprintf("LOSES %d", ec.ForceLoses))
			if ec.ForceLoses > loses {
				mdir, freeze, loses = md, f, ec.ForceLoses
			}
		}
		lines = append(lines, fmt.Sprintf("freeze %d: %s", f, strings.Join(line, "; ")))
	}
	return mdir, freeze, loses, lines
}

// TestEtcdElectionRuleTermLive: the cascade of termChangeCopies on real
// etcd, with seeds that left the condition before (about one seed in four
// does: the crash must catch two followers with the last entries written
// and their commit not learnt, and one of them must win the election),
// until one leaves a copy where the election rule's choice has the newer
// last term and loses committed entries; then assertElectionLoss on it and
// B. It skips with the reason when none does within 40 s (timing);
// TestEtcdElectionRuleFixture runs the same assertion on a recorded case.
func TestEtcdElectionRuleTermLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd clusters")
	}
	deadline := time.Now().Add(40 * time.Second)
	var tried []string
	for _, seed := range []int64{13, 22, 30, 10, 27} {
		if time.Now().After(deadline) {
			break
		}
		root := t.TempDir()
		three, b, old, freezes, acked := termChangeCopies(t, root, seed)
		mdir, f, loses, _ := termLoss(t, root, three, b, freezes)
		tried = append(tried, fmt.Sprintf("seed %d: %d", seed, loses))
		if loses == 0 {
			continue
		}
		t.Logf("seed %d (old leader %s), freeze %d: %s, with the newer last term, loses %d committed entries that %s proves", seed, old, f, filepath.Base(mdir), loses, b)
		r, ok := assertElectionLoss(t, filepath.Join(root, "check"), []string{mdir, filepath.Join(root, "survivor", b+".etcd")}, acked)
		if !ok || !r.Strict {
			t.Fatalf("raftctl compare disagrees: loss %v, strict %v", ok, r.Strict)
		}
		if r.LostKeys == 0 {
			// As predicted, but not the case sought: the client had
			// not heard back for the lost entries.
			tried[len(tried)-1] += " (no acknowledged key among them)"
			continue
		}
		return
	}
	t.Skipf("no seed left a copy where the election rule's choice loses committed entries (timing): %s", strings.Join(tried, "; "))
}

// TestEtcdElectionRuleTermSearch (by hand:
// RAFTCTL_ELECTION_TERM_SEARCH=FILE.tar.gz, RAFTCTL_ELECTION_SEEDS=1,2,3)
// runs termChangeCopies over the seeds and termLoss on each; it writes the
// pair that loses the most to FILE.
func TestEtcdElectionRuleTermSearch(t *testing.T) {
	out := os.Getenv("RAFTCTL_ELECTION_TERM_SEARCH")
	if out == "" {
		t.Skip("set RAFTCTL_ELECTION_TERM_SEARCH=FILE.tar.gz to search")
	}
	seeds := []int64{1, 2, 3}
	if v := os.Getenv("RAFTCTL_ELECTION_SEEDS"); v != "" {
		seeds = nil
		for _, s := range strings.Split(v, ",") {
			n, _ := strconv.ParseInt(s, 10, 64)
			seeds = append(seeds, n)
		}
	}
	var best electionCase
	var bestDir string
	var bestLoses uint64
	for _, seed := range seeds {
		root := t.TempDir()
		three, b, old, freezes, acked := termChangeCopies(t, root, seed)
		mdir, f, loses, lines := termLoss(t, root, three, b, freezes)
		for _, l := range lines {
			t.Logf("seed %d %s", seed, l)
		}
		if loses <= bestLoses {
			continue
		}
		bestLoses = loses
		m := filepath.Base(mdir)
		best = electionCase{Seed: seed, Freeze: f, Members: 5, Leader: old, Order: []string{m, b + ".etcd"}, Acked: acked}
		bestDir = filepath.Join(t.TempDir(), "case")
		if err := fixture.CopyDir(mdir, filepath.Join(bestDir, m)); err != nil {
			t.Fatal(err)
		}
		if err := fixture.CopyDir(filepath.Join(root, "survivor", b+".etcd"), filepath.Join(bestDir, b+".etcd")); err != nil {
			t.Fatal(err)
		}
	}
	if bestDir == "" {
		t.Fatal("no case found")
	}
	raw, _ := json.MarshalIndent(best, "", " ")
	if err := os.WriteFile(filepath.Join(bestDir, "case.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tarGz(bestDir, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d freeze %d: %v loses %d; written to %s", best.Seed, best.Freeze, best.Order, bestLoses, out)
}
