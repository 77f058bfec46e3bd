// Package repair is the only part of raftctl that changes a Raft group's
// files: it mends what verification found (repair) and drops what the
// newest snapshot made redundant (compaction). It never prints and never
// exits; the command turns its plans, results and errors into output and
// exit codes.
//
// # Safety protocol
//
// Every change goes through the same steps:
//
//  1. Refuse a live WAL. Every segment is locked with both an OFD fcntl
//     write lock (F_OFD_SETLK, what etcd's fileutil.TryLockFile takes on
//     Linux) and flock(LOCK_EX|LOCK_NB) before anything is read for a
//     plan, and held for the whole of Apply (Repair and Compact verify,
//     plan and apply under one lock, reading the segments once, through
//     its descriptors). A lock held by anyone else is a *LockedError
//     naming the file.
//  2. Plan, then act. PlanRepair and PlanCompact return a Plan: plain,
//     JSON-serialisable data listing Actions (truncate, remove,
//     quarantine, rename, replace) and Refusals (what cannot be mended
//     offline without losing data, with advice). A dry run is the plan.
//     Apply checks the plan's fingerprint of what it was read from
//     (segment names, inode, size and modification time of every file
//     read) under its own locks and refuses with *StaleError if the group
//     changed in between (see checkFresh for the two cases it plans again
//     to compare).
//  3. Back up first. Every file an action changes, moves or removes goes
//     into a backup directory, by default
//     <group>/.raftctl-backup/<UTC timestamp>/ (fsynced): a file the action
//     removes or replaces whole is hard-linked there (moved, no byte
//     copied; copied where no link can be made), a file that stays in the
//     group is copied with its mode; then a manifest.json with
//     relative paths, sizes, modes and SHA-256 sums is written last
//     (write-aside and rename). Restore puts the group back from it.
//  4. Write aside, then rename. New content goes into a temporary file in
//     the target's directory, is fsynced and renamed over the old file;
//     the directory is fsynced (durable.WriteAside: the toolkit shared
//     with migrate, whose doc comment holds the crash-safety argument). A crash leaves each file old or new, and
//     the actions of a plan are ordered so that any prefix of them is a
//     readable group.
//  5. Touch only what discovery classified (segments listed by
//     inspect.ListSegments, *.snap files listed by inspect.ListSnapFiles),
//     never through a symbolic link.
//
// # Design decisions
//
// Torn tail: like etcd's wal.Repair the last segment is cut after its last
// complete record, but the file keeps its size: bytes from there to the
// end are zeros, which etcd reads as the end of the log. This is the state
// etcd's own ReadAll leaves behind when it opens a WAL for writing
// (fileutil.ZeroToEnd: truncate, then fallocate back to the old length),
// so the segment stays preallocated and a later append does not have to
// grow the file. A torn tail is refused when a zeroed-region finding says
// valid records follow a zeroed region (truncating would drop them).
//
// Quarantine: a corrupt snapshot file is renamed to <name>.broken in place,
// exactly as etcd's Snapshotter does when it meets one; an orphan snapshot
// (no WAL snapshot record refers to it) to <name>.orphan. Both names are
// ignored by etcd, the rename is atomic and moves no data, and the backup
// holds a copy as well.
//
// Directory swap (compact --rewrite): the new WAL is written with etcd's
// own wal package into a hidden sibling directory, fsynced, locked, backed
// up in the manifest as created files, and then exchanged with the live
// WAL directory in one renameat2(RENAME_EXCHANGE) call, followed by an
// fsync of the parent. There is no instant at which the group has no WAL
// or a mixture of both. Where the file system cannot exchange atomically,
// the rewrite fails before changing anything. The swapped-out directory is
// removed afterwards; its files are in the backup. A rewrite is refused
// when etcd's ReadAll would not read exactly the entries it writes (an
// overwrite at or below the snapshot leaves superseded entries in what
// etcd loads) and when the WAL directory holds anything but segments.
//
// Rewritten segments are named as etcd's purge would have left them
// (the first takes the sequence number of the old segment the snapshot is
// read from and is named for the snapshot's index), so that snapshot files
// older than the new WAL do not look like orphans.
//
// # Backups and restore
//
// Restore undoes an operation's actions in reverse order, each one atomic,
// so that every prefix of a restore is a state some prefix of the
// operation could have left; an interrupted restore is completed by
// running it again. It refuses (*ChangedError) when a file holds neither
// what the operation found nor what it left, or a segment or snapshot file
// appeared since (a member ran and wrote to the group), unless forced.
//
// # Crash-safety test hook
//
// ApplyOptions.FaultAfter and RestoreOptions.FaultAfter make Apply and
// RestoreWith kill their own process with SIGKILL right after their Nth
// filesystem step (Result.Steps counts them). The library never reads the
// environment: the command sets the field from RAFTCTL_FAULT_AFTER.
//
// # Limitations
//
//   - Some conditions show only once others are mended (for example a torn
//     record in a segment that sorts before a misnamed one): run verify
//     and repair again until verify is clean. Plans say so in their notes.
//   - Plans take verification findings as input and check each against
//     the files; a torn tail is truncated only on a torn-tail finding (or
//     a segment-truncated one that removing trailing empty segments turns
//     into a torn tail), never on the planner's own reading alone, and
//     zeroed regions are detected by verification, not here.
//   - A crash may leave hidden .raftctl-* temporary files or a staging
//     directory next to the WAL; etcd and discovery ignore them, and
//     Restore of that backup removes them.
//   - Restoring a rewrite swaps the WAL directory back atomically; other
//     files are restored one by one (each atomically).
//   - Locks are taken on segments only (as etcd does), never on snapshot
//     files, and only on Unix.
//   - CompactOptions.SegmentSize sets the process-wide
//     wal.SegmentSizeBytes while a WAL is rewritten, under the module's
//     one guard (durable.WithSegmentSize).
package repair
