// Command raftctl inspects, verifies, repairs, compacts and migrates Raft
// storage offline.
package main

import (
	"os"

	"github.com/raftctl/raftctl/cmd"
)

func main() { os.Exit(cmd.Main()) }
