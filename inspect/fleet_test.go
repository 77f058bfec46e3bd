package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// summaryOf summarises server as raftctl summary does on its host, and
// reads the JSON back as compare does on another machine.
func summaryOf(t *testing.T, server string, globs []string) (*HostSummary, int) {
	t.Helper()
	gs, err := Discover([]string{server}, DiscoverOptions{Globs: globs})
	if err != nil {
		t.Fatal(err)
	}
	s, err := SummarizeHost(t.Context(), server, gs, SummaryOptions{Verify: VerifyOptions{NoLockCheck: true}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadHostSummary(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return back, len(b)
}

// compareJSON compares servers, each read from its directory where
// fromSummary[k] is false and from its summary otherwise, and returns the
// comparisons as JSON.
func compareJSON(t *testing.T, servers []string, globs []string, fromSummary []bool) []byte {
	t.Helper()
	var srcs []CompareSource
	for k, s := range servers {
		if fromSummary[k] {
			sum, _ := summaryOf(t, s, globs)
			srcs = append(srcs, CompareSource{Server: s, Summary: sum, SummaryGroups: sum.Select(globs)})
			continue
		}
		gs, err := Discover([]string{s}, DiscoverOptions{Globs: globs})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, CompareSource{Server: s, Groups: gs})
	}
	cs, err := CompareSources(t.Context(), srcs, VerifyOptions{NoLockCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(cs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertSameFromSummaries checks that compare gives byte-identical JSON
// from the directories, from every replica's summary, and from summaries
// and directories mixed.
func assertSameFromSummaries(t *testing.T, servers []string, globs []string) []byte {
	t.Helper()
	n := len(servers)
	dirs := compareJSON(t, servers, globs, make([]bool, n))
	all := make([]bool, n)
	mixed := make([]bool, n)
	for k := range all {
		all[k] = true
		mixed[k] = k%2 == 1
	}
	for _, from := range [][]bool{all, mixed} {
		got := compareJSON(t, servers, globs, from)
		if !bytes.Equal(got, dirs) {
			t.Fatalf("compare from summaries %v differs from compare from directories:\n%s\n----\n%s", from, got, dirs)
		}
	}
	return dirs
}

// TestFleetCompareFromSummaries runs compare from summaries of many
// simulated hosts written by real raft.RawNodes: in sync, divergent (a
// partitioned old leader), damaged (a flipped byte, a lost tail), and
// checks the JSON is byte-identical to compare from the directories.
func TestFleetCompareFromSummaries(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "partitioned")
	healed := filepath.Join(dir, "healed")
	if _, err := fixture.RaftCluster(healed, fixture.ClusterOptions{Groups: 2, Orphans: 4, PartitionCopy: part}); err != nil {
		t.Fatal(err)
	}
	var servers []string
	for _, root := range []string{healed, part} {
		for _, n := range []string{"node-1", "node-2", "node-3"} {
			servers = append(servers, filepath.Join(root, n))
		}
	}
	// Divergent replicas of the partition, and the healed ones: several
	// groups per server, paired by name.
	out := assertSameFromSummaries(t, servers[3:], nil)
	if !strings.Contains(string(out), `"term_b": 3`) {
		t.Fatalf("the partitioned replicas should diverge:\n%s", out)
	}
	assertSameFromSummaries(t, servers[:3], nil)

	// Damaged replicas: a flipped byte in one, the newest segment gone
	// from another.
	dmg := filepath.Join(dir, "damaged")
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		if err := fixture.CopyDir(filepath.Join(healed, n), filepath.Join(dmg, n)); err != nil {
			t.Fatal(err)
		}
	}
	last := lastSegment(t, filepath.Join(dmg, "node-2", "group-1", "wal"))
	recs, err := fixture.EntryRecords(last)
	if err != nil || len(recs) == 0 {
		t.Fatal(err, recs)
	}
	if err := fixture.FlipByte(last, recs[0].Offset+12); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(lastSegment(t, filepath.Join(dmg, "node-3", "group-1", "wal"))); err != nil {
		t.Fatal(err)
	}
	dservers := []string{filepath.Join(dmg, "node-1"), filepath.Join(dmg, "node-2"), filepath.Join(dmg, "node-3")}
	out = assertSameFromSummaries(t, dservers, []string{"group-1"})
	if !strings.Contains(string(out), `"status": "error"`) {
		t.Fatalf("the damaged replicas should not verify:\n%s", out)
	}
}

// TestFleetCompareEtcdFromSummaries does the same with data directories
// written by a real embedded etcd, one of them damaged.
func TestFleetCompareEtcdFromSummaries(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd")
	}
	dir := t.TempDir()
	a := filepath.Join(dir, "host-a")
	keys := map[string]string{}
	for k := 0; k < 40; k++ {
		keys["k"+string(rune('a'+k%26))+string(rune('a'+k/26))] = strings.Repeat("v", 100+k)
	}
	if err := fixture.EmbeddedEtcd(a, keys, fixture.WithEtcdSegmentSize(16*1024)); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "host-b")
	if err := fixture.CopyDir(a, b); err != nil {
		t.Fatal(err)
	}
	last := lastSegment(t, filepath.Join(b, "member", "wal"))
	recs, err := fixture.EntryRecords(last)
	if err != nil || len(recs) < 2 {
		t.Fatal(err, recs)
	}
	if err := fixture.FlipByte(last, recs[len(recs)/2].Offset+12); err != nil {
		t.Fatal(err)
	}
	out := assertSameFromSummaries(t, []string{a, b}, nil)
	if !strings.Contains(string(out), `"cluster_id"`) || !strings.Contains(string(out), `"status": "error"`) {
		t.Fatalf("compare:\n%s", out)
	}
	s, n := summaryOf(t, a, nil)
	if n > 64*1024 || len(s.Groups) != 1 || s.Groups[0].MemberID == "" || len(s.Groups[0].Hashes) == 0 {
		t.Fatalf("summary of %d bytes: %+v", n, s)
	}
}

// lastSegment returns the path of walDir's newest segment.
func lastSegment(t *testing.T, walDir string) string {
	t.Helper()
	segs, err := fixture.WALSegments(walDir)
	if err != nil || len(segs) == 0 {
		t.Fatal(err, segs)
	}
	return filepath.Join(walDir, segs[len(segs)-1])
}

// rewriteEntry re-encodes the WAL of the group in dir with etcd's wal
// package, replacing the data of the entry at index with data of the same
// length: every CRC is valid, verify finds nothing, only the bytes differ
// (what a bug, not a crash, leaves).
func rewriteEntry(t *testing.T, dir string, index uint64) {
	t.Helper()
	walDir := filepath.Join(dir, "wal")
	lg := zap.NewNop()
	r, err := wal.OpenForRead(lg, walDir, &walpb.Snapshot{})
	if err != nil {
		t.Fatal(err)
	}
	md, hs, ents, err := r.ReadAll()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ents {
		if e.GetIndex() == index {
			d := bytes.Clone(e.GetData())
			d[0] ^= 0x5a
			e.Data = d
			found = true
		}
	}
	if !found {
		t.Fatalf("no entry %d", index)
	}
	if err := os.RemoveAll(walDir); err != nil {
		t.Fatal(err)
	}
	w, err := wal.Create(lg, walDir, md)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Save(hs, ents); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFleetHashChainFindsRewrittenBytes: a replica whose entry holds other
// bytes under the same index and term, its CRCs valid, verifies clean; the
// content-hash chain shows it, from the directories and from summaries
// alike, as a safety violation.
func TestFleetHashChainFindsRewrittenBytes(t *testing.T) {
	root := t.TempDir()
	var servers []string
	for k, node := range []uint64{1, 2, 3} {
		srv := filepath.Join(root, "host-"+string(rune('a'+k)))
		if _, err := fixture.WriteGroup(fixture.GroupSpec{Dir: filepath.Join(srv, "g"), Entries: 3000, EntrySize: 32, Term: 2, Bootstrap: true,
			Voters: []uint64{1, 2, 3}, NodeID: node, ClusterID: 0xfeed, SegmentSize: 64 * 1024}); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, srv)
	}
	clean := compareJSON(t, servers, nil, []bool{false, false, false})
	if strings.Contains(string(clean), "bytes_differ") {
		t.Fatalf("identical replicas differ:\n%s", clean)
	}
	const bad = 1500
	rewriteEntry(t, filepath.Join(servers[2], "g"), bad)
	g, err := Discover([]string{servers[2]}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(t.Context(), g[0], VerifyOptions{NoLockCheck: true})
	if err != nil || rep.Status != StatusOK {
		t.Fatalf("the rewritten replica should verify clean: %v %+v", err, rep)
	}
	out := assertSameFromSummaries(t, servers, nil)
	var cs []*Comparison
	if err := json.Unmarshal(out, &cs); err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if len(c.Violations) != 2 || !strings.Contains(c.Violations[0], "same index and term") {
		t.Fatalf("violations %q", c.Violations)
	}
	for _, p := range c.Pairs {
		involved := p.B == servers[2]
		if got := p.BytesDifferFrom != 0; got != involved {
			t.Errorf("pair %s ~ %s: bytes differ %v, want %v", p.A, p.B, got, involved)
		}
		if involved && (p.BytesDifferFrom > bad || p.BytesDifferTo < bad || p.IdenticalUpTo >= bad || p.Index != 0) {
			t.Errorf("pair %+v does not locate index %d", p, bad)
		}
	}
	if c.Recommended != "" {
		t.Errorf("recommended %s despite a violation", c.Recommended)
	}
	// report merges the three hosts' summaries into one verdict: error,
	// though every replica verifies clean.
	var ins []FleetInput
	for _, srv := range servers {
		sum, _ := summaryOf(t, srv, nil)
		ins = append(ins, FleetInput{Server: srv, Summary: sum})
	}
	frep, err := BuildFleetReport(t.Context(), ins)
	if err != nil {
		t.Fatal(err)
	}
	if len(frep.Groups) != 1 || frep.Groups[0].Status != StatusError || frep.Summary.Error != 1 || len(frep.Groups[0].Replicas) != 3 ||
		!strings.Contains(strings.Join(frep.Groups[0].Problems, "\n"), "same index and term") || !frep.Has(SeverityError) {
		t.Fatalf("report %+v", frep.Groups[0])
	}
	// A directory is hashed with the summaries' range: the content is
	// compared. Two summaries hashed with different ranges are not
	// compared by content, and compare says so.
	gs, _ := Discover([]string{servers[2]}, DiscoverOptions{})
	odd, err := SummarizeHost(t.Context(), servers[2], gs, SummaryOptions{HashRange: 512})
	if err != nil {
		t.Fatal(err)
	}
	g0, _ := Discover([]string{servers[0]}, DiscoverOptions{})
	cs1, err := CompareSources(t.Context(), []CompareSource{{Server: servers[0], Groups: g0}, {Server: servers[2], Summary: odd, SummaryGroups: odd.Groups}}, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs1[0].Violations) != 1 || cs1[0].Pairs[0].BytesDifferFrom != 1024 || cs1[0].Pairs[0].BytesDifferTo != 1535 {
		t.Fatalf("directory and 512-index summary: violations %q, pair %+v", cs1[0].Violations, cs1[0].Pairs[0])
	}
	def, _ := summaryOf(t, servers[0], nil)
	cs2, err := CompareSources(t.Context(), []CompareSource{{Server: servers[0], Summary: def, SummaryGroups: def.Groups}, {Server: servers[2], Summary: odd, SummaryGroups: odd.Groups}}, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs2[0].Violations) != 0 || !strings.Contains(strings.Join(cs2[0].Notes, " "), "content not compared") {
		t.Fatalf("different hash ranges: violations %q notes %q", cs2[0].Violations, cs2[0].Notes)
	}
}

// TestSummaryContent checks a summary against what the writer wrote.
func TestSummaryContent(t *testing.T) {
	srv := t.TempDir()
	wr, err := fixture.WriteGroup(fixture.GroupSpec{Dir: filepath.Join(srv, "g"), Entries: 2500, EntrySize: 16, Term: 3, SnapshotEvery: 1000,
		Overwrite: []fixture.Overwrite{{FromIndex: 2400, Term: 4, Count: 50}}, SegmentSize: 32 * 1024, NodeID: 7, ClusterID: 0xabc})
	if err != nil {
		t.Fatal(err)
	}
	s, n := summaryOf(t, srv, nil)
	if s.SchemaVersion != HostSummarySchemaVersion || s.Kind != HostSummaryKind || s.Server != srv || len(s.Groups) != 1 {
		t.Fatalf("summary %+v", s)
	}
	g := s.Groups[0]
	if g.Name != "g" || g.MemberID != "7" || g.ClusterID != "abc" || g.LastIndex != wr.LastIndex || g.LastTerm != wr.LastTerm || g.HardState.Commit != wr.HardState.GetCommit() {
		t.Fatalf("group %+v, written last %d@%d", g, wr.LastIndex, wr.LastTerm)
	}
	if len(g.Segments) != len(wr.Segments) || len(g.SnapFiles) != len(wr.Snapshots) || g.Snapshot == nil || g.Snapshot.Index != wr.Snapshots[len(wr.Snapshots)-1].Index {
		t.Fatalf("segments %d (want %d), snap files %d (want %d), snapshot %+v", len(g.Segments), len(wr.Segments), len(g.SnapFiles), len(wr.Snapshots), g.Snapshot)
	}
	// The term runs: 3 up to 2399, then 4.
	last := g.TermRuns[len(g.TermRuns)-1]
	if last.Term != 4 || last.From != 2400 || last.To != wr.LastIndex {
		t.Fatalf("term runs %+v", g.TermRuns)
	}
	// The hash chain covers the effective log after the snapshot, one
	// hash per 1024 indexes, and is the hash of the written entries.
	var total uint64
	for k, h := range g.Hashes {
		if h.From/DefaultHashRange != h.To/DefaultHashRange || (k > 0 && h.From != g.Hashes[k-1].To+1) {
			t.Fatalf("hash %d: %+v", k, h)
		}
		total += h.To - h.From + 1
	}
	if g.Hashes[len(g.Hashes)-1].To != wr.LastIndex || total != wr.LastIndex-g.Hashes[0].From+1 {
		t.Fatalf("hashes %+v", g.Hashes)
	}
	if n > 8*1024 {
		t.Errorf("summary of a 2500-entry group is %d bytes", n)
	}
}

// TestReadHostSummaryRefuses other documents.
func TestReadHostSummaryRefuses(t *testing.T) {
	for _, in := range []string{`{}`, `{"kind":"raftctl-summary","schema_version":99,"hash_range":1}`, `{"schema_version":1,"groups":[]}`, `[`,
		`{"kind":"raftctl-summary","schema_version":1,"hash_range":0}`,
		// Term runs out of order made compare's divergence walk loop.
		`{"kind":"raftctl-summary","schema_version":1,"hash_range":1,"groups":[{"last_index":9,"term_runs":[{"from":5,"term":1},{"from":2,"term":2}]}]}`,
		`{"kind":"raftctl-summary","schema_version":1,"hash_range":1,"groups":[{"last_index":18446744073709551615,"term_runs":[{"from":1,"term":1}]}]}`,
		`{"kind":"raftctl-summary","schema_version":1,"hash_range":1,"groups":[{"hashes":[{"from":5,"to":4,"xxh64":"0"}]}]}`,
		`{"kind":"raftctl-summary","schema_version":1,"hash_range":1,"groups":[null]}`} {
		if _, err := ReadHostSummary(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

// FuzzReadHostSummary: any bytes decode as a summary or are refused,
// without a panic; a decoded summary compares without a panic.
func FuzzReadHostSummary(f *testing.F) {
	srv := f.TempDir()
	if _, err := fixture.WriteGroup(fixture.GroupSpec{Dir: filepath.Join(srv, "g"), Entries: 30, NodeID: 1, ClusterID: 9}); err != nil {
		f.Fatal(err)
	}
	gs, _ := Discover([]string{srv}, DiscoverOptions{})
	s, err := SummarizeHost(context.Background(), srv, gs, SummaryOptions{})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := json.Marshal(s)
	f.Add(b)
	f.Add([]byte(`{"kind":"raftctl-summary","schema_version":1,"hash_range":1,"groups":[{"term_runs":[{"from":5,"term":1},{"from":2,"term":0,"hole":true}],"last_index":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadHostSummary(bytes.NewReader(b))
		if err != nil {
			return
		}
		other, _ := ReadHostSummary(bytes.NewReader(b))
		other.Server = s.Server + "-other"
		_, _ = CompareSources(context.Background(), []CompareSource{{Server: s.Server, Summary: s, SummaryGroups: s.Groups}, {Server: other.Server, Summary: other, SummaryGroups: other.Groups}}, VerifyOptions{})
		_, _ = BuildFleetReport(context.Background(), []FleetInput{{Server: s.Server, Summary: s}})
	})
}
