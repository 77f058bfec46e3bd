// Command etcdread is the yardstick of the whole-process benchmarks in
// BENCHMARKS.md: it reads a WAL directory the way etcd does, as a process of
// its own, so that raftctl's commands can be timed against it side by side.
//
//	go run ./testdata/etcdread -mode decode DIR/wal   # etcd's streaming decoder, entries unmarshalled
//	go run ./testdata/etcdread -mode verify DIR/wal   # etcd's wal.Verify
//	go run ./testdata/etcdread -mode floor DIR/wal    # read + CRC-32C of every byte, on both cores
//
// It prints the number of records (decode), nothing (verify) or a checksum
// (floor) and exits 1 on a decode or read error.
//
// floor is no reader of WAL records: it reads every byte of every segment
// once, two segments at a time (one per core, 1 MiB reads), and computes
// CRC-32C over the bytes, without framing or decoding anything. It is the
// least work any verifier that reads each byte and checks its CRC does,
// spread perfectly over two cores: the floor under raftctl's verify.
package main

import (
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"
)

func main() {
	mode := flag.String("mode", "decode", "decode (etcd's streaming decoder), verify (wal.Verify) or floor (read + CRC-32C on both cores)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: etcdread [-mode decode|verify|floor] WAL_DIR")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	var err error
	switch *mode {
	case "decode":
		err = decode(dir)
	case "verify":
		_, err = wal.Verify(zap.NewNop(), dir, &walpb.Snapshot{})
	case "floor":
		err = floor(dir)
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

// floor reads and checksums every byte of the segments in dir, two
// segments at a time, and prints the XOR of their checksums.
func floor(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		return err
	}
	sums := make([]uint32, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for k := range next {
				sums[k], errs[k] = checksum(names[k], buf)
			}
		}()
	}
	for k := range names {
		next <- k
	}
	close(next)
	wg.Wait()
	var x uint32
	for k := range names {
		if errs[k] != nil {
			return errs[k]
		}
		x ^= sums[k]
	}
	fmt.Printf("%08x\n", x)
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is CRC-32C of the file at path, read through buf.
func checksum(path string, buf []byte) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var c uint32
	for {
		n, err := f.Read(buf)
		c = crc32.Update(c, castagnoli, buf[:n])
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
