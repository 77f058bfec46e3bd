package cmd_test

import (
	"flag"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// layoutScriptCmds are the script commands that write the layouts of real
// systems with the real wal and snap packages.
var layoutScriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"mklayout": cmdMkLayout,
	"mketcd":   cmdMkEtcd,
}

// mklayout LAYOUT ROOT [-snapshot N] [-channel NAME] [-node HEX] writes a
// group as etcd, k3s, fabric or swarmkit lays it out under ROOT.
func cmdMkLayout(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: mklayout etcd|k3s|fabric|swarmkit ROOT [-snapshot N] [-channel NAME] [-node HEX]")
	}
	fs := flag.NewFlagSet("mklayout", flag.ContinueOnError)
	snapAt := fs.Uint64("snapshot", 0, "")
	channel := fs.String("channel", "", "")
	node := fs.Uint64("node", 0, "")
	ts.Check(fs.Parse(args[2:]))
	_, err := fixture.WriteLayout(fixture.LayoutSpec{Layout: args[0], Root: ts.MkAbs(args[1]), SnapshotAt: *snapAt,
		Channel: *channel, NodeID: *node})
	ts.Check(err)
}

// mketcd DIR runs an embedded etcd server (loopback only) on DIR and puts
// a few keys.
func cmdMkEtcd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: mketcd DIR")
	}
	keys := map[string]string{"/app/a": "alpha", "/app/b": "bravo", "/app/c": "charlie"}
	ts.Check(fixture.EmbeddedEtcd(ts.MkAbs(args[0]), keys))
}
