package inspect

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// chainTwoWays hashes the WAL in walDir during the pass that reads it
// (chainBuilder) and in a second pass (HashEntries), and returns both.
func chainTwoWays(t *testing.T, walDir string, r uint64) (single []ContentHash, spilled bool, serr error, second []ContentHash, err2 error) {
	t.Helper()
	segs := listSegs(t, walDir)
	c := newChainBuilder(r, false)
	l, err := readLog(context.Background(), segs, readOptions{chain: c})
	if err != nil {
		t.Fatal(err)
	}
	single, spilled, serr = c.result()
	second, err2 = HashEntries(context.Background(), segs, l, r, false)
	return single, spilled, serr, second, err2
}

// randomOps scripts a WAL that raft's rules allow and some they do not:
// appends, overwrites above and below the commit index, gaps, snapshot
// records ahead of the log, contradicting its tail or behind the commit,
// and a snapshot record at the end that no HardState confirms.
func randomOps(rng *rand.Rand) []op {
	var ops []op
	var last, term, commit uint64
	term = 1
	for n := 3 + rng.Intn(25); n > 0; n-- {
		switch x := rng.Intn(20); {
		case x < 2 && last > 0:
			idx := last + uint64(rng.Intn(5)) - 2
			if rng.Intn(2) == 0 {
				idx = last + 1 + uint64(rng.Intn(10))
			}
			ops = append(ops, op{snap: &[2]uint64{idx, term + uint64(rng.Intn(2))}})
			if idx > last && rng.Intn(3) > 0 {
				last, term = idx, term+1
				commit = max(commit, idx)
				ops = append(ops, op{commit: commit, term: term})
			}
		default:
			from := last + 1
			switch y := rng.Intn(10); {
			case y < 3 && last > commit:
				// Overwrite the uncommitted tail, at any term.
				from = commit + 1 + uint64(rng.Int63n(int64(last-commit)))
				if rng.Intn(2) == 0 {
					term++
				} else if term > 1 {
					term--
				}
			case y == 3 && last > 2:
				// Below the commit index: honest raft never does this.
				from = 1 + uint64(rng.Int63n(int64(last)))
			case y == 4:
				from = last + 2 + uint64(rng.Intn(3)) // a gap
			}
			to := from + uint64(rng.Intn(40))
			last = to
			if rng.Intn(3) > 0 {
				commit = max(commit, from+uint64(rng.Int63n(int64(to-from+1))))
			}
			ops = append(ops, op{from: from, to: to, term: term, size: rng.Intn(20), commit: commit})
		}
	}
	if rng.Intn(4) == 0 {
		ops = append(ops, op{snap: &[2]uint64{last + 5, term + 1}})
	}
	return ops
}

// TestChainSinglePassIsExact: on random logs (overwrites above and below
// the commit index, gaps, snapshot resets, confirmed and not), the chain
// computed during the one pass is the chain HashEntries computes in a
// second pass, or the pass says it spilled; spills happen only when a
// truncation reaches an entry already final.
func TestChainSinglePassIsExact(t *testing.T) {
	defer func(n int) { maxPendingEntries = n }(maxPendingEntries)
	spills, resets := 0, 0
	const runs = 150
	for seed := int64(0); seed < runs; seed++ {
		rng := rand.New(rand.NewSource(seed))
		maxPendingEntries = 1 << 16
		if seed%3 == 0 {
			maxPendingEntries = 4 + rng.Intn(30)
		}
		ops := randomOps(rng)
		walDir := writeWAL(t, t.TempDir(), 4096, ops)
		r := uint64(1 + rng.Intn(40))
		single, spilled, serr, second, err2 := chainTwoWays(t, walDir, r)
		if fmt.Sprint(serr) != fmt.Sprint(err2) {
			t.Fatalf("seed %d: errors %v and %v", seed, serr, err2)
		}
		if spilled {
			spills++
			continue
		}
		if !reflect.DeepEqual(single, second) {
			t.Fatalf("seed %d (pending cap %d, range %d): one pass\n%v\nsecond pass\n%v\nops %+v", seed, maxPendingEntries, r, single, second, ops)
		}
		for _, o := range ops {
			if o.snap != nil {
				resets++
				break
			}
		}
	}
	// Both ways are exercised: most logs in one pass, some spilled.
	if spills == 0 || spills > runs/2 || resets == 0 {
		t.Fatalf("%d of %d spilled, %d with snapshot records", spills, runs, resets)
	}
	t.Logf("%d of %d random logs spilled into a second pass", spills, runs)
}

// TestChainSpillsOnlyBelowFinal: a lower-term overwrite above the commit
// index is hashed in one pass; an entry record below the commit index (no
// honest raft writes one) makes the pass spill, and summary then hashes
// in a second pass, counted in hashSecondPasses.
func TestChainSpillsOnlyBelowFinal(t *testing.T) {
	above := writeWAL(t, t.TempDir(), 4096, []op{
		{from: 1, to: 10, term: 2, size: 8, commit: 5},
		{from: 11, to: 12, term: 3, size: 8, commit: 5},
		{from: 7, to: 15, term: 2, size: 8, commit: 9},
		{snap: &[2]uint64{40, 4}},
	})
	single, spilled, _, second, _ := chainTwoWays(t, above, 4)
	if spilled || !reflect.DeepEqual(single, second) || len(single) == 0 {
		t.Fatalf("overwrite above the commit: spilled %v, %v against %v", spilled, single, second)
	}
	below := writeWAL(t, t.TempDir(), 4096, []op{
		{from: 1, to: 10, term: 2, size: 8, commit: 8},
		{from: 4, to: 12, term: 2, size: 9, commit: 8},
	})
	if _, spilled, _, _, _ := chainTwoWays(t, below, 4); !spilled {
		t.Fatal("an overwrite below the commit index did not spill")
	}
	g := Group{Name: "g", Dir: filepath.Dir(below), WALDir: below}
	before := hashSecondPasses.Load()
	fg, _, err := summarizeGroup(t.Context(), g, 4, VerifyOptions{NoLockCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, second, _ = chainTwoWays(t, below, 4)
	if hashSecondPasses.Load() != before+1 || !reflect.DeepEqual(fg.Hashes, second) {
		t.Fatalf("second passes %d (was %d), hashes %v, want %v", hashSecondPasses.Load(), before, fg.Hashes, second)
	}
}

// segmentReads records, per segment path, the passes (Scanners) that read
// it, through segmentReadTrace, for files under root.
type segmentReads struct {
	mu     sync.Mutex
	root   string
	passes map[string]map[*scanner]int64
}

func traceSegmentReads(t *testing.T, root string) *segmentReads {
	sr := &segmentReads{root: root, passes: map[string]map[*scanner]int64{}}
	segmentReadTrace = func(sc *scanner, path string, n int) {
		if !strings.HasPrefix(path, root) {
			return
		}
		sr.mu.Lock()
		defer sr.mu.Unlock()
		if sr.passes[path] == nil {
			sr.passes[path] = map[*scanner]int64{}
		}
		sr.passes[path][sc] += int64(n)
	}
	t.Cleanup(func() { segmentReadTrace = nil })
	return sr
}

// once checks that every segment under dirs was read by exactly one pass
// (a pass reads a segment from its start, in order, so no byte of it
// twice), and resets the record.
func (sr *segmentReads) once(t *testing.T, what string, walDirs []string) {
	t.Helper()
	sr.mu.Lock()
	defer sr.mu.Unlock()
	n := 0
	for _, wd := range walDirs {
		segs, _, err := ListSegments(wd)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range segs {
			n++
			if p := len(sr.passes[s.Path]); p != 1 {
				t.Errorf("%s: segment %s read by %d passes, want 1", what, s.Path, p)
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s: no segment", what)
	}
	sr.passes = map[string]map[*scanner]int64{}
}

// TestSummaryAndCompareReadEachSegmentOnce: summary and compare (from
// directories) read every segment of real raft.RawNode clusters once,
// snapshots, overwritten tails (the partitioned old leader's, replaced
// once the partition healed) and all: the content hashes are computed
// during verify's pass, never in a second one.
func TestSummaryAndCompareReadEachSegmentOnce(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "partitioned")
	healed := filepath.Join(dir, "healed")
	if _, err := fixture.RaftCluster(healed, fixture.ClusterOptions{Groups: 2, Orphans: 6, SnapshotEvery: 7, PartitionCopy: part}); err != nil {
		t.Fatal(err)
	}
	// Node 3 of this one is caught up by a snapshot from the leader: its
	// WAL resets the log at a snapshot record ahead of it.
	laggard := filepath.Join(dir, "laggard")
	if _, err := fixture.RaftCluster(laggard, fixture.ClusterOptions{Groups: 1, LaggardSnapshot: true}); err != nil {
		t.Fatal(err)
	}
	wg := filepath.Join(dir, "written")
	if _, err := fixture.WriteGroup(fixture.GroupSpec{Dir: filepath.Join(wg, "g"), Entries: 2500, EntrySize: 16, Term: 3, SnapshotEvery: 1000,
		Overwrite: []fixture.Overwrite{{FromIndex: 2400, Term: 4, Count: 50}}, SegmentSize: 32 * 1024, NodeID: 7, ClusterID: 0xabc}); err != nil {
		t.Fatal(err)
	}
	var resets int
	all, err := Discover([]string{dir}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range all {
		if s, err := Summarize(t.Context(), g); err == nil && slices.ContainsFunc(s.Log.truncs, func(tr truncation) bool { return tr.index == 0 }) {
			resets++
		}
	}
	sr := traceSegmentReads(t, dir)
	before := hashSecondPasses.Load()
	var overwritten, snapshots int64
	for _, root := range []string{healed, part, laggard} {
		var srcs []CompareSource
		var walDirs []string
		nodes, err := filepath.Glob(filepath.Join(root, "node-*"))
		if err != nil || len(nodes) < 3 {
			t.Fatal(err, nodes)
		}
		for _, srv := range nodes {
			gs, err := Discover([]string{srv}, DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := SummarizeHost(t.Context(), srv, gs, SummaryOptions{Verify: VerifyOptions{NoLockCheck: true}})
			if err != nil {
				t.Fatal(err)
			}
			for k, g := range s.Groups {
				walDirs = append(walDirs, gs[k].WALDir)
				overwritten += g.Overwritten
				for _, r := range g.WALSnapshots {
					if r.Index > 0 {
						snapshots++
					}
				}
				if g.Status != StatusOK || (len(g.Hashes) == 0 && g.FirstIndex != 0) {
					t.Fatalf("%s %s: status %s, %d hashes", srv, g.Name, g.Status, len(g.Hashes))
				}
			}
			srcs = append(srcs, CompareSource{Server: srv, Groups: gs})
		}
		sr.once(t, "summary of "+root, walDirs)
		if _, err := CompareSources(t.Context(), srcs, VerifyOptions{NoLockCheck: true}); err != nil {
			t.Fatal(err)
		}
		sr.once(t, "compare of "+root, walDirs)
	}
	gs, err := Discover([]string{wg}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := SummarizeHost(t.Context(), wg, gs, SummaryOptions{Verify: VerifyOptions{NoLockCheck: true}})
	if err != nil {
		t.Fatal(err)
	}
	sr.once(t, "summary of a written group", []string{gs[0].WALDir})
	overwritten += s.Groups[0].Overwritten
	if overwritten == 0 || snapshots == 0 || resets == 0 {
		t.Fatalf("the fixtures hold %d overwritten entries, %d snapshot records and %d resets by a snapshot: the test proves nothing", overwritten, snapshots, resets)
	}
	if n := hashSecondPasses.Load() - before; n != 0 {
		t.Fatalf("%d content-hash chains needed a second pass on healthy groups", n)
	}
}
