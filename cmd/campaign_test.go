package cmd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/cmd"
	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// The damage campaign of issue 13: real groups written by the real writers
// (WriteGroup, RaftCluster's raft.RawNodes, an embedded etcd), damaged one
// way at a time on a fresh copy, judged by etcd's restart path and a raft
// restart (fixture.EtcdRestart), then by raftctl: verify, repair (the
// command, in process), verify again. Three properties must hold:
//
//	(a) verify never says ok when the damage changed record bytes, the
//	    segments, or the snapshot etcd restarts from;
//	(b) repair never exits 0 while verify afterwards is not ok;
//	(c) repair never leaves a group that verify reads as ok although
//	    committed entries the writer acknowledged are lost (or etcd refuses
//	    to restart it).
//
// Environment:
//
//	RAFTCTL_CAMPAIGN_SEED    the seed (default campaignSeed), printed in the output
//	RAFTCTL_CAMPAIGN_CASE    run only these case ids (comma-separated)
//	RAFTCTL_CAMPAIGN_KEEP    directory that receives the damaged (and repaired)
//	                         group of every violating case
//	RAFTCTL_CAMPAIGN_STRICT  fail on any violation (unset: log them and pass)
//	RAFTCTL_CAMPAIGN_VERBOSE log every case, not only the violations
const campaignSeed = 13

// campaignBase is one undamaged group and what its writer acknowledged.
type campaignBase struct {
	name string
	// root is what raftctl is pointed at; walRel and snapRel locate the
	// WAL and snapshot directories under it.
	root            string
	walRel, snapRel string
	// ack lists the committed entries as the writer acknowledged them
	// (index order; entries below the oldest snapshot still on disk may
	// be missing from the front).
	ack    []fixture.EntryRef
	ackSrc string
	segs   []campaignSeg
	snaps  []string // .snap base names, oldest first
	// snapData maps "term-index" to the hash of each undamaged .snap
	// file's payload.
	snapData map[string]uint64
	pristine *fixture.Restarted
}

type campaignSeg struct {
	name    string
	size    int64
	dataEnd int64
	recs    []fixture.RecordPos
}

func (b *campaignBase) walDir(root string) string  { return filepath.Join(root, b.walRel) }
func (b *campaignBase) snapDir(root string) string { return filepath.Join(root, b.snapRel) }

// campaignCase is one damage applied to a copy of one base group.
type campaignCase struct {
	id     string // base/kind#n
	kind   string
	base   *campaignBase
	detail string // file and offset
	apply  func(root string) error
	// like names a damage that leaves exactly what a legitimate event
	// leaves, so that no reader can tell: "purge" (the oldest segments
	// removed, as etcd's purge does) or "crash" (the last writes never
	// reached the disk: zeros up to the preallocated end).
	like string
}

// campaignTruth is what etcd's restart path makes of a group.
type campaignTruth struct {
	r       *fixture.Restarted
	refused string
	// lost lists the acknowledged committed indexes the restart does not
	// hold (missing, or held with another term or payload).
	lost []uint64
	// snapChanged: the snapshot etcd restarts from is not the undamaged
	// group's.
	snapChanged bool
}

func (tr campaignTruth) ok() bool { return tr.refused == "" && len(tr.lost) == 0 }

func (tr campaignTruth) String() string {
	if tr.refused != "" {
		return "etcd refuses (" + firstLine(tr.refused) + ")"
	}
	var b strings.Builder
	if tr.r.Fresh {
		b.WriteString("etcd starts a new member (no WAL)")
	} else {
		fmt.Fprintf(&b, "etcd restarts (snap %d, commit %d, last %d", tr.r.SnapIndex, tr.r.Commit, tr.r.LastIndex)
		if tr.r.Repaired {
			b.WriteString(", wal.Repair ran")
		}
		b.WriteString(")")
	}
	if len(tr.lost) > 0 {
		fmt.Fprintf(&b, ", %d committed entries lost (%s)", len(tr.lost), spanString(tr.lost))
	} else {
		b.WriteString(", nothing committed lost")
	}
	if tr.snapChanged {
		b.WriteString(", snapshot changed")
	}
	return b.String()
}

// campaignResult is what one case did.
type campaignResult struct {
	c                   *campaignCase
	before, after       campaignTruth
	recChanged, segsChg bool
	vBefore, vAfter     *inspect.GroupReport
	repairExit          int
	repairSummary       string
	repairErr           string
	violations          []string // "a", "b", "c"
	falseAlarm          bool     // verify error, etcd restarts losing nothing
	worse               bool     // repair turned a lossless restart into a lossy one
	exempted            []string // violations waived because c.like
	err                 error    // the harness failed
}

func TestDamageCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("damage campaign: a few hundred cases")
	}
	seed := uint64(campaignSeed)
	if s := os.Getenv("RAFTCTL_CAMPAIGN_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("RAFTCTL_CAMPAIGN_SEED: %v", err)
		}
		seed = v
	}
	start := time.Now()
	work := t.TempDir()
	bases := campaignBases(t, filepath.Join(work, "bases"))
	var cases []*campaignCase
	for _, b := range bases {
		cases = append(cases, campaignCases(b, seed)...)
	}
	if only := os.Getenv("RAFTCTL_CAMPAIGN_CASE"); only != "" {
		want := map[string]bool{}
		for id := range strings.SplitSeq(only, ",") {
			want[strings.TrimSpace(id)] = true
		}
		cases = slices.DeleteFunc(cases, func(c *campaignCase) bool { return !want[c.id] })
		if len(cases) == 0 {
			t.Fatalf("no case has an id in %q", only)
		}
	}
	keep := os.Getenv("RAFTCTL_CAMPAIGN_KEEP")

	results := make([]*campaignResult, len(cases))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				results[k] = runCampaignCase(cases[k], filepath.Join(work, "cases", strconv.Itoa(k)), keep)
			}
		}()
	}
	for k := range cases {
		next <- k
	}
	close(next)
	wg.Wait()

	byKind := map[string]int{}
	count := map[string]int{}
	var lines, notes []string
	verbose := os.Getenv("RAFTCTL_CAMPAIGN_VERBOSE") != ""
	for _, r := range results {
		if r.err != nil {
			t.Errorf("case %s: %v", r.c.id, r.err)
			continue
		}
		byKind[r.c.kind]++
		for _, v := range r.violations {
			count[v]++
		}
		if len(r.violations) > 0 {
			lines = append(lines, "VIOLATION "+strings.Join(r.violations, ",")+" "+r.describe())
		} else if verbose {
			lines = append(lines, "case "+r.describe())
		}
		if r.falseAlarm {
			notes = append(notes, "note: verify error, etcd loses nothing: "+r.describe())
		}
		if len(r.exempted) > 0 {
			notes = append(notes, fmt.Sprintf("note: %s waived (%s-like damage, indistinguishable): %s", strings.Join(r.exempted, ","), r.c.like, r.describe()))
		}
		if r.worse {
			notes = append(notes, "note: repair lost committed entries etcd would have kept: "+r.describe())
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var kindList []string
	for _, k := range kinds {
		kindList = append(kindList, fmt.Sprintf("%s %d", k, byKind[k]))
	}
	t.Logf("damage campaign: seed %d, %d cases, violations a=%d b=%d c=%d (%s)", seed, len(cases), count["a"], count["b"], count["c"],
		time.Since(start).Round(time.Second))
	t.Logf("cases by kind: %s", strings.Join(kindList, ", "))
	for _, l := range lines {
		t.Log(l)
	}
	for _, l := range notes {
		t.Log(l)
	}
	if n := count["a"] + count["b"] + count["c"]; n > 0 {
		msg := fmt.Sprintf("%d violations (rerun one with RAFTCTL_CAMPAIGN_SEED=%d RAFTCTL_CAMPAIGN_CASE=<id>)", n, seed)
		if os.Getenv("RAFTCTL_CAMPAIGN_STRICT") != "" {
			t.Error(msg)
		} else {
			t.Log(msg + "; RAFTCTL_CAMPAIGN_STRICT=1 makes them fail the test")
		}
	}
}

func (r *campaignResult) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s]: before: %s", r.c.id, r.c.detail, r.before)
	var ch []string
	if r.recChanged {
		ch = append(ch, "records")
	}
	if r.segsChg {
		ch = append(ch, "segments")
	}
	if r.before.snapChanged {
		ch = append(ch, "snapshot")
	}
	if len(ch) > 0 {
		fmt.Fprintf(&b, "; changed: %s", strings.Join(ch, "+"))
	} else {
		b.WriteString("; changed: nothing etcd reads")
	}
	fmt.Fprintf(&b, "; verify: %s; repair: exit %d %s", reportString(r.vBefore), r.repairExit, r.repairSummary)
	if r.repairErr != "" {
		fmt.Fprintf(&b, " (%s)", firstLine(r.repairErr))
	}
	fmt.Fprintf(&b, "; verify after: %s; after: %s", reportString(r.vAfter), r.after)
	return b.String()
}

func reportString(g *inspect.GroupReport) string {
	if g == nil {
		return "-"
	}
	var codes []string
	for _, f := range g.Findings {
		if f.Severity != inspect.SeverityInfo && !slices.Contains(codes, f.Code) {
			codes = append(codes, f.Code)
		}
	}
	s := g.Status
	if len(codes) > 0 {
		s += " " + strings.Join(codes, ",")
	}
	if g.Err != "" {
		s += " (" + firstLine(g.Err) + ")"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

func spanString(ix []uint64) string {
	if len(ix) == 0 {
		return ""
	}
	return fmt.Sprintf("%d..%d", ix[0], ix[len(ix)-1])
}

// runCampaignCase damages a copy of the case's base group and checks it.
func runCampaignCase(c *campaignCase, dir, keep string) *campaignResult {
	r := &campaignResult{c: c}
	b := c.base
	root := filepath.Join(dir, "group")
	if err := fixture.CopyDir(b.root, root); err != nil {
		r.err = err
		return r
	}
	defer os.RemoveAll(dir)
	if err := c.apply(root); err != nil {
		r.err = fmt.Errorf("applying the damage: %w", err)
		return r
	}
	var damaged string
	if keep != "" {
		damaged = filepath.Join(dir, "damaged")
		if err := fixture.CopyDir(root, damaged); err != nil {
			r.err = err
			return r
		}
	}
	var err error
	if r.recChanged, r.segsChg, err = compareSegments(b, root); err != nil {
		r.err = err
		return r
	}
	r.before = campaignJudge(b, root)

	ctx := context.Background()
	if r.vBefore, err = verifyRoot(ctx, root); err != nil {
		r.err = err
		return r
	}
	r.repairExit, r.repairSummary, r.repairErr = runRepair(root, filepath.Join(dir, "backup"))
	if r.vAfter, err = verifyRoot(ctx, root); err != nil {
		r.err = err
		return r
	}
	r.after = campaignJudge(b, root)

	changed := r.recChanged || r.segsChg || r.before.snapChanged || !r.before.ok()
	if r.vBefore.Status == inspect.StatusOK && changed {
		r.violations = append(r.violations, "a")
	}
	if r.repairExit == 0 && r.vAfter.Status != inspect.StatusOK {
		r.violations = append(r.violations, "b")
	}
	if r.vAfter.Status == inspect.StatusOK && !r.after.ok() {
		r.violations = append(r.violations, "c")
	}
	switch {
	case c.like == "purge" && r.before.ok() && !r.before.snapChanged,
		c.like == "crash":
		r.exempted, r.violations = r.violations, nil
	}
	r.falseAlarm = r.vBefore.Status == inspect.StatusError && r.before.ok()
	r.worse = r.before.ok() && !r.after.ok()
	if keep != "" && len(r.violations) > 0 {
		dst := filepath.Join(keep, strings.NewReplacer("/", "_", "#", "_").Replace(c.id))
		_ = os.RemoveAll(dst)
		if err := fixture.CopyDir(damaged, filepath.Join(dst, "damaged")); err != nil {
			r.err = err
		} else if err := fixture.CopyDir(root, filepath.Join(dst, "repaired")); err != nil {
			r.err = err
		}
	}
	return r
}

func verifyRoot(ctx context.Context, root string) (*inspect.GroupReport, error) {
	groups, err := inspect.Discover([]string{root}, inspect.DiscoverOptions{})
	if err != nil {
		return nil, err
	}
	if len(groups) != 1 {
		return nil, fmt.Errorf("%d groups under %s", len(groups), root)
	}
	return inspect.Verify(ctx, groups[0], inspect.VerifyOptions{})
}

// runRepair runs `raftctl repair -o json` in process and summarises what
// it did: the actions by reason, the refusals.
func runRepair(root, backup string) (code int, summary, stderr string) {
	streams, out, errOut := cmd.TestStreams()
	code = cmd.Run(context.Background(), streams, []string{"repair", root, "-o", "json", "--backup-dir", backup})
	var doc struct {
		Groups []struct {
			Rounds []struct {
				Actions []struct {
					Kind   string `json:"kind"`
					Path   string `json:"path"`
					Reason string `json:"reason"`
				} `json:"actions"`
				Refusals []struct {
					Code string `json:"code"`
				} `json:"refusals"`
			} `json:"rounds"`
			Plan *struct {
				Refusals []struct {
					Code string `json:"code"`
				} `json:"refusals"`
			} `json:"plan"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Groups) != 1 {
		return code, "(no JSON report)", repairMessages(errOut.String())
	}
	var acts, refs []string
	g := doc.Groups[0]
	for _, rd := range g.Rounds {
		for _, a := range rd.Actions {
			acts = append(acts, fmt.Sprintf("%s %s (%s)", a.Kind, filepath.Base(a.Path), a.Reason))
		}
		for _, f := range rd.Refusals {
			if !slices.Contains(refs, f.Code) {
				refs = append(refs, f.Code)
			}
		}
	}
	if g.Plan != nil {
		for _, f := range g.Plan.Refusals {
			if !slices.Contains(refs, f.Code) {
				refs = append(refs, f.Code)
			}
		}
	}
	summary = "actions [" + strings.Join(acts, "; ") + "]"
	if len(refs) > 0 {
		summary += " refused [" + strings.Join(refs, ",") + "]"
	}
	return code, summary, repairMessages(errOut.String())
}

// repairMessages drops the plan lines repair prints on stderr, keeping
// its error messages.
func repairMessages(s string) string {
	var keep []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "plan: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "; ")
}

// campaignJudge restarts the group under root with etcd's restart path
// and compares what it holds with what the writer acknowledged.
func campaignJudge(b *campaignBase, root string) campaignTruth {
	var tr campaignTruth
	r, err := fixture.EtcdRestart(b.walDir(root), b.snapDir(root), fixture.RestartOptions{})
	if err != nil {
		tr.refused = err.Error()
		tr.snapChanged = true
		return tr
	}
	tr.r = r
	if r.Fresh {
		for _, e := range b.ack {
			tr.lost = append(tr.lost, e.Index)
		}
		tr.snapChanged = b.pristine.SnapIndex != 0
		return tr
	}
	p := b.pristine
	if p != nil {
		tr.snapChanged = r.SnapIndex != p.SnapIndex || r.SnapTerm != p.SnapTerm || fixture.HashData(r.SnapData) != fixture.HashData(p.SnapData)
	}
	genuine := r.SnapIndex == 0
	if h, ok := b.snapData[fmt.Sprintf("%d-%d", r.SnapTerm, r.SnapIndex)]; ok && h == fixture.HashData(r.SnapData) {
		genuine = true
	}
	for _, e := range b.ack {
		if e.Index <= r.SnapIndex {
			if !genuine || (e.Index == r.SnapIndex && e.Term != r.SnapTerm) {
				tr.lost = append(tr.lost, e.Index)
			}
			continue
		}
		h, ok := r.Entry(e.Index)
		if !ok || h.Term != e.Term || h.Hash != fixture.HashData(e.Data) {
			tr.lost = append(tr.lost, e.Index)
		}
	}
	return tr
}

// compareSegments says whether the damaged group's WAL differs from the
// base's in record bytes (the bytes up to each segment's last record) or in
// its segments (names, sizes).
func compareSegments(b *campaignBase, root string) (records, segments bool, err error) {
	names, err := fixture.WALSegments(b.walDir(root))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, false, err
	}
	if len(names) != len(b.segs) {
		segments = true
	}
	for k, s := range b.segs {
		if k < len(names) && names[k] != s.name {
			segments = true
		}
		p := filepath.Join(b.walDir(root), s.name)
		got, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			segments, records = true, true
			continue
		}
		if err != nil {
			return false, false, err
		}
		if int64(len(got)) != s.size {
			segments = true
		}
		orig, err := os.ReadFile(filepath.Join(b.walDir(b.root), s.name))
		if err != nil {
			return false, false, err
		}
		for _, rec := range s.recs {
			if !sameRecord(got, orig, rec) {
				records = true
				break
			}
		}
	}
	return records, segments, nil
}

// sameRecord tells whether got holds the record orig holds at rec as etcd
// reads it: the same length word (bits 59 to 62 masked, as etcd's decoder
// does) and a record that decodes to the same type, CRC and data. Padding
// bytes are in no CRC and no reader looks at them; a varint that only
// grows past 32 bits decodes to the same CRC.
func sameRecord(got, orig []byte, rec fixture.RecordPos) bool {
	lo, hi := rec.Offset, rec.Offset+8+rec.DataLen
	if int64(len(got)) < hi {
		return false
	}
	const mask = ^(uint64(0x78) << 56)
	if binary.LittleEndian.Uint64(got[lo:])&mask != binary.LittleEndian.Uint64(orig[lo:])&mask {
		return false
	}
	var a, b walpb.Record
	if proto.Unmarshal(got[lo+8:hi], &a) != nil || proto.Unmarshal(orig[lo+8:hi], &b) != nil {
		return false
	}
	return a.GetType() == b.GetType() && a.GetCrc() == b.GetCrc() && bytes.Equal(a.GetData(), b.GetData())
}

// campaignBases writes the undamaged groups: a WriteGroup group with
// snapshots and an overwrite, two nodes of a RaftCluster run (the leader
// with overwritten entries and purges, the learner caught up by a
// snapshot), and an embedded etcd member.
func campaignBases(t *testing.T, dir string) []*campaignBase {
	t.Helper()
	var bases []*campaignBase

	wgDir := filepath.Join(dir, "writegroup")
	wr, err := fixture.WriteGroup(fixture.GroupSpec{Dir: wgDir, Entries: 260, EntrySize: 100, SegmentSize: 8 * 1024,
		SnapshotEvery: 50, Bootstrap: true, Seed: 13, Overwrite: []fixture.Overwrite{{FromIndex: 255, Term: 2, Count: 12}}})
	if err != nil {
		t.Fatal(err)
	}
	bases = append(bases, &campaignBase{name: "writegroup", root: wgDir, walRel: "wal", snapRel: "snap",
		ack: wr.Entries[:wr.HardState.GetCommit()], ackSrc: "WriteGroup"})

	nsDir := filepath.Join(dir, "writegroup-nosnap")
	ns, err := fixture.WriteGroup(fixture.GroupSpec{Dir: nsDir, Entries: 150, EntrySize: 200, SegmentSize: 4 * 1024,
		BatchSize: 5, Term: 3, Seed: 14})
	if err != nil {
		t.Fatal(err)
	}
	bases = append(bases, &campaignBase{name: "writegroup-nosnap", root: nsDir, walRel: "wal", snapRel: "snap",
		ack: ns.Entries[:ns.HardState.GetCommit()], ackSrc: "WriteGroup"})

	cr, err := fixture.RaftCluster(filepath.Join(dir, "cluster"), fixture.ClusterOptions{Groups: 1, Proposals: 16, Seed: 13})
	if err != nil {
		t.Fatal(err)
	}
	g := cr.Groups[0]
	for _, id := range []uint64{1, 2, 4} {
		n, ok := g.Node(id)
		if !ok {
			t.Fatalf("RaftCluster has no node %d", id)
		}
		bases = append(bases, &campaignBase{name: fmt.Sprintf("raft-n%d", id), root: n.Dir, walRel: "wal", snapRel: "snap",
			ack: g.Committed[:n.Applied], ackSrc: "RaftCluster"})
	}

	etcdDir := filepath.Join(dir, "etcd")
	keys := map[string]string{}
	for k := range 300 {
		keys[fmt.Sprintf("/campaign/%03d", k)] = strings.Repeat(string(rune('a'+k%26)), 60+k%50)
	}
	if err := fixture.EmbeddedEtcd(etcdDir, keys, fixture.WithSnapshotCount(60), fixture.WithSnapshotCatchUpEntries(5),
		fixture.WithEtcdSegmentSize(16*1024), fixture.WithMaxFiles(0, 0)); err != nil {
		t.Fatal(err)
	}
	eb := &campaignBase{name: "etcd", root: etcdDir, walRel: "member/wal", snapRel: "member/snap", ackSrc: "the undamaged WAL"}
	if eb.ack, err = walCommitted(eb.walDir(etcdDir)); err != nil {
		t.Fatal(err)
	}
	bases = append(bases, eb)

	for _, b := range bases {
		names, err := fixture.WALSegments(b.walDir(b.root))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			p := filepath.Join(b.walDir(b.root), name)
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := fixture.RecordOffsets(p)
			if err != nil {
				t.Fatal(err)
			}
			s := campaignSeg{name: name, size: st.Size(), recs: recs}
			if len(recs) > 0 {
				s.dataEnd = recs[len(recs)-1].Offset + recs[len(recs)-1].FrameLen
			}
			b.segs = append(b.segs, s)
		}
		if b.snaps, err = fixture.SnapFiles(b.snapDir(b.root)); err != nil {
			t.Fatal(err)
		}
		b.snapData = map[string]uint64{}
		for _, s := range b.snaps {
			sn, err := snap.Read(zap.NewNop(), filepath.Join(b.snapDir(b.root), s))
			if err != nil {
				t.Fatal(err)
			}
			m := sn.GetMetadata()
			b.snapData[fmt.Sprintf("%d-%d", m.GetTerm(), m.GetIndex())] = fixture.HashData(sn.GetData())
		}
		if len(b.segs) < 3 || len(b.ack) == 0 {
			t.Fatalf("base %s: %d segments, %d acknowledged entries: want several of each", b.name, len(b.segs), len(b.ack))
		}
		// The oracle must find every acknowledged entry in the undamaged
		// group, or nothing below means anything.
		tr := campaignJudge(b, b.root)
		if !tr.ok() {
			t.Fatalf("base %s undamaged: %s", b.name, tr)
		}
		b.pristine = tr.r
		if rep, err := verifyRoot(context.Background(), b.root); err != nil || rep.Status != inspect.StatusOK {
			t.Fatalf("base %s undamaged: verify %s, %v", b.name, reportString(rep), err)
		}
		t.Logf("base %s: %d segments, %d .snap files, %d acknowledged entries (%d..%d, from %s), restarts from snapshot %d",
			b.name, len(b.segs), len(b.snaps), len(b.ack), b.ack[0].Index, b.ack[len(b.ack)-1].Index, b.ackSrc, tr.r.SnapIndex)
	}
	return bases
}

// walCommitted is the effective log of the WAL in walDir (overwrites
// resolved) up to its last HardState's commit index.
func walCommitted(walDir string) ([]fixture.EntryRef, error) {
	recs, err := fixture.ReadWALRecords(walDir)
	if err != nil {
		return nil, err
	}
	var log []fixture.EntryRef
	var commit uint64
	for _, r := range recs {
		switch {
		case r.Entry != nil:
			k := len(log)
			for k > 0 && log[k-1].Index >= r.Entry.Index {
				k--
			}
			log = append(log[:k], *r.Entry)
		case r.State != nil:
			commit = r.State.GetCommit()
		}
	}
	k := len(log)
	for k > 0 && log[k-1].Index > commit {
		k--
	}
	return log[:k], nil
}

// campaignCases lists the damages of one base, each with its own random
// stream (seed, base, kind) so that adding a kind shifts no other case.
func campaignCases(b *campaignBase, seed uint64) []*campaignCase {
	var out []*campaignCase
	n := map[string]int{}
	add := func(kind, detail string, apply func(root string) error) {
		n[kind]++
		out = append(out, &campaignCase{id: fmt.Sprintf("%s/%s#%d", b.name, kind, n[kind]), kind: kind, base: b, detail: detail, apply: apply})
	}
	rng := func(kind string) *rand.Rand {
		h := fnv.New64a()
		h.Write([]byte(b.name + "/" + kind))
		return rand.New(rand.NewPCG(seed, h.Sum64()))
	}
	segs := b.segs
	last := len(segs) - 1
	walPath := func(root, name string) string { return filepath.Join(b.walDir(root), name) }
	snapPath := func(root, name string) string { return filepath.Join(b.snapDir(root), name) }
	parse := func(name string) (seq, idx uint64) {
		fmt.Sscanf(name, "%016x-%016x.wal", &seq, &idx)
		return
	}
	walName := func(seq, idx uint64) string { return fmt.Sprintf("%016x-%016x.wal", seq, idx) }
	lastSeq, lastIdx := parse(segs[last].name)

	// Bit flips in record bytes, in every segment.
	r := rng("flip")
	perSeg := max(3, 48/len(segs))
	for _, s := range segs {
		for range perSeg {
			off, bit := r.Int64N(s.dataEnd), r.IntN(8)
			add("flip", fmt.Sprintf("%s offset %d bit %d", s.name, off, bit), func(root string) error {
				return xorByte(walPath(root, s.name), off, 1<<bit)
			})
		}
	}
	// Truncations inside a record, in every segment.
	r = rng("trunc-mid")
	for _, s := range segs {
		for range 3 {
			rec := s.recs[r.IntN(len(s.recs))]
			if rec.FrameLen < 2 {
				continue
			}
			cut := rec.Offset + 1 + r.Int64N(rec.FrameLen-1)
			add("trunc-mid", fmt.Sprintf("%s to %d (inside the record at %d)", s.name, cut, rec.Offset), func(root string) error {
				return fixture.Truncate(walPath(root, s.name), cut)
			})
		}
	}
	// Truncations on a record boundary, in every segment; for the last,
	// also just after its last record (no zero tail) and inside its zero
	// tail (shorter than its preallocation).
	r = rng("trunc-boundary")
	for _, s := range segs {
		if len(s.recs) < 2 {
			continue
		}
		rec := s.recs[r.IntN(len(s.recs)-1)]
		cut := rec.Offset + rec.FrameLen
		add("trunc-boundary", fmt.Sprintf("%s to %d (after the record at %d)", s.name, cut, rec.Offset), func(root string) error {
			return fixture.Truncate(walPath(root, s.name), cut)
		})
	}
	if s := segs[last]; s.dataEnd < s.size {
		add("trunc-tail", fmt.Sprintf("%s to %d (its last record's end: no zero tail)", s.name, s.dataEnd), func(root string) error {
			return fixture.Truncate(walPath(root, s.name), s.dataEnd)
		})
		cut := s.dataEnd + 1 + rng("trunc-tail").Int64N(s.size-s.dataEnd-1)
		add("trunc-tail", fmt.Sprintf("%s to %d (inside its zero tail, preallocated %d)", s.name, cut, s.size), func(root string) error {
			return fixture.Truncate(walPath(root, s.name), cut)
		})
	}
	// Zeroed 512-byte sectors in record bytes.
	r = rng("zero-sector")
	for _, s := range segs {
		for range 3 {
			off := r.Int64N(s.dataEnd) / 512 * 512
			n := min(512, s.size-off)
			add("zero-sector", fmt.Sprintf("%s [%d,%d)", s.name, off, off+n), func(root string) error {
				return fixture.ZeroRange(walPath(root, s.name), off, n)
			})
			// etcd syncs a new segment's opening records before it
			// renames the segment into place: a crash loses only what
			// came after them.
			if s.name == segs[last].name && off+n >= s.dataEnd && len(s.recs) > 2 && off >= s.recs[1].Offset+s.recs[1].FrameLen {
				out[len(out)-1].like = "crash"
			}
		}
	}
	// Deleted segments.
	del := func(k int, what string) {
		s := segs[k]
		add("delete-seg", fmt.Sprintf("%s (%s)", s.name, what), func(root string) error { return os.Remove(walPath(root, s.name)) })
	}
	del(0, "first")
	out[len(out)-1].like = "purge"
	del(1+rng("delete-seg").IntN(len(segs)-2), "middle")
	del(last, "newest")
	add("delete-seg", fmt.Sprintf("%s and %s (the two newest)", segs[last-1].name, segs[last].name), func(root string) error {
		if err := os.Remove(walPath(root, segs[last].name)); err != nil {
			return err
		}
		return os.Remove(walPath(root, segs[last-1].name))
	})
	// Swapped segment names.
	swap := func(i, j int) {
		a, c := segs[i].name, segs[j].name
		add("swap", fmt.Sprintf("%s <-> %s", a, c), func(root string) error {
			tmp := walPath(root, "swap.tmp")
			if err := os.Rename(walPath(root, a), tmp); err != nil {
				return err
			}
			if err := os.Rename(walPath(root, c), walPath(root, a)); err != nil {
				return err
			}
			return os.Rename(tmp, walPath(root, c))
		})
	}
	swap(last-1, last)
	if len(segs) >= 3 {
		i := rng("swap").IntN(len(segs) - 2)
		swap(i, i+1)
	}
	// Duplicated segments.
	dup := func(k int, to, what string) {
		from := segs[k].name
		add("duplicate", fmt.Sprintf("%s copied to %s (%s)", from, to, what), func(root string) error {
			b, err := os.ReadFile(walPath(root, from))
			if err != nil {
				return err
			}
			return os.WriteFile(walPath(root, to), b, 0o600)
		})
	}
	k := rng("duplicate").IntN(last)
	_, ki := parse(segs[k].name)
	dup(k, walName(lastSeq+1, ki), "an older segment again after the newest")
	dup(last, walName(lastSeq+1, lastIdx), "the newest again, next sequence number")
	ks, _ := parse(segs[k].name)
	dup(k, walName(ks, ki+1), "same sequence number, another index")
	// Misnamed segments.
	ren := func(k int, to, what string) {
		from := segs[k].name
		add("misname", fmt.Sprintf("%s renamed %s (%s)", from, to, what), func(root string) error {
			return os.Rename(walPath(root, from), walPath(root, to))
		})
	}
	m := 1 + rng("misname").IntN(len(segs)-2)
	ms, mi := parse(segs[m].name)
	ren(m, walName(ms, mi+1), "index off by one")
	ren(last, fmt.Sprintf("%x-%x.wal", lastSeq, lastIdx), "not zero-padded")
	ren(m, walName(ms+uint64(len(segs))+3, mi), "sequence number jumps")
	if lastIdx > 0 {
		ren(last, walName(lastSeq, lastIdx-1), "newest, index one lower")
	}
	// Garbage after the last record, inside the preallocated zero tail.
	r = rng("garbage-tail")
	s := segs[last]
	tail := s.size - s.dataEnd
	garbage := func(off, n int64, what string, frame bool) {
		if n <= 0 || off < s.dataEnd || off+n > s.size {
			return
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(1 + r.IntN(255))
		}
		if frame && n >= 8 {
			// a plausible length word: a small record, no padding
			data[0], data[1], data[2], data[3], data[4], data[5], data[6], data[7] = byte(n-8), 0, 0, 0, 0, 0, 0, 0
		}
		add("garbage-tail", fmt.Sprintf("%s: %d bytes at %d (%s; last record ends at %d)", s.name, n, off, what, s.dataEnd), func(root string) error {
			f, err := os.OpenFile(walPath(root, s.name), os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			if _, err := f.WriteAt(data, off); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
	}
	garbage(s.dataEnd, 1+r.Int64N(16), "right after the last record", false)
	garbage(s.dataEnd+8+r.Int64N(min(256, tail-64)), 8+r.Int64N(48), "a little after the last record", false)
	if nextSector := (s.dataEnd/512 + 2) * 512; nextSector+512 <= s.size {
		garbage(nextSector, 512, "a whole later sector", false)
	}
	garbage(s.size-1-r.Int64N(64), 1, "near the end of the file", false)
	garbage(s.dataEnd, 8+r.Int64N(40), "a frame with a plausible length word", true)
	garbage(s.dataEnd, min(tail, 1024+r.Int64N(1024)), "a long run", false)
	// Segments of pure random bytes.
	r = rng("random-wal")
	randomFile := func(name string, size int64, what string, create bool) {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		add("random-wal", fmt.Sprintf("%s: %d random bytes (%s)", name, size, what), func(root string) error {
			if !create {
				if _, err := os.Stat(walPath(root, name)); err != nil {
					return err
				}
			}
			return os.WriteFile(walPath(root, name), data, 0o600)
		})
	}
	randomFile(segs[last].name, segs[last].size, "the newest segment replaced", false)
	mid := 1 + r.IntN(len(segs)-2)
	randomFile(segs[mid].name, segs[mid].size, "a middle segment replaced", false)
	randomFile(walName(lastSeq+1, lastIdx+7), segs[last].size, "a new segment after the newest", true)
	// Damaged and deleted .snap files.
	if len(b.snaps) > 0 {
		r = rng("snap")
		newest := b.snaps[len(b.snaps)-1]
		targets := []string{newest}
		if len(b.snaps) > 1 {
			targets = append(targets, b.snaps[r.IntN(len(b.snaps)-1)])
		}
		for k, name := range targets {
			what := map[int]string{0: "newest", 1: "older"}[k]
			st, err := os.Stat(snapPath(b.root, name))
			if err != nil || st.Size() == 0 {
				continue
			}
			off, bit := r.Int64N(st.Size()), r.IntN(8)
			add("snap-damage", fmt.Sprintf("%s (%s): bit %d flipped at %d", name, what, bit, off), func(root string) error {
				return xorByte(snapPath(root, name), off, 1<<bit)
			})
			cut := r.Int64N(st.Size())
			add("snap-damage", fmt.Sprintf("%s (%s): truncated to %d of %d", name, what, cut, st.Size()), func(root string) error {
				return fixture.Truncate(snapPath(root, name), cut)
			})
			add("snap-delete", fmt.Sprintf("%s (%s)", name, what), func(root string) error { return os.Remove(snapPath(root, name)) })
		}
		add("snap-damage", fmt.Sprintf("%s (newest): all zeros", newest), func(root string) error {
			st, err := os.Stat(snapPath(root, newest))
			if err != nil {
				return err
			}
			return fixture.ZeroRange(snapPath(root, newest), 0, st.Size())
		})
		add("snap-delete", "every .snap file", func(root string) error {
			for _, name := range b.snaps {
				if err := os.Remove(snapPath(root, name)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return out
}

func xorByte(path string, off int64, mask byte) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var buf [1]byte
	if _, err := f.ReadAt(buf[:], off); err != nil {
		return err
	}
	buf[0] ^= mask
	if _, err := f.WriteAt(buf[:], off); err != nil {
		return err
	}
	return f.Close()
}
