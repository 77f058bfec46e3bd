package migrate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cespare/xxhash/v2"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/repair/durable"
)

// migration is the state of one Commitlog call.
type migration struct {
	opts *CommitlogOptions
	dir  *commitlog.Dir
	res  *Result
	tmp  string // the hidden build directory, until renamed or removed

	sum       *xxhash.Digest // over the legacy entries' data, see Result.Checksum
	lenBuf    [4]byte
	bytesRead int64 // source bytes consumed, torn tail included
}

// produce reads the whole source in order, decoding and checking every
// payload, feeds the checksum and OnRecord, and hands each entry's data to
// add with the source bytes consumed and records read so far. data is
// borrowed until add returns. On success it fills the source side of m.res.
func (m *migration) produce(ctx context.Context, add func(data []byte, bytesRead, records int64) error) error {
	m.sum = xxhash.New()
	r := m.dir.NewReader(commitlog.ReaderOptions{Strict: m.opts.Strict, Decode: true})
	defer r.Close()
	var n int64
	for r.Next() {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
		}
		n++
		rec := r.Record()
		if m.opts.OnRecord != nil {
			if err := m.opts.OnRecord(rec, r.Posting()); err != nil {
				return fmt.Errorf("migrate: OnRecord: %w", err)
			}
		}
		data := rec.Raw
		if m.opts.Data == DataPayload {
			data = rec.Payload
		}
		m.hash(data)
		if err := add(data, r.BytesRead(), n); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	st := r.Stats()
	res := m.res
	res.Files = append([]commitlog.FileStats{}, r.FileStats()...)
	res.Records, res.Bytes = st.Records, st.Bytes
	res.FirstTS, res.LastTS = st.FirstTS, st.LastTS
	res.DroppedBytes, res.DroppedFile, res.DroppedOffset = st.DroppedBytes, st.DroppedFile, st.DroppedOffset
	res.Warnings = append([]commitlog.Warning{}, r.Warnings()...) // [] not null in JSON
	res.WarningCounts = r.WarningCounts()
	res.LastIndex = res.FirstIndex - 1 + uint64(st.Records)
	res.Checksum = formatChecksum(m.sum.Sum64())
	m.bytesRead = r.BytesRead()
	return nil
}

// hash adds one entry's data to the checksum: LE uint32 length, then data.
func (m *migration) hash(data []byte) {
	binary.LittleEndian.PutUint32(m.lenBuf[:], uint32(len(data)))
	m.sum.Write(m.lenBuf[:])
	m.sum.Write(data)
}

func formatChecksum(sum uint64) string { return fmt.Sprintf("xxh64:%016x", sum) }

func (m *migration) dryRun(ctx context.Context) error {
	p := progress{f: m.opts.Progress}
	err := m.produce(ctx, func(_ []byte, bytesRead, records int64) error {
		if records%256 == 0 {
			p.maybe(bytesRead, records)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.final(m.bytesRead, m.res.Records)
	return nil
}

// build writes the group into a hidden directory of Out (m.tmp), makes it
// durable and verifies it. The caller renames m.tmp into place, or removes
// it.
func (m *migration) build(ctx context.Context) error {
	tmp, err := os.MkdirTemp(m.opts.Out, fmt.Sprintf(".%s%s%d-*", m.opts.Name, leftoverMark, os.Getpid()))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	m.tmp = tmp
	walDir := filepath.Join(tmp, "wal")
	if err := m.writeSegments(ctx, walDir); err != nil {
		return err
	}
	// Durability: the WAL was written without per-batch fsyncs (nobody can
	// see it before the rename; writeSegments started syncing each full
	// segment), so sync every file and directory now, once, while the WAL
	// is read back: the one waits for the disk, the other for the CPU.
	synced := make(chan error, 1)
	go func() {
		var err error
		if m.res.Segments, err = syncWALDir(walDir); err != nil {
			synced <- err
			return
		}
		snapDir := filepath.Join(tmp, "snap")
		if err := os.Mkdir(snapDir, 0o700); err != nil {
			synced <- err
			return
		}
		if err := durable.Sync(snapDir); err != nil {
			synced <- err
			return
		}
		synced <- durable.Sync(tmp)
	}()
	defer readBackDone.Delete(walDir)
	got, rerr := readBackFunc(walDir)
	if err := <-synced; err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("%w: %w", ErrVerify, rerr)
	}
	if err := m.verify(got); err != nil {
		return err
	}
	return ctx.Err()
}

// verify compares what readBack found with what was written.
func (m *migration) verify(got *walSummary) error {
	res := m.res
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrVerify, fmt.Sprintf(format, args...))
	}
	if len(got.members) != len(res.Members) {
		return fail("%d bootstrap conf changes read back, %d written", len(got.members), len(res.Members))
	}
	for i, id := range res.Members {
		if got.members[i] != id {
			return fail("bootstrap conf change %d adds node %d, want %d", i+1, got.members[i], id)
		}
	}
	if got.entries != res.Records {
		return fail("%d legacy entries read back, %d records in the source", got.entries, res.Records)
	}
	if got.entries > 0 && got.term != res.Term {
		return fail("legacy entries at term %d, want %d", got.term, res.Term)
	}
	if got.lastIndex != res.LastIndex {
		return fail("last index %d, want %d", got.lastIndex, res.LastIndex)
	}
	if c := formatChecksum(got.sum); c != res.Checksum {
		return fail("checksum %s read back, %s in the source", c, res.Checksum)
	}
	st := got.state
	if st.GetTerm() != res.Term || st.GetCommit() != res.LastIndex || st.GetVote() != 0 {
		return fail("HardState term %d vote %d commit %d, want term %d vote 0 commit %d",
			st.GetTerm(), st.GetVote(), st.GetCommit(), res.Term, res.LastIndex)
	}
	return nil
}

// bootstrapEntries returns the entries raft's bootstrap (RawNode.Bootstrap,
// used by StartNode) appends for members: one EntryConfChange per member at
// term 1 and indexes 1..len(members), data a marshalled ConfChange AddNode.
func bootstrapEntries(members []uint64) ([]*raftpb.Entry, error) {
	ents := make([]*raftpb.Entry, len(members))
	for i, id := range members {
		cc := &raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(id)}
		data, err := proto.Marshal(cc)
		if err != nil {
			return nil, err
		}
		ents[i] = &raftpb.Entry{
			Type:  raftpb.EntryConfChange.Enum(),
			Term:  proto.Uint64(1),
			Index: proto.Uint64(uint64(i + 1)),
			Data:  data,
		}
	}
	return ents, nil
}

// mkdirAllSynced creates dir if it does not exist, and then fsyncs its
// parent so that the new name is durable. It reports whether it created dir.
func mkdirAllSynced(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return false, nil
	case err == nil:
		return false, fmt.Errorf("%s: not a directory", dir)
	case !errors.Is(err, os.ErrNotExist):
		return false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	return true, durable.Sync(filepath.Dir(filepath.Clean(dir)))
}

// syncWALDir fsyncs every file of a WAL directory and then the directory,
// and returns the number of segment (*.wal) files.
func syncWALDir(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	segments := 0
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if filepath.Ext(e.Name()) == ".wal" {
			segments++
		}
		if err := durable.Sync(filepath.Join(dir, e.Name())); err != nil {
			return 0, err
		}
	}
	return segments, durable.Sync(dir)
}

// writeSegments creates the WAL at walDir and writes the bootstrap entries
// and one entry per legacy record, as writeWAL does with etcd's wal package
// and byte for byte the same (see segWriter), only faster. The source is
// read, decoded and hashed on a second goroutine (produceBatches) while this
// one encodes and writes (writeBatches), with batches recycled through
// bounded channels, so memory is pipelineDepth batches.
//
// Every Save carries HardState{Term, Commit: last index saved}, so any prefix
// of the WAL is a consistent Raft state. Each segment, once complete, is
// fsynced in the background and read back on a third goroutine
// (startReadBack); readBack(walDir) then returns that read-back's result.
// Every file is synced once more before the directory is made visible (see
// build).
func (m *migration) writeSegments(ctx context.Context, walDir string) error {
	boot, err := bootstrapEntries(m.opts.Members)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full, free, prodErr := m.startBatches(ctx)

	p := progress{f: m.opts.Progress}
	bg := newBackgroundSync()
	// Each complete segment is read back on another goroutine while the
	// next one is written (see readBack).
	done := make(chan string, 64)
	readBackc := startReadBack(ctx, walDir, done)
	writeErr := m.writeBatches(walDir, boot, full, free, bg, done, &p)
	if writeErr != nil {
		cancel()
	}
	close(done)
	rb := <-readBackc
	if err := bg.wait(); err != nil && writeErr == nil {
		writeErr = err
	}
	if writeErr != nil {
		for range full { // let the producer finish
		}
		<-prodErr
		return fmt.Errorf("migrate: writing the WAL: %w", writeErr)
	}
	if err := <-prodErr; err != nil {
		return err
	}
	readBackDone.Store(walDir, rb)
	p.final(m.bytesRead, m.res.Records)
	return nil
}

// startReadBack reads back, on its own goroutine, each complete segment
// whose path arrives on done (after the first error it only drains done);
// once done is closed, the result, with the read-back's summary of
// walDir, arrives on the returned channel.
func startReadBack(ctx context.Context, walDir string, done <-chan string) <-chan readBackResult {
	readBackc := make(chan readBackResult, 1)
	go func() {
		rb := newReadBacker(ctx)
		var err error
		for path := range done {
			if err != nil {
				continue
			}
			var seg inspect.Segment
			if seg, err = segmentAt(path); err == nil {
				err = rb.segment(seg)
			}
		}
		r := readBackResult{err: err}
		if err == nil {
			r.s, r.err = rb.finish(walDir)
		}
		readBackc <- r
	}()
	return readBackc
}

// writeBatches creates the WAL at walDir and saves the bootstrap entries,
// then each batch from full (handed back on free), reporting progress to
// p. A segment a save completes, and the last one once the WAL is closed,
// is synced in the background (bg) and sent on done to be read back.
func (m *migration) writeBatches(walDir string, boot []*raftpb.Entry, full <-chan *batch, free chan<- *batch, bg *backgroundSync, done chan<- string, p *progress) error {
	term := proto.Uint64(m.opts.Term)
	normal := raftpb.EntryNormal.Enum()
	w, err := createSegWriter(walDir, m.opts.SegmentSize, nil, true)
	if err != nil {
		return err
	}
	// save is w.Save; a segment it completes (cut) is synced and read
	// back in the background.
	save := func(hs *raftpb.HardState, ents []*raftpb.Entry) error {
		tail := w.tailPath
		if err := w.Save(hs, ents); err != nil {
			w.Abort()
			return err
		}
		if w.tailPath != tail {
			bg.sync(tail)
			done <- tail
		}
		return nil
	}
	if err := save(&raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: proto.Uint64(uint64(len(boot)))}, boot); err != nil {
		return err
	}
	for b := range full {
		last := b.index[b.n-1]
		err := save(&raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: &last}, b.entries(term, normal))
		p.maybe(b.bytesRead, b.records)
		free <- b
		if err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	done <- w.tailPath
	return nil
}

// backgroundSync fsyncs files one after the other on its own goroutine, so
// that the disk writes a full segment while the next one is encoded and the
// final sync of the directory finds little left to do.
type backgroundSync struct {
	paths chan string
	done  chan error
}

func newBackgroundSync() *backgroundSync {
	s := &backgroundSync{paths: make(chan string, 64), done: make(chan error, 1)}
	go func() {
		var first error
		for p := range s.paths {
			if err := durable.Sync(p); err != nil && first == nil {
				first = err
			}
		}
		s.done <- first
	}()
	return s
}

// sync queues p; it never blocks for long (a queue of 64 segments).
func (s *backgroundSync) sync(p string) { s.paths <- p }

// wait returns once every queued file is synced, with the first error.
func (s *backgroundSync) wait() error {
	close(s.paths)
	return <-s.done
}

// startBatches starts the producer of entry batches (produceBatches) on its
// own goroutine: full brings the batches in order, and is closed at the
// end; each must be handed back on free, which bounds memory to
// pipelineDepth batches; prodErr then has the producer's error.
func (m *migration) startBatches(ctx context.Context) (full <-chan *batch, free chan<- *batch, prodErr <-chan error) {
	batchBytes := batchBytesFor(m.opts.SegmentSize)
	f := make(chan *batch, pipelineDepth)
	fr := make(chan *batch, pipelineDepth)
	for range pipelineDepth {
		fr <- &batch{data: make([]byte, 0, batchBytes+batchBytes/4)}
	}
	pe := make(chan error, 1)
	go func() {
		defer close(f)
		pe <- m.produceBatches(ctx, batchBytes, f, fr)
	}()
	return f, fr, pe
}
