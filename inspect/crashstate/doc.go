// Package crashstate holds the crash-state suite (tests only; see
// crash_test.go): a real writer is recorded under strace, every state a
// crash could leave on disk is rebuilt from the recorded operations, and
// raftctl's verdict on each one is checked against etcd's restart.
package crashstate
