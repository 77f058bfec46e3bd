// Package durable is raftctl's one toolkit for changing files so that a
// crash at any instant leaves either the old state or the new one, never a
// mixture: write aside, fsync, rename (with or without replacing), exchange
// two directories, fsync the directory. It also holds the single guard
// around etcd's process-wide wal.SegmentSizeBytes. repair, migrate and the
// test fixtures (testdata/fixture) use it; it imports no raftctl package.
//
// # Contract
//
//   - WriteAside(dst, tmp, opts, fill) creates tmp (O_EXCL, mode 0600) in
//     dst's directory, lets fill write it, sets its mode (and whatever
//     opts.Before/After do: a lock, an owner), fsyncs and closes it, renames
//     it to dst (over an existing dst, or, with opts.NoReplace, failing with
//     ErrExists if dst exists), and fsyncs the directory. On any error
//     before the rename, tmp is removed and dst is untouched.
//   - RenameNoReplace(from, to) renames, failing with an error that wraps
//     ErrExists (and so fs.ErrExist) and names to when to exists. On Linux
//     this is one renameat2(RENAME_NOREPLACE) call; where the file system
//     or kernel lacks it, and on other systems, it is a check followed by
//     a rename (a race with a concurrent creator is then possible; raftctl
//     works under locks on groups no server runs on).
//   - Exchange(a, b) swaps two directory entries atomically
//     (renameat2(RENAME_EXCHANGE)); without it, it fails with ErrNoExchange
//     before changing anything.
//   - SyncDir(dir) fsyncs a directory, making the creations, renames and
//     removals of entries in it durable.
//   - None of these fsync a parent: a new directory's creation is made
//     durable by SyncDir of its parent, which callers do.
//
// # Crash safety
//
// POSIX rename(2) replaces the target atomically: at every instant the
// name refers to the old file or to the new one. WriteAside fsyncs the new
// file's data and metadata before the rename, so the name never refers to
// a file whose bytes have not reached the disk (without that fsync, ext4
// and xfs may commit the rename before the data, leaving an empty or
// partial file under the old name after a crash). The rename itself is a
// change of the directory, durable only once the directory is fsynced:
// until SyncDir returns, a crash may leave the old file under the name and
// the temporary file beside it (its name ends in .tmp; etcd ignores such
// files and the callers remove them). Therefore after a crash at any point
// the name holds either the complete old content or the complete new one.
// Exchange gives the same guarantee for a pair of names, with SyncDir of
// their parent afterwards. RenameNoReplace never destroys an existing
// target.
//
// # wal.SegmentSizeBytes
//
// etcd's wal package reads the package variable wal.SegmentSizeBytes
// whenever it creates, preallocates or cuts a segment, so it is process
// state shared by every WAL writer. WithSegmentSize (and its deferred form
// LockSegmentSize) is the only place in the module that assigns it: it
// holds one mutex for the whole life of the writer, so concurrent writers
// (repair's rewrite, migrate's writer, the fixtures, t.Parallel tests)
// never see each other's size. TestSegmentSizeGuard (segmentsize_test.go
// at the module root) fails on any other assignment, test files and
// fixtures included (see there for the one exception: a test helper that
// runs alone in a child process).
package durable
