package inspect

import (
	"context"
	"runtime"
	"sync"
)

// Progress is what VerifyAll reports as it goes.
type Progress struct {
	// Groups is the number of groups to check, GroupsDone those done.
	Groups     int `json:"groups"`
	GroupsDone int `json:"groups_done"`
	// BytesTotal is the size of all their WAL segments, BytesRead the size
	// of those of the groups done.
	BytesTotal int64 `json:"bytes_total"`
	BytesRead  int64 `json:"bytes_read"`
}

// VerifyAll verifies groups, opts.Parallel at a time, and returns their
// reports in the order of groups. It returns an error only when ctx is
// cancelled; a group without a verdict has status "unknown" and its Err
// set.
func VerifyAll(ctx context.Context, groups []Group, opts VerifyOptions) (*Report, error) {
	par := opts.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	par = max(1, min(par, len(groups)))
	rep := &Report{SchemaVersion: ReportSchemaVersion, Groups: make([]*GroupReport, len(groups))}
	prog := newVerifyProgress(groups, opts.Progress)
	prog.report(-1)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				gopts := opts
				gopts.OnBytes = prog.within(k)
				gr, err := Verify(ctx, groups[k], gopts)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					continue
				}
				rep.Groups[k] = gr
				prog.report(k)
			}
		}()
	}
feed:
	for k := range groups {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.summarize()
	return rep, nil
}

// verifyProgress follows VerifyAll's progress and calls fn (if set) with
// it, never two calls at once.
type verifyProgress struct {
	fn    func(Progress)
	mu    sync.Mutex
	prog  Progress
	sizes []int64 // each group's WAL bytes
	// partial holds the bytes read of unfinished groups; lastDrawn the
	// BytesRead last reported from within a group.
	partial   []int64
	lastDrawn int64
}

func newVerifyProgress(groups []Group, fn func(Progress)) *verifyProgress {
	p := &verifyProgress{fn: fn, sizes: make([]int64, len(groups)), partial: make([]int64, len(groups))}
	p.prog.Groups = len(groups)
	if fn == nil {
		// Nobody to tell: listing every group's segments for their sizes
		// would cost a directory read and a stat per segment for nothing.
		return p
	}
	for k, g := range groups {
		p.sizes[k] = verifyWALBytes(g)
		p.prog.BytesTotal += p.sizes[k]
	}
	return p
}

// report reports that group k is done (k < 0: the start).
func (p *verifyProgress) report(k int) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k >= 0 {
		p.prog.GroupsDone++
		p.prog.BytesRead += p.sizes[k] - p.partial[k]
		p.partial[k] = 0
	}
	p.fn(p.prog)
}

// within returns the OnBytes for group k: it reports the bytes read
// inside the group, every 16 MiB (nil when nothing is reported).
func (p *verifyProgress) within(k int) func(int64) {
	if p.fn == nil {
		return nil
	}
	return func(n int64) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.partial[k]+n > p.sizes[k] {
			n = max(p.sizes[k]-p.partial[k], 0)
		}
		p.partial[k] += n
		p.prog.BytesRead += n
		if p.prog.BytesRead-p.lastDrawn >= 16<<20 {
			p.lastDrawn = p.prog.BytesRead
			p.fn(p.prog)
		}
	}
}

// verifyWALBytes sums the sizes of a group's segments (0 when they cannot
// be listed: Verify will say why).
func verifyWALBytes(g Group) int64 {
	segs, _, err := ListSegments(g.WALDir)
	if err != nil {
		return 0
	}
	var n int64
	for _, s := range segs {
		n += s.Size
	}
	return n
}
