package crashstate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// Environment variables of the suite.
const (
	// envStrict makes every misclassified state fail the test; without
	// it only missed losses (truth bad, raftctl ok or warning) do.
	envStrict = "RAFTCTL_CRASH_STRICT"
	// envKeep names a directory that receives the trace, the writer's
	// result and every misclassified state (<id>/wal, <id>/snap,
	// <id>/TRUTH).
	envKeep = "RAFTCTL_CRASH_KEEP"
	// envTrace reuses a kept trace (the directory envKeep wrote) instead
	// of running the writer, so that state ids name the same states.
	envTrace = "RAFTCTL_CRASH_TRACE"
	// envState restricts the run to the listed state ids
	// (comma-separated) and prints each one's details.
	envState = "RAFTCTL_CRASH_STATE"
)

// groupDir is where RaftCluster puts node id's copy of the only group.
func groupDir(id uint64) string { return fmt.Sprintf("node-%d/group-1", id) }

// record runs the writer under strace in out and returns the trace path.
func record(t *testing.T, writer, out string) string {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("strace is required in CI (install Debian's strace): %v", err)
		}
		t.Skipf("strace not installed: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(out, "trace.txt")
	cmd := exec.Command("strace", "-f", "-qq", "-xx", "-s", "1000000", "-e", "signal=none",
		"-e", "trace="+traceSyscalls, "-o", trace, self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envWriter+"="+out, envWriterName+"="+writer)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("recording the writer with strace failed (ptrace not permitted?): %v\n%s", err, tail(stderr.String(), 2000))
	}
	if !strings.Contains(stderr.String(), "ACK node=") {
		t.Fatalf("the writer printed no ACK markers:\n%s", tail(stderr.String(), 2000))
	}
	return trace
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// stateRec is one classified crash state.
type stateRec struct {
	id   string
	node uint64
	key  [32]byte
	acks *ack // the node's last acknowledgement before the crash point
}

// outcome is what the oracle and raftctl said about one distinct state.
type outcome struct {
	restart *fixture.Restarted
	refused error
	status  string
	finds   []inspect.Finding
	deep    string // "" when deep mode was not run
	dfinds  []inspect.Finding
	verr    string
}

type job struct {
	key   [32]byte
	id    string
	state crashState
	deep  bool
}

func stateKey(node uint64, cs crashState) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "node %d\n", node)
	for _, d := range cs.dirs {
		fmt.Fprintf(h, "d %s\n", d)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range cs.files {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		fmt.Fprintf(h, "f %s %d\n", n, len(cs.files[n]))
		h.Write(cs.files[n])
	}
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// materialize writes a state into dir.
func materialize(dir string, cs crashState) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range cs.dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for name, b := range cs.files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// hasWAL reports whether a state holds a WAL directory with a segment.
func hasWAL(cs crashState) bool {
	for name := range cs.files {
		if strings.HasPrefix(name, "wal/") && strings.HasSuffix(name, ".wal") && !strings.Contains(name[4:], "/") {
			return true
		}
	}
	return false
}

// classify runs the oracle and raftctl on one state.
func classify(ctx context.Context, dir string, j job) outcome {
	var oc outcome
	_ = os.RemoveAll(dir)
	if err := materialize(dir, j.state); err != nil {
		oc.verr = err.Error()
		return oc
	}
	defer os.RemoveAll(dir)
	r, err := fixture.EtcdRestart(filepath.Join(dir, "wal"), filepath.Join(dir, "snap"), fixture.RestartOptions{})
	var re *fixture.RefusedError
	switch {
	case errors.As(err, &re):
		oc.refused = err
	case err != nil:
		oc.verr = "oracle: " + err.Error()
		return oc
	default:
		oc.restart = r
	}
	run := func(deep bool) (string, []inspect.Finding) {
		groups, err := inspect.Discover([]string{dir}, inspect.DiscoverOptions{})
		if err != nil {
			return "no-verdict(" + err.Error() + ")", nil
		}
		if len(groups) != 1 {
			return fmt.Sprintf("no-verdict(%d groups)", len(groups)), nil
		}
		rep, err := inspect.Verify(ctx, groups[0], inspect.VerifyOptions{NoLockCheck: true, Deep: deep})
		if err != nil {
			return "no-verdict(" + err.Error() + ")", nil
		}
		if rep.Err != "" {
			return rep.Status + "(" + rep.Err + ")", rep.Findings
		}
		return rep.Status, rep.Findings
	}
	oc.status, oc.finds = run(false)
	if j.deep {
		oc.deep, oc.dfinds = run(true)
	}
	return oc
}

// truth judges a restart against the node's acknowledgement: nil when the
// node restarts with every entry it acknowledged as committed (same term
// and data) and with its acknowledged term and vote.
func truth(oc outcome, a *ack, committed []committedEntry) error {
	if oc.refused != nil {
		return oc.refused
	}
	r := oc.restart
	if r.Fresh {
		if a != nil {
			return fmt.Errorf("no WAL left: etcd would start a new member, acknowledged commit %d lost", a.commit)
		}
		return nil
	}
	if r.SnapIndex > 0 && r.SnapIndex <= uint64(len(committed)) && committed[r.SnapIndex-1].Term != r.SnapTerm {
		return fmt.Errorf("restarted from snapshot %d/%d, committed term there is %d", r.SnapIndex, r.SnapTerm, committed[r.SnapIndex-1].Term)
	}
	if a == nil {
		return nil
	}
	var lost []string
	for i := r.SnapIndex + 1; i <= a.commit && i <= uint64(len(committed)); i++ {
		c := committed[i-1]
		e, ok := r.Entry(i)
		switch {
		case !ok:
			lost = append(lost, fmt.Sprintf("%d(missing)", i))
		case e.Term != c.Term || e.Hash != c.Hash:
			lost = append(lost, fmt.Sprintf("%d(term %d, committed %d/%d)", i, e.Term, c.Term, c.Hash))
		}
		if len(lost) >= 4 {
			break
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("acknowledged commit %d, restart (snapshot %d, last %d) lost entries %s", a.commit, r.SnapIndex, r.LastIndex, strings.Join(lost, " "))
	}
	hs := r.HardState
	if hs.GetTerm() < a.term || (hs.GetTerm() == a.term && a.vote != 0 && hs.GetVote() != a.vote) {
		return fmt.Errorf("acknowledged term %d vote %d, restart has term %d vote %d", a.term, a.vote, hs.GetTerm(), hs.GetVote())
	}
	return nil
}

func findingsText(fs []inspect.Finding) string {
	var b []string
	for _, f := range fs {
		if f.Severity == inspect.SeverityInfo {
			continue
		}
		b = append(b, fmt.Sprintf("%s[%s]: %s", f.Code, f.Severity, f.Message))
	}
	if len(b) == 0 {
		return "no findings"
	}
	return strings.Join(b, "; ")
}

// verdictOK applies the severity rule.
func verdictOK(truthErr error, status string) bool {
	if truthErr == nil {
		return status == inspect.StatusOK || status == inspect.StatusWarning
	}
	return status == inspect.StatusError
}

// TestCrashStates classifies the crash states of every writer (see the
// package documentation).
func TestCrashStates(t *testing.T) {
	for _, w := range writers {
		t.Run(w, func(t *testing.T) { crashStates(t, w) })
	}
}

func crashStates(t *testing.T, writer string) {
	start := time.Now()
	var traceDir string
	if d := os.Getenv(envTrace); d != "" {
		traceDir = filepath.Join(d, writer)
	} else {
		traceDir = t.TempDir()
		record(t, writer, traceDir)
	}
	rb, err := os.ReadFile(filepath.Join(traceDir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var wr writerResult
	if err := json.Unmarshal(rb, &wr); err != nil {
		t.Fatal(err)
	}
	tf, err := os.Open(filepath.Join(traceDir, "trace.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := parseTrace(tf, wr.Root)
	tf.Close()
	if err != nil {
		t.Fatal(err)
	}
	keep := os.Getenv(envKeep)
	if keep != "" && os.Getenv(envTrace) == "" {
		for _, f := range []string{"trace.txt", "result.json"} {
			b, err := os.ReadFile(filepath.Join(traceDir, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(keep, writer), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(keep, writer, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	only := map[string]bool{}
	for _, id := range strings.Split(os.Getenv(envState), ",") {
		if id = strings.TrimSpace(id); id != "" {
			only[id] = true
		}
	}
	counts := map[opKind]int{}
	var cuts, walPurges, snapPurges, received int
	for _, o := range ops {
		counts[o.kind]++
		switch {
		case o.kind == opRename && strings.HasSuffix(o.path2, ".wal") && strings.Contains(o.path2, "/wal/"):
			cuts++
		case o.kind == opUnlink && strings.HasSuffix(o.path, ".wal"):
			walPurges++
		case o.kind == opUnlink && strings.HasSuffix(o.path, ".snap"):
			snapPurges++
		case o.kind == opAck && o.ack.snap > 0:
			received++
		}
	}
	t.Logf("trace: %d ops (%v; %d segment cuts, %d segments and %d .snap files purged, %d snapshots received), recorded and parsed in %v",
		len(ops), counts, cuts, walPurges, snapPurges, received, time.Since(start).Round(time.Millisecond))
	if len(only) == 0 && (cuts < 8 || walPurges == 0 || snapPurges == 0 || received < 2 || counts[opTruncate] == 0) {
		t.Fatal("the writer no longer cuts, purges or receives snapshots: the crash states lost their coverage")
	}

	// Generate the states node by node and classify each distinct one on
	// two workers.
	ctx := context.Background()
	jobs := make(chan job, 16)
	var mu sync.Mutex
	outcomes := map[[32]byte]outcome{}
	var wg sync.WaitGroup
	work := t.TempDir()
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := filepath.Join(work, fmt.Sprint(w))
			for j := range jobs {
				oc := classify(ctx, dir, j)
				mu.Lock()
				outcomes[j.key] = oc
				mu.Unlock()
			}
		}()
	}
	var recs []stateRec
	inStates := map[[32]byte]crashState{} // kept only for envKeep and envState
	seen := map[[32]byte]bool{}
	prefixes, skipped := 0, 0
	for _, node := range wr.Nodes {
		prefix := groupDir(node)
		inoNode := map[int]bool{}
		m := newFSModel(ops)
		var last *ack
		for k, o := range ops {
			m.step(k)
			touches := false
			switch {
			case o.kind == opAck:
				if o.ack.node == node {
					a := o.ack
					last, touches = &a, true
				}
			case o.kind == opCreate || o.kind == opMkdir:
				if o.path == prefix || strings.HasPrefix(o.path, prefix+"/") {
					inoNode[o.ino] = true
					touches = true
				}
			case o.isNamespace():
				touches = strings.HasPrefix(o.path, prefix+"/") || strings.HasPrefix(o.path2, prefix+"/")
			default:
				touches = inoNode[o.ino]
			}
			if !touches {
				continue
			}
			if testing.Short() && k%4 != 0 && o.kind != opAck {
				continue
			}
			prefixes++
			for _, cs := range m.states(prefix) {
				id := fmt.Sprintf("%s.n%d-k%d-%s", writer, node, k, cs.variant)
				if len(only) > 0 && !only[id] {
					continue
				}
				if !hasWAL(cs) && last == nil {
					skipped++ // before the node's first WAL: etcd bootstraps a new member
					continue
				}
				key := stateKey(node, cs)
				recs = append(recs, stateRec{id: id, node: node, key: key, acks: last})
				if keep != "" || len(only) > 0 {
					if _, ok := inStates[key]; !ok {
						inStates[key] = cs
					}
				}
				if !seen[key] {
					seen[key] = true
					jobs <- job{key: key, id: id, state: cs, deep: true}
				}
			}
		}
	}
	close(jobs)
	wg.Wait()

	committed := wr.Committed
	type miss struct {
		rec        stateRec
		truth      error
		status     string
		finds      string
		deep, kind string
	}
	var misses []miss
	var bad, deepRuns, ambiguous int
	// A state whose bytes were reached both with and without an
	// acknowledgement that they lose is ambiguous: no reader of the
	// bytes can be right on both, so it is reported, not judged.
	truths := map[[32]byte][2]bool{}
	for _, rec := range recs {
		if oc := outcomes[rec.key]; oc.verr == "" {
			tv := truths[rec.key]
			if truth(oc, rec.acks, committed) != nil {
				tv[1] = true
			} else {
				tv[0] = true
			}
			truths[rec.key] = tv
		}
	}
	for _, rec := range recs {
		oc := outcomes[rec.key]
		if oc.verr != "" {
			t.Fatalf("%s: %s", rec.id, oc.verr)
		}
		tr := truth(oc, rec.acks, committed)
		if tr != nil {
			bad++
		}
		if len(only) > 0 {
			t.Logf("state %s: acknowledged %v\n  truth: %v\n  restart: %+v\n  raftctl: %s: %s\n  deep: %s: %s", rec.id, rec.acks, tr,
				restartSummary(oc), oc.status, findingsText(oc.finds), oc.deep, findingsText(oc.dfinds))
		}
		kind := ""
		switch {
		case truths[rec.key] == [2]bool{true, true}:
			ambiguous++
		case !verdictOK(tr, oc.status) && tr != nil:
			kind = "missed-loss"
		case !verdictOK(tr, oc.status):
			kind = "false-error"
		case oc.deep != "" && !verdictOK(tr, oc.deep) && tr != nil:
			kind = "deep-missed-loss"
		case oc.deep != "" && !verdictOK(tr, oc.deep):
			kind = "deep-false-error"
		}
		if oc.deep != "" {
			deepRuns++
		}
		if kind != "" {
			misses = append(misses, miss{rec: rec, truth: tr, status: oc.status, finds: findingsText(oc.finds), deep: oc.deep, kind: kind})
		}
	}
	sort.SliceStable(misses, func(i, j int) bool { return misses[i].kind < misses[j].kind })
	// One line per kind of misclassification (and of truly bad state),
	// with a count and the first state's id.
	type group struct {
		n     int
		first string
	}
	groups := map[string]*group{}
	note := func(key, id string) {
		g := groups[key]
		if g == nil {
			g = &group{first: id}
			groups[key] = g
		}
		g.n++
	}
	for _, ms := range misses {
		note(fmt.Sprintf("%s: truth %s; raftctl %s %s", ms.kind, truthClass(ms.truth), ms.status, codes(outcomes[ms.rec.key].finds)), ms.rec.id)
	}
	for _, rec := range recs {
		oc := outcomes[rec.key]
		if tr := truth(oc, rec.acks, committed); tr != nil {
			amb := ""
			if truths[rec.key] == [2]bool{true, true} {
				amb = ", ambiguous (the same bytes are fine before the acknowledgement)"
			}
			note(fmt.Sprintf("truly bad%s: %s; raftctl %s %s", amb, truthClass(tr), oc.status, codes(oc.finds)), rec.id)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		t.Logf("%5d x %s (e.g. %s)", groups[k].n, k, groups[k].first)
	}
	var missed int
	for _, ms := range misses {
		truthText := "ok (restarts, nothing acknowledged lost)"
		if ms.truth != nil {
			truthText = "bad: " + ms.truth.Error()
		}
		deep := ""
		if ms.deep != "" {
			deep = " deep=" + ms.deep
		}
		line := fmt.Sprintf("%s %s: truth %s; raftctl %s%s: %s", ms.kind, ms.rec.id, truthText, ms.status, deep, ms.finds)
		switch {
		case writer != "etcd":
			// A writer that breaks etcd's protocol leaves bytes that
			// mean a loss after its acknowledgement and nothing under
			// etcd's: reported, never failed.
			t.Log(line)
		case ms.kind == "missed-loss" || ms.kind == "deep-missed-loss":
			missed++
			t.Error(line)
		case os.Getenv(envStrict) != "":
			t.Error(line)
		default:
			t.Log(line)
		}
		if keep != "" {
			d := filepath.Join(keep, ms.rec.id)
			_ = os.RemoveAll(d)
			if err := materialize(d, inStates[ms.rec.key]); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "TRUTH"), []byte(line+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("crash states: %d classified (%d nodes, %d prefixes; %d distinct, each verified in default and deep mode; %d truly bad, %d ambiguous; %d skipped before the first WAL), %d misclassified (%d missed losses) in %v",
		len(recs), len(wr.Nodes), prefixes, len(seen), bad, ambiguous, skipped, len(misses), missed, time.Since(start).Round(time.Second))
	if len(only) > 0 && len(recs) < len(only) {
		t.Errorf("%d of the %d states asked for by %s were found (state ids are those of the trace in %s)", len(recs), len(only), envState, envTrace)
	}
	if deepRuns != len(recs) {
		t.Errorf("%d of %d states verified in deep mode", deepRuns, len(recs))
	}
	if len(only) == 0 && writer == "etcd10219" && bad == 0 {
		t.Error("the etcd10219 writer left no crash state that loses what it acknowledged: the suite no longer exercises raftctl's errors")
	}
	if len(only) == 0 && !testing.Short() && len(recs) < 1000 {
		t.Errorf("only %d crash states: the writer or the model lost its coverage", len(recs))
	}
}

// truthClass names the kind of a truth verdict.
func truthClass(tr error) string {
	var re *fixture.RefusedError
	switch {
	case tr == nil:
		return "ok"
	case errors.As(tr, &re):
		return "bad (refused at " + re.Stage + ")"
	case strings.Contains(tr.Error(), "lost entries"):
		return "bad (acknowledged entries lost)"
	}
	return "bad (" + tr.Error() + ")"
}

// codes lists a report's finding codes above info, sorted and unique.
func codes(fs []inspect.Finding) string {
	var cs []string
	for _, f := range fs {
		if f.Severity != inspect.SeverityInfo && !slices.Contains(cs, f.Code) {
			cs = append(cs, f.Code)
		}
	}
	slices.Sort(cs)
	return "[" + strings.Join(cs, " ") + "]"
}

func restartSummary(oc outcome) string {
	if oc.refused != nil {
		return "refused: " + oc.refused.Error()
	}
	r := oc.restart
	if r.Fresh {
		return "fresh (no WAL)"
	}
	return fmt.Sprintf("snapshot %d/%d (%s) hardstate %v entries %d..%d repaired %v raft commit %d applying %d",
		r.SnapIndex, r.SnapTerm, r.SnapFile, r.HardState, r.SnapIndex+1, r.LastIndex, r.Repaired, r.Commit, r.Applying)
}
