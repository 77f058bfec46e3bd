package crashstate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// envWriter makes the test binary run the writer instead of the tests: its
// value is the output directory (the storage goes to <dir>/data, the
// committed log to <dir>/result.json).
const envWriter = "RAFTCTL_CRASH_WRITER_DIR"

// envWriterName selects the writer (see writers).
const envWriterName = "RAFTCTL_CRASH_WRITER"

// writers are the recorded writers: etcd's behaviour as of v3.7, and the
// same without the WAL sync after a received snapshot (etcd before the
// fix of issue 10219), whose crash states include real losses.
var writers = []string{"etcd", "etcd10219"}

func TestMain(m *testing.M) {
	if dir := os.Getenv(envWriter); dir != "" {
		if err := runWriter(os.Getenv(envWriterName), dir); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writerOptions is the scenario: one raft group of four nodes (see
// fixture.RaftCluster: bootstrap, a node added and caught up by a snapshot,
// a joint-consensus demotion, a partitioned leader whose entries are
// overwritten by the new leader, and with LaggardSnapshot a follower whose
// log is replaced by a snapshot), persisted with fsync, 4 KiB segments so
// that every WAL is cut several times, a snapshot every 8 applied entries
// and purges keeping 4 segments and 3 .snap files.
func writerOptions(name string) fixture.ClusterOptions {
	return fixture.ClusterOptions{
		Groups:          1,
		Proposals:       20,
		EntrySize:       200,
		SegmentSize:     4 * 1024,
		SnapshotEvery:   8,
		MaxWALFiles:     4,
		MaxSnapFiles:    3,
		Seed:            13,
		Fsync:           true,
		LaggardSnapshot: true,
		NoSnapshotSync:  name == "etcd10219",
	}
}

// writerResult is what the writer reports besides its trace.
type writerResult struct {
	// Root is the directory the storage was written to (the paths of
	// the trace are under it).
	Root  string   `json:"root"`
	Nodes []uint64 `json:"nodes"`
	// Committed[i] is the committed entry at index i+1.
	Committed []committedEntry `json:"committed"`
}

type committedEntry struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	Hash  uint64 `json:"hash"`
}

// runWriter runs the scenario, printing an ACK marker on stderr after each
// Ready a node persisted (one write(2) per line, so that strace records it
// in order with the file operations).
func runWriter(name, out string) error {
	if !slices.Contains(writers, name) {
		return fmt.Errorf("unknown writer %q", name)
	}
	opts := writerOptions(name)
	opts.OnPersisted = func(p fixture.Persisted) {
		a := ack{node: p.Node, commit: p.Commit, term: p.Term, vote: p.Vote, last: p.LastIndex, lastTerm: p.LastTerm, snap: p.SnapIndex}
		fmt.Fprintln(os.Stderr, a.String())
	}
	root, err := filepath.Abs(filepath.Join(out, "data"))
	if err != nil {
		return err
	}
	res, err := fixture.RaftCluster(root, opts)
	if err != nil {
		return err
	}
	g := res.Groups[0]
	wr := writerResult{Root: root}
	for _, n := range g.Nodes {
		wr.Nodes = append(wr.Nodes, n.ID)
	}
	for _, e := range g.Committed {
		wr.Committed = append(wr.Committed, committedEntry{Index: e.Index, Term: e.Term, Hash: fixture.HashData(e.Data)})
	}
	b, err := json.Marshal(wr)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "result.json"), b, 0o644)
}
