package crashstate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// sector is the unit of torn writes.
const sector = 512

// inode is one file or directory of the persistent model.
type inode struct {
	dir     bool
	durable []byte
	// pending are the data ops (indexes into the op list) issued since
	// the inode's last fsync/fdatasync, in order.
	pending []int
}

// fsModel replays the ops and yields, at each crash point, what can be on
// disk (see the package documentation for the rules).
type fsModel struct {
	ops    []op
	inodes map[int]*inode
	// durableNames is the namespace after the committed namespace ops;
	// pendingNS are the namespace ops issued after the last journal
	// commit, in order.
	durableNames map[string]int
	pendingNS    []int
}

func newFSModel(ops []op) *fsModel {
	return &fsModel{ops: ops, inodes: map[int]*inode{}, durableNames: map[string]int{".": 0}}
}

// step applies op k.
func (m *fsModel) step(k int) {
	o := m.ops[k]
	switch o.kind {
	case opCreate, opMkdir:
		m.inodes[o.ino] = &inode{dir: o.kind == opMkdir}
		m.pendingNS = append(m.pendingNS, k)
	case opRename, opUnlink:
		m.pendingNS = append(m.pendingNS, k)
	case opWrite, opTruncate, opExtend:
		in := m.inodes[o.ino]
		in.pending = append(in.pending, k)
	case opSync:
		in := m.inodes[o.ino]
		if in != nil {
			in.durable = m.applyData(in.durable, in.pending, nil)
			in.pending = nil
		}
		if o.meta {
			for _, j := range m.pendingNS {
				applyNS(m.durableNames, m.ops[j])
			}
			m.pendingNS = nil
		}
	}
}

func applyNS(names map[string]int, o op) {
	switch o.kind {
	case opCreate, opMkdir:
		names[o.path] = o.ino
	case opRename:
		renameNames(names, o.path, o.path2)
	case opUnlink:
		delete(names, o.path)
	}
}

// tear describes how the one data op it names is persisted: only the byte
// ranges [keep[i], keep[i+1]) of the write (offsets relative to the
// write) reach the disk; the file still grows to the write's end when
// grow is set.
type tear struct {
	op   int
	keep []int64
	grow bool
}

// applyData applies the data ops pend, in order, to a copy of b.
func (m *fsModel) applyData(b []byte, pend []int, t *tear) []byte {
	b = slices.Clone(b)
	for _, k := range pend {
		o := m.ops[k]
		switch o.kind {
		case opWrite:
			end := o.off + int64(len(o.data))
			if t != nil && t.op == k {
				if t.grow && int64(len(b)) < end {
					b = append(b, make([]byte, end-int64(len(b)))...)
				}
				for i := 0; i+1 < len(t.keep); i += 2 {
					lo, hi := o.off+t.keep[i], o.off+t.keep[i+1]
					if int64(len(b)) < hi {
						b = append(b, make([]byte, hi-int64(len(b)))...)
					}
					copy(b[lo:hi], o.data[t.keep[i]:t.keep[i+1]])
				}
				continue
			}
			if int64(len(b)) < end {
				b = append(b, make([]byte, end-int64(len(b)))...)
			}
			copy(b[o.off:end], o.data)
		case opTruncate:
			if o.size <= int64(len(b)) {
				b = b[:o.size]
			} else {
				b = append(b, make([]byte, o.size-int64(len(b)))...)
			}
		case opExtend:
			if o.size > int64(len(b)) {
				b = append(b, make([]byte, o.size-int64(len(b)))...)
			}
		}
	}
	return b
}

// crashState is one possible disk content under prefix (relative paths
// under the node's directory): files with their bytes and directories.
type crashState struct {
	variant string
	files   map[string][]byte
	dirs    []string
}

// states returns the crash states of the files under prefix (a relative
// directory, e.g. "node-2/group-1") after the ops applied so far:
//
//   - "all": every issued operation reached the disk;
//   - "ns<j>": the data ops all reached the disk, only the first j
//     namespace operations since the last journal commit did;
//   - "durable": only what was made durable;
//   - "drop<i>": every pending data op except the i-th;
//   - "torn<s>": every pending data op, the last pending write only up to
//     its s-th sector boundary;
//   - "hole": every pending data op, the last pending write without one
//     sector in its middle (the sectors around it written).
//
// Only the pending ops of files under prefix count, so the variants of a
// crash point differ only where this node's files differ.
func (m *fsModel) states(prefix string) []crashState {
	under := func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	var nsPend []int
	for _, k := range m.pendingNS {
		o := m.ops[k]
		if under(o.path) || (o.kind == opRename && under(o.path2)) || strings.HasPrefix(prefix, o.path+"/") {
			nsPend = append(nsPend, k)
		}
	}
	full := maps.Clone(m.durableNames)
	for _, k := range m.pendingNS {
		applyNS(full, m.ops[k])
	}
	// The pending data ops of the files under prefix (in any namespace
	// variant), in issue order.
	inos := map[int]bool{}
	for p, ino := range full {
		if under(p) {
			inos[ino] = true
		}
	}
	for p, ino := range m.durableNames {
		if under(p) {
			inos[ino] = true
		}
	}
	var dataPend []int
	for ino := range inos {
		if in := m.inodes[ino]; in != nil {
			dataPend = append(dataPend, in.pending...)
		}
	}
	slices.Sort(dataPend)

	build := func(variant string, names map[string]int, skip int, t *tear) crashState {
		cs := crashState{variant: variant, files: map[string][]byte{}}
		for p, ino := range names {
			if !under(p) {
				continue
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, prefix), "/")
			in := m.inodes[ino]
			if in == nil || in.dir {
				if rel != "" {
					cs.dirs = append(cs.dirs, rel)
				}
				continue
			}
			var pend []int
			for _, k := range in.pending {
				if k != skip {
					pend = append(pend, k)
				}
			}
			cs.files[rel] = m.applyData(in.durable, pend, t)
		}
		slices.Sort(cs.dirs)
		return cs
	}
	durableData := func(names map[string]int) crashState {
		cs := crashState{variant: "durable", files: map[string][]byte{}}
		for p, ino := range names {
			if !under(p) {
				continue
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, prefix), "/")
			in := m.inodes[ino]
			if in == nil || in.dir {
				if rel != "" {
					cs.dirs = append(cs.dirs, rel)
				}
				continue
			}
			cs.files[rel] = slices.Clone(in.durable)
		}
		slices.Sort(cs.dirs)
		return cs
	}

	out := []crashState{build("all", full, -1, nil)}
	if len(nsPend) == 0 && len(dataPend) == 0 {
		return out
	}
	names := maps.Clone(m.durableNames)
	seen := 0
	for _, k := range m.pendingNS {
		if seen == len(nsPend) {
			break
		}
		// The namespace ops of other directories before this node's
		// j-th one are committed with it (the journal is in order).
		if k == nsPend[seen] {
			out = append(out, build(fmt.Sprintf("ns%d", seen), names, -1, nil))
			seen++
		}
		applyNS(names, m.ops[k])
	}
	out = append(out, durableData(m.durableNames))
	if len(dataPend) > 1 {
		for i, k := range dataPend {
			out = append(out, build(fmt.Sprintf("drop%d", i), full, k, nil))
		}
	}
	// Tears of the last pending write.
	last := -1
	for _, k := range slices.Backward(dataPend) {
		if m.ops[k].kind == opWrite {
			last = k
			break
		}
	}
	if last < 0 {
		return out
	}
	o := m.ops[last]
	n := int64(len(o.data))
	var bounds []int64 // sector boundaries strictly inside the write, relative to it
	for b := (o.off/sector + 1) * sector; b < o.off+n; b += sector {
		bounds = append(bounds, b-o.off)
	}
	pick := bounds
	if len(pick) > 3 {
		pick = []int64{bounds[0], bounds[len(bounds)/2], bounds[len(bounds)-1]}
	}
	for i, b := range pick {
		out = append(out, build(fmt.Sprintf("torn%d", i), full, -1, &tear{op: last, keep: []int64{0, b}}))
	}
	if len(bounds) > 0 {
		// The write covers len(bounds)+1 sectors; leave out the middle
		// one (for two sectors: the first).
		edges := append(append([]int64{0}, bounds...), n)
		s := (len(edges) - 2) / 2
		out = append(out, build("hole", full, -1, &tear{op: last, keep: []int64{0, edges[s], edges[s+1], n}, grow: true}))
	}
	return out
}
