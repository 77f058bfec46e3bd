package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/migrate"
	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

// fixture generates a legacy directory with every kind of damage the
// original writer left: rotations (small limit), 0-byte rotated files, equal
// adjacent timestamps, and a torn last record.
func fixture(t testing.TB, records int) *legacytest.Fixture {
	t.Helper()
	fx, err := legacytest.Generate(filepath.Join(t.TempDir(), "m"), legacytest.Config{
		Records: records, Seed: 42, RotateLimit: 32 << 10,
		EqualTSEvery: 5, EmptyRotatedEvery: 4, TornBytes: 21, KeepRecords: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// dirNames lists a directory, hidden entries included.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// The round trip: migrate, read the WAL with etcd's reader, restart a real
// raft node from it, elect it, and apply: the applied entries are exactly the
// legacy records, in order.
func TestCommitlogRoundTrip(t *testing.T) {
	fx := fixture(t, 3000)
	out := filepath.Join(t.TempDir(), "out")
	res, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{
		Source: fx.Dir, Out: out, Name: "g1", SegmentSize: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	group := filepath.Join(out, "g1")
	if res.Output != group || res.Records != 3000 || res.Bytes != fx.Bytes || res.DroppedBytes != 21 ||
		res.FirstIndex != 2 || res.LastIndex != 3001 || res.Term != 1 || res.Data != migrate.DataRecord ||
		res.FirstTS != fx.FirstTS || res.LastTS != fx.LastTS || res.Prefix != "dgraph" {
		t.Fatalf("result %+v", res)
	}
	if res.Segments < 3 || !strings.HasPrefix(res.Checksum, "xxh64:") {
		t.Fatalf("segments %d checksum %q", res.Segments, res.Checksum)
	}
	if res.WarningCounts[commitlog.CodeTornRecord] != 1 || res.WarningCounts[commitlog.CodeEmptyFile] == 0 {
		t.Fatalf("warnings %v", res.WarningCounts)
	}
	if got := dirNames(t, out); !slices.Equal(got, []string{"g1"}) {
		t.Fatalf("out holds %v", got)
	}
	if got := dirNames(t, group); !slices.Equal(got, []string{"snap", "wal"}) {
		t.Fatalf("group holds %v", got)
	}
	var total int64
	for _, f := range res.Files {
		total += f.Records
	}
	if total != 3000 || len(res.Files) != len(dirNames(t, fx.Dir)) {
		t.Fatalf("file stats %+v", res.Files)
	}

	st, ents := readGroup(t, group)
	if st.GetTerm() != 1 || st.GetCommit() != 3001 || st.GetVote() != 0 || len(ents) != 3001 {
		t.Fatalf("HardState %v, %d entries", st, len(ents))
	}
	// The bootstrap entry is what raft's bootstrap writes for peer 1.
	var cc raftpb.ConfChange
	if err := proto.Unmarshal(ents[0].GetData(), &cc); err != nil {
		t.Fatal(err)
	}
	if ents[0].GetType() != raftpb.EntryConfChange || ents[0].GetTerm() != 1 || ents[0].GetIndex() != 1 ||
		cc.GetType() != raftpb.ConfChangeAddNode || cc.GetNodeId() != 1 {
		t.Fatalf("bootstrap entry %v (%v)", ents[0], &cc)
	}
	for i, e := range ents[1:] {
		if e.GetType() != raftpb.EntryNormal || e.GetTerm() != 1 || e.GetIndex() != uint64(i+2) || !bytes.Equal(e.GetData(), fx.Records[i]) {
			t.Fatalf("entry %d: %v", i+2, e)
		}
	}

	n := restartNode(t, 1, st, ents)
	n.process()
	if n.appliedTo != 3001 || len(n.conf.GetVoters()) != 1 {
		t.Fatalf("applied to %d, conf %v", n.appliedTo, n.conf)
	}
	if err := n.rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	n.process()
	if s := n.rn.Status(); s.RaftState != raft.StateLeader || s.GetTerm() != 2 {
		t.Fatalf("after campaign: %v term %d", s.RaftState, s.GetTerm())
	}
	if n.appliedTo != 3002 { // the new leader's empty entry
		t.Fatalf("applied to %d", n.appliedTo)
	}
	if len(n.applied) != len(fx.Records) {
		t.Fatalf("applied %d entries, want %d", len(n.applied), len(fx.Records))
	}
	for i := range fx.Records {
		if !bytes.Equal(n.applied[i], fx.Records[i]) {
			t.Fatalf("applied entry %d differs from legacy record %d", i, i)
		}
	}
	// A proposal after the restart commits after the legacy entries.
	if err := n.rn.Propose([]byte("new")); err != nil {
		t.Fatal(err)
	}
	n.process()
	if n.appliedTo != 3003 || string(n.applied[len(n.applied)-1]) != "new" {
		t.Fatalf("proposal applied to %d", n.appliedTo)
	}
}

// Three members: every member restarts from a copy of the same directory,
// elects a leader at term Term+1 and applies exactly the legacy records.
func TestCommitlogThreeMembers(t *testing.T) {
	fx := fixture(t, 500)
	out := t.TempDir()
	res, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{
		Source: fx.Dir, Out: out, Name: "g", Members: []uint64{3, 1, 2}, Term: 5, Data: migrate.DataPayload,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstIndex != 4 || res.LastIndex != 503 || res.Term != 5 || !slices.Equal(res.Members, []uint64{3, 1, 2}) {
		t.Fatalf("result %+v", res)
	}
	st, ents := readGroup(t, res.Output)
	if st.GetTerm() != 5 || st.GetCommit() != 503 || len(ents) != 503 {
		t.Fatalf("HardState %v, %d entries", st, len(ents))
	}
	for i, id := range []uint64{3, 1, 2} {
		var cc raftpb.ConfChange
		if err := proto.Unmarshal(ents[i].GetData(), &cc); err != nil || cc.GetNodeId() != id || ents[i].GetTerm() != 1 {
			t.Fatalf("bootstrap entry %d: %v %v", i, &cc, err)
		}
	}
	for i, e := range ents[3:] {
		// Payload mode: the flatbuffer only.
		if e.GetTerm() != 5 || !bytes.Equal(e.GetData(), fx.Records[i][commitlog.HeaderSize:]) {
			t.Fatalf("entry %d: %v", e.GetIndex(), e)
		}
	}
	var nodes []*node
	for _, id := range []uint64{1, 2, 3} {
		nodes = append(nodes, restartNode(t, id, st, ents))
	}
	campaigned := false
	runCluster(t, nodes, func() bool {
		if !campaigned && nodes[0].conf != nil && len(nodes[0].conf.GetVoters()) == 3 {
			campaigned = true
			if err := nodes[0].rn.Campaign(); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range nodes {
			if n.appliedTo < 504 {
				return false
			}
		}
		return true
	})
	if s := nodes[0].rn.Status(); s.RaftState != raft.StateLeader || s.GetTerm() != 6 {
		t.Fatalf("node 1: %v at term %d", s.RaftState, s.GetTerm())
	}
	for _, n := range nodes {
		if len(n.applied) != 500 {
			t.Fatalf("node %d applied %d entries", n.id, len(n.applied))
		}
		for i := range n.applied {
			if !bytes.Equal(n.applied[i], fx.Records[i][commitlog.HeaderSize:]) {
				t.Fatalf("node %d: entry %d differs", n.id, i)
			}
		}
	}
}

// A source with only an empty current file becomes a group with only the
// bootstrap, which restarts and elects itself.
func TestCommitlogEmptySource(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "dgraph-current.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: src, Out: t.TempDir(), Name: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 0 || res.LastIndex != 1 || res.Segments != 1 {
		t.Fatalf("result %+v", res)
	}
	st, ents := readGroup(t, res.Output)
	n := restartNode(t, 1, st, ents)
	n.process()
	if err := n.rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	n.process()
	if n.rn.Status().RaftState != raft.StateLeader || len(n.applied) != 0 {
		t.Fatalf("%v, applied %d", n.rn.Status().RaftState, len(n.applied))
	}
}

// The spec's golden record migrates to one entry holding exactly its bytes.
func TestCommitlogGoldenRecord(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "dgraph-current.log"), legacytest.GoldenRecord(), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []commitlog.Posting
	res, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{
		Source: src, Out: t.TempDir(), Name: "g",
		OnRecord: func(_ commitlog.Record, p commitlog.Posting) error { got = append(got, p); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, ents := readGroup(t, res.Output)
	if len(ents) != 2 || !bytes.Equal(ents[1].GetData(), legacytest.GoldenRecord()) {
		t.Fatalf("entries %v", ents)
	}
	if len(got) != 1 || got[0].UID != 42 || got[0].Op != commitlog.OpSet || res.FirstTS != legacytest.GoldenTS {
		t.Fatalf("postings %+v, result %+v", got, res)
	}
}

// A dry run reads and decodes everything, reports what a real run would,
// streams every record, and writes nothing.
func TestCommitlogDryRun(t *testing.T) {
	fx := fixture(t, 1200)
	out := filepath.Join(t.TempDir(), "out")
	var recs [][]byte
	var posts []commitlog.Posting
	dry, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{
		Source: fx.Dir, Out: out, Name: "g", DryRun: true,
		OnRecord: func(r commitlog.Record, p commitlog.Posting) error {
			recs = append(recs, bytes.Clone(r.Raw))
			p.Value = bytes.Clone(p.Value)
			posts = append(posts, p)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dry run created %s: %v", out, err)
	}
	if !dry.DryRun || dry.Segments != 0 || len(recs) != 1200 {
		t.Fatalf("result %+v, %d records streamed", dry, len(recs))
	}
	for i := range recs {
		if !bytes.Equal(recs[i], fx.Records[i]) {
			t.Fatalf("record %d differs", i)
		}
		want, _ := commitlog.DecodePosting(fx.Records[i][commitlog.HeaderSize:])
		if posts[i].UID != want.UID || !bytes.Equal(posts[i].Value, want.Value) || posts[i].TS != want.TS {
			t.Fatalf("posting %d: %+v, want %+v", i, posts[i], want)
		}
	}
	// Without Out and Name too.
	if _, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	real, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, Out: out, Name: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if real.Checksum != dry.Checksum || real.LastIndex != dry.LastIndex || real.Records != dry.Records || real.DroppedBytes != dry.DroppedBytes {
		t.Fatalf("dry %+v\nreal %+v", dry, real)
	}
	// Now the output exists: a dry run says so as the real run would.
	if _, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, Out: out, Name: "g", DryRun: true}); !errors.Is(err, migrate.ErrExists) {
		t.Fatalf("dry run onto existing output: %v", err)
	}
}

func TestCommitlogExistingOutput(t *testing.T) {
	fx := fixture(t, 50)
	for _, kind := range []string{"empty dir", "file", "group"} {
		t.Run(kind, func(t *testing.T) {
			out := t.TempDir()
			target := filepath.Join(out, "g")
			switch kind {
			case "empty dir":
				os.Mkdir(target, 0o755)
			case "file":
				os.WriteFile(target, []byte("x"), 0o644)
			case "group":
				if _, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, Out: out, Name: "g"}); err != nil {
					t.Fatal(err)
				}
			}
			before := dirNames(t, target)
			if kind == "file" {
				before = []string{"file"}
			}
			_, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, Out: out, Name: "g"})
			if !errors.Is(err, migrate.ErrExists) || !strings.Contains(err.Error(), target) {
				t.Fatalf("err %v", err)
			}
			if got := dirNames(t, out); !slices.Equal(got, []string{"g"}) {
				t.Fatalf("out holds %v", got)
			}
			got := dirNames(t, target)
			if b, err := os.ReadFile(target); err == nil && string(b) == "x" {
				got = []string{"file"}
			}
			if !slices.Equal(got, before) {
				t.Fatalf("target changed: %v -> %v", before, got)
			}
		})
	}
}

func TestCommitlogStrict(t *testing.T) {
	fx := fixture(t, 100)
	out := t.TempDir()
	_, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, Out: out, Name: "g", Strict: true})
	var ce *commitlog.CorruptError
	if !errors.Is(err, commitlog.ErrTorn) || !errors.As(err, &ce) || !strings.Contains(err.Error(), "dgraph-current.log") {
		t.Fatalf("err %v", err)
	}
	if got := dirNames(t, out); len(got) != 0 {
		t.Fatalf("out holds %v", got)
	}
	// Without the torn tail, strict succeeds.
	src := t.TempDir()
	w, _ := legacytest.NewWriter(src, legacytest.Options{})
	for i := range 10 {
		w.Append(legacytest.GoldenTS+int64(i), 1, legacytest.EncodePosting(commitlog.Posting{UID: 1, Op: commitlog.OpSet}))
	}
	w.Close()
	if res, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: src, Out: out, Name: "g", Strict: true}); err != nil || res.Records != 10 {
		t.Fatalf("%v %+v", err, res)
	}
}

// Corrupt data before the end of the log fails the migration, naming the
// file and offset, and leaves nothing behind.
func TestCommitlogCorruptSource(t *testing.T) {
	src := t.TempDir()
	rec := legacytest.GoldenRecord()
	bad := bytes.Clone(rec)
	copy(bad[12:16], []byte{0xff, 0xff, 0xff, 0xff}) // size -1
	name := commitlog.RotatedName("dgraph", legacytest.GoldenTS)
	os.WriteFile(filepath.Join(src, name), append(bytes.Clone(rec), bad...), 0o644)
	os.WriteFile(filepath.Join(src, "dgraph-current.log"), rec, 0o644)
	out := filepath.Join(t.TempDir(), "new")
	_, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: src, Out: out, Name: "g"})
	if !errors.Is(err, commitlog.ErrCorrupt) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "offset 80") {
		t.Fatalf("err %v", err)
	}
	// The output directory it created is gone too.
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("out left behind: %v", err)
	}
}

func TestCommitlogUnreadableSource(t *testing.T) {
	fx := fixture(t, 20)
	cases := []struct {
		name  string
		setup func(t *testing.T) (src, out string)
		is    error
	}{
		{"missing source", func(t *testing.T) (string, string) {
			return filepath.Join(t.TempDir(), "nope"), t.TempDir()
		}, os.ErrNotExist},
		{"source is a file", func(t *testing.T) (string, string) {
			f := filepath.Join(t.TempDir(), "f")
			os.WriteFile(f, nil, 0o644)
			return f, t.TempDir()
		}, nil},
		{"log file links to a directory", func(t *testing.T) (string, string) {
			src := t.TempDir()
			os.Symlink(t.TempDir(), filepath.Join(src, "dgraph-current.log"))
			return src, t.TempDir()
		}, nil},
		{"log file is a dangling link", func(t *testing.T) (string, string) {
			src := t.TempDir()
			os.Symlink(filepath.Join(src, "nowhere"), filepath.Join(src, "dgraph-current.log"))
			return src, t.TempDir()
		}, os.ErrNotExist},
		{"out is a file", func(t *testing.T) (string, string) {
			f := filepath.Join(t.TempDir(), "f")
			os.WriteFile(f, nil, 0o644)
			return fx.Dir, f
		}, nil},
		{"out below a file", func(t *testing.T) (string, string) {
			f := filepath.Join(t.TempDir(), "f")
			os.WriteFile(f, nil, 0o644)
			return fx.Dir, filepath.Join(f, "out")
		}, nil},
		{"unreadable log file", func(t *testing.T) (string, string) {
			if os.Geteuid() == 0 {
				t.Skip("running as root: permissions are not enforced")
			}
			src := t.TempDir()
			p := filepath.Join(src, "dgraph-current.log")
			os.WriteFile(p, legacytest.GoldenRecord(), 0o000)
			return src, t.TempDir()
		}, os.ErrPermission},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, out := c.setup(t)
			var before []string
			if fi, err := os.Stat(out); err == nil && fi.IsDir() {
				before = dirNames(t, out)
			}
			_, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: src, Out: out, Name: "g"})
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("err %v, want %v", err, c.is)
			}
			if errors.Is(err, migrate.ErrExists) || errors.Is(err, migrate.ErrInvalidOptions) {
				t.Fatalf("err %v: not an I/O error", err)
			}
			if fi, err := os.Stat(out); err == nil && fi.IsDir() {
				if got := dirNames(t, out); !slices.Equal(got, before) {
					t.Fatalf("out holds %v", got)
				}
			}
		})
	}
}

func TestCommitlogInvalidOptions(t *testing.T) {
	fx := fixture(t, 5)
	out := t.TempDir()
	for _, o := range []migrate.CommitlogOptions{
		{Out: out, Name: "g"},
		{Source: fx.Dir, Name: "g"},
		{Source: fx.Dir, Out: out},
		{Source: fx.Dir, Out: out, Name: "a/b"},
		{Source: fx.Dir, Out: out, Name: ".."},
		{Source: fx.Dir, Out: out, Name: ".hidden"},
		{Source: fx.Dir, Out: out, DryRun: true},
		{Source: fx.Dir, Out: out, Name: "g", Members: []uint64{1, 2, 1}},
		{Source: fx.Dir, Out: out, Name: "g", Members: []uint64{0}},
		{Source: fx.Dir, Out: out, Name: "g", Data: "json"},
		{Source: fx.Dir, Out: out, Name: "g", SegmentSize: 100},
	} {
		if _, err := migrate.Commitlog(context.Background(), o); !errors.Is(err, migrate.ErrInvalidOptions) {
			t.Errorf("%+v: err %v", o, err)
		}
	}
	if got := dirNames(t, out); len(got) != 0 {
		t.Fatalf("out holds %v", got)
	}
}

// Cancellation at any point leaves nothing behind.
func TestCommitlogCancel(t *testing.T) {
	fx := fixture(t, 3000)
	for _, at := range []int{1, 1500, 3000} {
		out := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		_, err := migrate.Commitlog(ctx, migrate.CommitlogOptions{
			Source: fx.Dir, Out: out, Name: "g", SegmentSize: 64 << 10,
			OnRecord: func(commitlog.Record, commitlog.Posting) error {
				if n++; n == at {
					cancel()
				}
				return nil
			},
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancel at %d: err %v", at, err)
		}
		if got := dirNames(t, out); len(got) != 0 {
			t.Fatalf("cancel at %d: out holds %v", at, got)
		}
	}
	// Already cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	if _, err := migrate.Commitlog(ctx, migrate.CommitlogOptions{Source: fx.Dir, Out: out, Name: "g"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestCommitlogOnRecordError(t *testing.T) {
	fx := fixture(t, 100)
	out := t.TempDir()
	boom := errors.New("boom")
	_, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{
		Source: fx.Dir, Out: out, Name: "g",
		OnRecord: func(r commitlog.Record, _ commitlog.Posting) error {
			if r.Offset > 1000 {
				return boom
			}
			return nil
		},
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if got := dirNames(t, out); len(got) != 0 {
		t.Fatalf("out holds %v", got)
	}
}

// Progress is called on the caller's goroutine, with non-decreasing values,
// and last with the totals.
func TestCommitlogProgress(t *testing.T) {
	fx := fixture(t, 2000)
	for _, dry := range []bool{false, true} {
		var mu sync.Mutex
		var calls [][2]int64
		res, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{
			Source: fx.Dir, Out: t.TempDir(), Name: "g", DryRun: dry,
			Progress: func(b, r int64) {
				mu.Lock()
				calls = append(calls, [2]int64{b, r})
				mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) == 0 {
			t.Fatal("Progress never called")
		}
		for i := 1; i < len(calls); i++ {
			if calls[i][0] < calls[i-1][0] || calls[i][1] < calls[i-1][1] {
				t.Fatalf("progress went back: %v", calls)
			}
		}
		last := calls[len(calls)-1]
		if last[0] != res.Bytes+res.DroppedBytes || last[1] != res.Records {
			t.Fatalf("dry %v: last progress %v, result %d+%d bytes %d records", dry, last, res.Bytes, res.DroppedBytes, res.Records)
		}
	}
}

// Segments are cut near the requested size and the read back passes with
// many of them.
func TestCommitlogSegmentSize(t *testing.T) {
	fx := fixture(t, 4000)
	out := t.TempDir()
	const size = 32 << 10
	res, err := migrate.Commitlog(context.Background(), migrate.CommitlogOptions{Source: fx.Dir, Out: out, Name: "g", SegmentSize: size})
	if err != nil {
		t.Fatal(err)
	}
	walDir := filepath.Join(res.Output, "wal")
	names := dirNames(t, walDir)
	if len(names) != res.Segments || res.Segments < 8 {
		t.Fatalf("wal holds %v, result says %d segments", names, res.Segments)
	}
	for _, n := range names[:len(names)-1] {
		fi, err := os.Stat(filepath.Join(walDir, n))
		if err != nil {
			t.Fatal(err)
		}
		// Cut between batches of at most max(size/16, 16 KiB) of data plus
		// WAL framing.
		if fi.Size() < size || fi.Size() > size+2*(16<<10) {
			t.Errorf("segment %s: %d bytes for a %d-byte segment size", n, fi.Size(), size)
		}
	}
}
