// Package inspect reads Raft storage written by etcd's wal and snap packages
// without changing a byte: it discovers groups under a path, scans WAL
// segments with a fast streaming decoder, resolves the effective log, reads
// snapshot files and verifies that all of them agree.
//
// inspect never writes, locks, prints or exits. It is the only package of
// raftctl that speaks etcd's WAL framing and raftpb; callers see raftctl's
// own types with explicit json tags.
//
// Callers read through typed streams, never record bytes: ReadLog (one
// pass: the Log), EffectiveEntries (the effective log in index order),
// WalkRaw (every record as written, decoded) and, for writers that hand
// entries and snapshot records back to etcd's wal package unchanged,
// Record.RaftEntry and WALSnapshot.RaftConfState. The repository's
// TestImportRules fails when cmd, repair or migrate decode records
// themselves.
package inspect
