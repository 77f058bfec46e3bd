// Command etcdread is the yardstick of the whole-process benchmarks in
// BENCHMARKS.md: it reads a WAL directory the way etcd does, as a process of
// its own, so that raftctl's commands can be timed against it side by side.
//
//	go run ./testdata/etcdread -mode decode DIR/wal   # etcd's streaming decoder, entries unmarshalled
//	go run ./testdata/etcdread -mode verify DIR/wal   # etcd's wal.Verify
//
// It prints the number of records (decode) or nothing (verify) and exits 1
// on a decode error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"
)

func main() {
	mode := flag.String("mode", "decode", "decode (etcd's streaming decoder) or verify (wal.Verify)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: etcdread [-mode decode|verify] WAL_DIR")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	var err error
	switch *mode {
	case "decode":
		err = decode(dir)
	case "verify":
		_, err = wal.Verify(zap.NewNop(), dir, &walpb.Snapshot{})
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdread:", err)
		os.Exit(1)
	}
}

// decode streams every record of the segments in dir through etcd's
// decoder and unmarshals the entries, as etcd's ReadAll does, without
// keeping them.
func decode(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	var rs []fileutil.FileReader
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			return err
		}
		defer f.Close()
		rs = append(rs, fileutil.NewFileReader(f))
	}
	dec := wal.NewDecoder(rs...)
	rec := &walpb.Record{}
	n := 0
	for err = dec.Decode(rec); err == nil; err = dec.Decode(rec) {
		n++
		if rec.GetType() == 2 { // entryType
			wal.MustUnmarshalEntry(rec.Data)
		}
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	fmt.Println(n, "records")
	return nil
}
