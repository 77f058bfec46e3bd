package inspect

import (
	"context"
	"os"
)

// SnapRef names a snapshot by index and term.
type SnapRef struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
}

// GroupSummary is what `raftctl groups` shows of a group.
type GroupSummary struct {
	Group
	Segments   int       `json:"segments"`
	WALBytes   int64     `json:"wal_bytes"`
	FirstIndex uint64    `json:"first_index"`
	LastIndex  uint64    `json:"last_index"`
	LastTerm   uint64    `json:"last_term"`
	HardState  HardState `json:"hard_state"`
	// Snapshot is the newest WAL snapshot record at or below the commit
	// index (what etcd restarts from); nil when only the initial empty one.
	Snapshot  *SnapRef `json:"snapshot"`
	SnapFiles int      `json:"snap_files"`

	// Log is the pass over the WAL the summary came from.
	Log *Log `json:"-"`
	// SegmentList is the segments read.
	SegmentList []Segment `json:"-"`
	// Ignored lists files of the WAL directory etcd would ignore.
	Ignored []string `json:"-"`
}

// OpenGroup lists a group's segments, tolerating a missing WAL directory
// (a group may hold only snapshots).
func OpenGroup(g Group) (segs []Segment, ignored []string, err error) {
	segs, ignored, err = ListSegments(g.WALDir)
	if err != nil && isNotExist(err) {
		return nil, nil, nil
	}
	return segs, ignored, err
}

// Summarize reads a group's WAL once and counts its snapshot files. A
// decode error does not fail it (Log.Stop holds it); I/O errors do.
func Summarize(ctx context.Context, g Group) (*GroupSummary, error) {
	return summarize(ctx, g, nil)
}

// summarize is Summarize feeding chain (if set) during its pass.
func summarize(ctx context.Context, g Group, chain *chainBuilder) (*GroupSummary, error) {
	segs, ignored, err := OpenGroup(g)
	if err != nil {
		return nil, err
	}
	l, err := readLog(ctx, segs, readOptions{chain: chain})
	if err != nil {
		return nil, err
	}
	if l.Stop != nil && l.Stop.Kind == KindIO {
		return nil, l.Stop
	}
	s := &GroupSummary{Group: g, Segments: len(segs), Log: l, SegmentList: segs, Ignored: ignored,
		FirstIndex: l.FirstIndex, LastIndex: l.LastIndex, LastTerm: l.LastTerm, HardState: l.HardState}
	for _, sg := range segs {
		s.WALBytes += sg.Size
	}
	if snap, ok := l.LatestSnapshot(); ok {
		s.Snapshot = &SnapRef{Index: snap.Index, Term: snap.Term}
	}
	if g.SnapDir != "" {
		entries, err := os.ReadDir(g.SnapDir)
		if err != nil && !isNotExist(err) {
			return nil, err
		}
		for _, e := range entries {
			if len(e.Name()) > 5 && e.Name()[len(e.Name())-5:] == ".snap" {
				s.SnapFiles++
			}
		}
	}
	return s, nil
}
