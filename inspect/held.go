package inspect

import "os"

// The functions here let a caller that holds a group's segments open (repair
// holds them locked) have every pass read through those descriptors, so
// that one change opens each segment as few times as possible.

// openSegmentsHeld is openSegments, taking the files in held (by path)
// instead of opening them; release leaves those open.
func openSegmentsHeld(segs []Segment, held map[string]*os.File) (release func(), err error) {
	if len(held) == 0 {
		return openSegments(segs)
	}
	var own []Segment
	var at []int
	for k := range segs {
		if f := held[segs[k].Path]; f != nil {
			segs[k].file = f
			continue
		}
		own = append(own, segs[k])
		at = append(at, k)
	}
	rel, err := openSegments(own)
	if err != nil {
		return func() {}, err
	}
	for j, k := range at {
		segs[k].file = own[j].file
	}
	return func() {
		rel()
		for k := range segs {
			segs[k].file = nil
		}
	}, nil
}

// HoldSegments returns a copy of segs whose readers (ReadLog, NewScanner)
// read the segments found in held through those files instead of opening
// them by path. The caller keeps the files open while it reads and closes
// them.
func HoldSegments(segs []Segment, held map[string]*os.File) []Segment {
	out := make([]Segment, len(segs))
	copy(out, segs)
	for k := range out {
		if f := held[out[k].Path]; f != nil {
			out[k].file = f
		}
	}
	return out
}

// Read returns the log Verify read and the segments it read it from, when
// one pass read the whole WAL (what ReadLog of those segments returns), or
// nil.
func (g *GroupReport) Read() (*Log, []Segment) {
	if g.log == nil {
		return nil, nil
	}
	segs := make([]Segment, len(g.segs))
	copy(segs, g.segs)
	for k := range segs {
		segs[k].file = nil
	}
	return g.log, segs
}

// openRead returns the segment's file for ReadAt: the one held for it
// (openSegments, HoldSegments) or, when there is none, opened now; done
// closes only a file openRead opened.
func (s Segment) openRead() (f *os.File, done func(), err error) {
	if s.file != nil {
		return s.file, func() {}, nil
	}
	if f, err = os.Open(s.Path); err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
