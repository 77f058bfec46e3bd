// Package commitlog reads the legacy commit logs that Dgraph servers wrote
// from November 2015 to September 2016 (releases v0.3 to v0.4.4). The format
// is described in shared/formats/commitlog.md; this package is its reader.
//
// A legacy instance directory holds rotated files <prefix>-<hex endTs>.log
// and one <prefix>-current.log. Each file is a plain concatenation of records:
//
//	offset  size  field    encoding
//	     0     8  ts       int64 LE, ns since the Unix epoch
//	     8     4  hash     uint32 LE, farmhash Fingerprint32 of the posting-list key
//	    12     4  size     int32 LE, payload length N (negative = corrupt)
//	    16     N  payload  a finished flatbuffer table types.Posting
//
// There is no magic, no version, no checksum and no record type, so nothing
// can be resynchronised after damage. The reader therefore treats every
// impossible length as an error naming the file and the offset, with one
// exception: a record cut short at the end of the last file is the normal
// outcome of a crash between write(2) and fsync(2), and is dropped and
// reported (unless ReaderOptions.Strict is set).
//
// Files are chosen as the original server chose them (see [Open]): the whole
// tree is walked, and a file holding data that the original would have
// refused to start on or never replayed is an [UndecidedError] until the
// caller includes or skips it ([OpenWith]). Anomalies that do not prevent
// reading (decreasing timestamps, a rotated file whose name does not match
// its last record, 0-byte rotated files, oversize files, rotated files in
// subdirectories, files of another prefix) are returned as data ([Warning]),
// never printed.
//
// The package never prints, exits, or reads configuration. Memory use is
// bounded: the reader keeps one buffer (1 MiB by default) that grows only to
// hold a record larger than it, and a length read from a file is checked
// against the bytes the file actually has before any allocation, so a corrupt
// length can never allocate more than the file's size.
package commitlog
