// Command raftctl inspects, verifies, repairs, compacts and migrates Raft storage offline.
package main

func main() {}
