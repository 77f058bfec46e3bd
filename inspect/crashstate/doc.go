// Package crashstate is the crash-state suite (tests only), in the spirit
// of ALICE (OSDI 2014) and CrashMonkey (OSDI 2018).
//
// # The writer
//
// fixture.RaftCluster runs one raft group of four real raft.RawNodes whose
// storage goes through etcd's wal and snap packages with fsync (4 KiB
// segments, so WALs are cut; snapshots every few applied entries; purges of
// released segments and old .snap files; a partitioned leader whose
// entries the next leader overwrites; a follower whose log is replaced by
// a snapshot from the leader). After each Ready a node persisted, the
// writer prints "ACK node=... commit=... term=... vote=... last=..." on
// stderr. The test re-executes its own binary as the writer (TestMain)
// under strace -f -xx, once per writer (writers): etcd as of v3.7, and the
// same without the WAL sync after a received snapshot (etcd before the fix
// of issue 10219), which can lose what it acknowledged.
//
// # The crash model
//
// The trace is resolved into operations on inodes (trace_test.go) and
// replayed (model_test.go) with these rules, modelled on ext4 in its
// default data=ordered mode (one journal for all metadata):
//
//   - data (write, pwrite, ftruncate, fallocate) reaches the disk when the
//     file is fsynced or fdatasynced after it; until then any subset of
//     the pending data operations may have reached it, and a write may be
//     torn at 512-byte sector boundaries;
//   - namespace operations (create, mkdir, rename, unlink) are journaled
//     in order: at a crash, those before the last journal commit are on
//     disk, and of the later ones a prefix. An fsync of any file or
//     directory commits the journal, and so does an fdatasync of a file
//     whose size changed; an fdatasync that only overwrote data inside
//     the file does not. The model is more permissive than ext4 in one
//     respect: it does not flush pending data with a journal commit.
//
// At every crash point (after each operation on one node's files, and
// after each of its ACKs) the suite builds, for that node, the state where
// everything issued reached the disk ("all"), only the durable state
// ("durable"), each prefix of the pending namespace operations ("ns<j>",
// data all written), each single pending data operation dropped
// ("drop<i>"), the last pending write torn after its first, middle and
// last sector boundary ("torn<s>") and the same write with its middle
// sector missing ("hole"). States before the node's first WAL existed
// (etcd would bootstrap a new member) are skipped.
//
// # Truth and verdict
//
// The truth of a state is fixture.EtcdRestart (etcd's own restart path on
// a copy) plus the node's last ACK before the crash point: the state is
// bad when the restart is refused or panics, or when an entry up to the
// acknowledged commit index is neither covered by the restored snapshot
// nor restored with the committed term and data, or the restored term or
// vote is older than the acknowledged ones. raftctl's verdict is
// inspect.Verify (default and deep mode) on the state: "ok" or "warning"
// is right for a good state, "error" for a bad one.
//
// # Running
//
// The summary line reads "crash states: N classified ..., X misclassified";
// each misclassified state is listed with its id (<writer>.n<node>-k<op
// index>-<variant>), its truth and raftctl's findings. For the etcd
// writer, missed losses always fail the test and other misclassifications
// only with RAFTCTL_CRASH_STRICT set. The etcd10219 writer is diagnostic:
// it must leave states that lose what it acknowledged (the truth is
// checked to find them), but its misclassifications are only reported,
// since its bytes after an acknowledgement can equal those of a harmless
// crash under etcd's protocol (such states are counted as ambiguous). RAFTCTL_CRASH_KEEP=<dir> writes the traces and
// every misclassified state (<dir>/<id>/{wal,snap,TRUTH}); with
// RAFTCTL_CRASH_TRACE=<that dir> and RAFTCTL_CRASH_STATE=<id>[,<id>...] a
// run classifies only those states of the kept traces and prints their
// details. -short classifies every fourth crash point.
package crashstate
