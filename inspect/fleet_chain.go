package inspect

import (
	"sort"
	"sync/atomic"
)

// chainBuilder computes the content-hash chain (ContentHash) of a log
// during the pass that reads it (readLog), so that summary and compare
// read each segment once.
//
// The chain is over the effective log, and a later record can still
// replace entries already read: an entry record at a lower index (a new
// leader's entries over an uncommitted tail, legal at any term above the
// commit index) truncates the log there, and a snapshot record ahead of
// the log resets it (see logBuilder.add). So an entry is first held as
// pending (its index, term, type, size and data hash: 40 bytes, no data)
// and only fed to the hash chain once it is final. Entries are taken as
// final once a HardState commits them (raft never replaces a committed
// entry), or, to keep memory flat under a long uncommitted tail, once
// more than maxPendingEntries are pending (the older half is fed).
//
// Feeding entries in index order gives exactly the chain HashEntries
// computes in a second pass. When a later entry record truncates the log
// below an entry already fed (a truncation below the commit index, which
// honest raft never writes, or into a tail longer than maxPendingEntries),
// the chain cannot be rewound: spilled is set and the caller hashes in a
// second pass (HashEntries), counted in hashSecondPasses. A snapshot
// record's reset drops everything: the state before it is kept aside until
// the reset is confirmed or undone, exactly as the Log keeps its
// checkpoint (logBuilder.checkpoint and finish).
type chainBuilder struct {
	chainState
	r        uint64
	redacted bool
	// commitIndex is the last HardState's commit.
	commitIndex uint64
	// saved is the state before the newest reset by a snapshot record
	// while the Log may still undo it (Log.pending).
	saved *chainState
	// err is the entry record that does not decode and ended the pass
	// (as EffectiveEntries reports it).
	err error
}

// chainState is what a reset of the log replaces.
type chainState struct {
	h *hashChain
	// pending holds the effective entries not yet fed to h, in index
	// order; fed is the index of the last entry fed (when hasFed).
	pending []hashedEntry
	fed     uint64
	hasFed  bool
	// spilled is set when a truncation reached an entry already fed.
	spilled bool
}

// maxPendingEntries bounds the entries a chainBuilder holds (40 bytes
// each).
var maxPendingEntries = 1 << 16

// hashSecondPasses counts the content-hash chains computed in a second
// pass because the single pass spilled (see chainBuilder).
var hashSecondPasses atomic.Int64

func newChainBuilder(r uint64, redacted bool) *chainBuilder {
	if r == 0 {
		r = DefaultHashRange
	}
	c := &chainBuilder{r: r, redacted: redacted}
	c.h = c.newHash()
	return c
}

func (c *chainBuilder) newHash() *hashChain {
	h := newHashChain(c.r)
	h.redacted = c.redacted
	return h
}

// entry takes the next entry record read (every one, in record order):
// it truncates the pending entries at its index, as the log does.
func (c *chainBuilder) entry(e *Entry) {
	if c.spilled {
		return
	}
	i := e.Index
	n := len(c.pending)
	for n > 0 && c.pending[n-1].index >= i {
		n--
	}
	c.pending = c.pending[:n]
	if c.hasFed && i <= c.fed {
		c.spilled, c.pending = true, nil
		return
	}
	c.pending = append(c.pending, hashedEntry{index: i, term: e.Term, typ: e.Type, size: uint64(len(e.Data)), data: dataHash(e.Data, c.redacted)})
	switch {
	case i <= c.commitIndex:
		c.feed(len(c.pending))
	case len(c.pending) > maxPendingEntries:
		c.feed(len(c.pending) / 2)
	}
}

// commit takes a HardState's commit index: the entries up to it are
// final.
func (c *chainBuilder) commit(index uint64) {
	c.commitIndex = index
	if c.spilled || len(c.pending) == 0 || c.pending[0].index > index {
		return
	}
	c.feed(sort.Search(len(c.pending), func(k int) bool { return c.pending[k].index > index }))
}

// feed feeds the first n pending entries to the hash chain.
func (c *chainBuilder) feed(n int) {
	if n == 0 {
		return
	}
	for _, e := range c.pending[:n] {
		c.h.addHashed(e)
	}
	c.fed, c.hasFed = c.pending[n-1].index, true
	c.pending = c.pending[:copy(c.pending, c.pending[n:])]
}

// checkpoint follows logBuilder.checkpoint: a snapshot record reset the
// log; the state before it is kept until the reset is confirmed (drop) or
// undone (restore).
func (c *chainBuilder) checkpoint() {
	s := c.chainState
	c.saved = &s
	c.chainState = chainState{h: c.newHash()}
}

// drop follows the Log when a reset is confirmed.
func (c *chainBuilder) drop() { c.saved = nil }

// restore follows logBuilder.finish undoing a reset.
func (c *chainBuilder) restore() {
	if c.saved != nil {
		c.chainState, c.saved = *c.saved, nil
	}
}

// bad records the entry record that does not decode and ends the pass.
func (c *chainBuilder) bad(err error) { c.err = err }

// result returns the chain once the pass is over (the entries still
// pending are final then), and spilled when it must be computed in a
// second pass instead (HashEntries). err is what HashEntries would
// return: the entry record that does not decode, if any.
func (c *chainBuilder) result() (hashes []ContentHash, spilled bool, err error) {
	if c.spilled {
		return nil, true, nil
	}
	c.feed(len(c.pending))
	c.h.close()
	if c.h.out == nil {
		c.h.out = []ContentHash{}
	}
	return c.h.out, false, c.err
}
