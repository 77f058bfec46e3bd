package cmd_test

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/raftctl/raftctl/testdata/fixture"
)

func init() { layoutScriptCmds["mkmembers"] = cmdMkMembers }

// The members of the etcd cluster mkmembers writes: IDs above 2^53, as
// etcd's are (jq 1.6 rounds such numbers).
var memberIDs = []uint64{0xbdae9bbc11dd390d, 0x8e9e05c52164694d, 0x91bc3c398fb3c146}

// mkmembers ROOT writes the three members of one etcd cluster as etcd lays
// them out, ROOT/m1/member/{wal,snap} to ROOT/m3/..., with the real wal
// and snap writers (fixture.WriteGroup): the same bootstrap conf change
// adding the three members, then the same entries of term 2, a snapshot
// every 4 committed indexes, the member's own ID in the WAL metadata
// and as its vote. m1 holds 13 entries and commits them all; m2 holds the
// same 13 and has learnt only commit 9; m3 holds 9 and commits 9.
// -entries A,B,C and -commit A,B,C change those numbers.
func cmdMkMembers(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: mkmembers ROOT [-entries A,B,C] [-commit A,B,C]")
	}
	fs := flag.NewFlagSet("mkmembers", flag.ContinueOnError)
	entries := fs.String("entries", "10,10,6", "normal entries per member")
	commit := fs.String("commit", "13,9,9", "HardState commit per member")
	ts.Check(fs.Parse(args[1:]))
	var ne, nc [3]int
	if _, err := fmt.Sscanf(*entries, "%d,%d,%d", &ne[0], &ne[1], &ne[2]); err != nil {
		ts.Fatalf("mkmembers: -entries %q: %v", *entries, err)
	}
	if _, err := fmt.Sscanf(*commit, "%d,%d,%d", &nc[0], &nc[1], &nc[2]); err != nil {
		ts.Fatalf("mkmembers: -commit %q: %v", *commit, err)
	}
	for k, id := range memberIDs {
		_, err := fixture.WriteGroup(fixture.GroupSpec{
			Dir:       filepath.Join(ts.MkAbs(args[0]), fmt.Sprintf("m%d", k+1), "member"),
			Entries:   ne[k],
			Term:      2,
			Voters:    memberIDs,
			NodeID:    id,
			ClusterID: 0xcdf818194e3a8c32,
			Bootstrap: true,
			Commit:    uint64(nc[k]),
			Seed:      7,
			// Snapshots at 4 and 8 on every member, 12 on m1.
			SnapshotEvery: 4,
		})
		ts.Check(err)
	}
}
