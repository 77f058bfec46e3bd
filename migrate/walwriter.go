package migrate

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/raftctl/raftctl/repair/durable"
)

// withSegmentSize runs f with wal.SegmentSizeBytes set to size under the
// module's one guard of that variable (durable.WithSegmentSize): it is read
// by wal.Create and by every WAL.Save, so it is held for the whole life of
// a writer.
func withSegmentSize(size int64, f func() error) error {
	return durable.WithSegmentSize(size, f)
}

// batchBytesFor is the entry data per WAL.Save call: large enough to make the
// per-call cost negligible, small enough that a segment (cut only between
// Save calls) overshoots its size by little.
func batchBytesFor(segmentSize int64) int {
	return int(min(1<<20, max(segmentSize/16, 16<<10)))
}

// batch is a reusable group of entries for one WAL.Save call. Its entries
// and their index and data storage are reused from one batch to the next.
type batch struct {
	ents  []raftpb.Entry
	ptrs  []*raftpb.Entry
	index []uint64
	data  []byte
	ends  []int // ends[i] is the end of entry i's data in data
	n     int

	// Source progress once this batch is written.
	bytesRead, records int64
}

func (b *batch) reset() { b.n, b.data, b.ends = 0, b.data[:0], b.ends[:0] }

func (b *batch) add(index uint64, data []byte) {
	if b.n == len(b.ents) {
		b.ents = append(b.ents, raftpb.Entry{})
		b.ptrs = append(b.ptrs, nil)
		b.index = append(b.index, 0)
	}
	b.index[b.n] = index
	b.data = append(b.data, data...)
	b.ends = append(b.ends, len(b.data))
	b.n++
}

// entries points the entries at their final data (b.data may have moved
// while growing) and returns them.
func (b *batch) entries(term *uint64, typ *raftpb.EntryType) []*raftpb.Entry {
	start := 0
	for i := 0; i < b.n; i++ {
		e := &b.ents[i]
		e.Term, e.Index, e.Type = term, &b.index[i], typ
		e.Data = b.data[start:b.ends[i]:b.ends[i]]
		start = b.ends[i]
		b.ptrs[i] = e
	}
	return b.ptrs[:b.n]
}

// pipelineDepth is the number of batches in flight between the reader and
// the WAL writer.
const pipelineDepth = 4

// writeWAL creates the WAL at walDir and writes the bootstrap entries and one
// entry per legacy record. The source is read, decoded and hashed on a second
// goroutine (see produce) while this one encodes and writes, with batches
// recycled through bounded channels, so memory is pipelineDepth batches.
//
// Every Save carries HardState{Term, Commit: last index saved}, so any prefix
// of the WAL is a consistent Raft state. The WAL does not fsync (see run:
// everything is synced once before the directory is made visible).
func (m *migration) writeWAL(ctx context.Context, walDir string) error {
	o := m.opts
	boot, err := bootstrapEntries(o.Members)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full, free, prodErr := m.startBatches(ctx)

	p := progress{f: o.Progress}
	term := proto.Uint64(o.Term)
	normal := raftpb.EntryNormal.Enum()
	writeErr := withSegmentSize(o.SegmentSize, func() error {
		w, err := wal.Create(zap.NewNop(), walDir, nil)
		if err != nil {
			return err
		}
		w.SetUnsafeNoFsync()
		hs := &raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: proto.Uint64(uint64(len(boot)))}
		if err := w.Save(hs, boot); err != nil {
			w.Close()
			return err
		}
		for b := range full {
			last := b.index[b.n-1]
			hs := &raftpb.HardState{Term: term, Vote: proto.Uint64(0), Commit: &last}
			err := w.Save(hs, b.entries(term, normal))
			p.maybe(b.bytesRead, b.records)
			free <- b
			if err != nil {
				w.Close()
				return err
			}
		}
		return w.Close()
	})
	if writeErr != nil {
		cancel()
		for range full { // let the producer finish
		}
		<-prodErr
		if errors.Is(writeErr, context.Canceled) {
			return fmt.Errorf("migrate: %w", writeErr)
		}
		return fmt.Errorf("migrate: writing the WAL: %w", writeErr)
	}
	if err := <-prodErr; err != nil {
		return err
	}
	p.final(m.bytesRead, m.res.Records)
	return nil
}

// produceBatches runs produce, packing entries into batches of about
// batchBytes of data sent on full; batches come back on free.
func (m *migration) produceBatches(ctx context.Context, batchBytes int, full chan<- *batch, free <-chan *batch) error {
	var b *batch
	next := uint64(len(m.opts.Members)) + 1
	send := func() error {
		select {
		case full <- b:
			b = nil
			return nil
		case <-ctx.Done():
			return fmt.Errorf("migrate: %w", ctx.Err())
		}
	}
	err := m.produce(ctx, func(data []byte, bytesRead, records int64) error {
		if b == nil {
			select {
			case b = <-free:
				b.reset()
			case <-ctx.Done():
				return fmt.Errorf("migrate: %w", ctx.Err())
			}
		}
		b.add(next, data)
		next++
		b.bytesRead, b.records = bytesRead, records
		if len(b.data) >= batchBytes {
			return send()
		}
		return nil
	})
	if err == nil && b != nil && b.n > 0 {
		err = send()
	}
	return err
}
