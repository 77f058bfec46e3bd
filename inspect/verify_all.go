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
	sizes := make([]int64, len(groups))
	var prog Progress
	prog.Groups = len(groups)
	for k, g := range groups {
		sizes[k] = verifyWALBytes(g)
		prog.BytesTotal += sizes[k]
	}
	var mu sync.Mutex
	partial := make([]int64, len(groups)) // bytes read of unfinished groups
	var lastDrawn int64
	report := func(k int) {
		if opts.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if k >= 0 {
			prog.GroupsDone++
			prog.BytesRead += sizes[k] - partial[k]
			partial[k] = 0
		}
		opts.Progress(prog)
	}
	// progressWithin reports the bytes read inside group k, every 16 MiB.
	progressWithin := func(k int) func(int64) {
		if opts.Progress == nil {
			return nil
		}
		return func(n int64) {
			mu.Lock()
			defer mu.Unlock()
			if partial[k]+n > sizes[k] {
				n = max(sizes[k]-partial[k], 0)
			}
			partial[k] += n
			prog.BytesRead += n
			if prog.BytesRead-lastDrawn >= 16<<20 {
				lastDrawn = prog.BytesRead
				opts.Progress(prog)
			}
		}
	}
	report(-1)

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
				gopts.OnBytes = progressWithin(k)
				gr, err := Verify(ctx, groups[k], gopts)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					continue
				}
				rep.Groups[k] = gr
				report(k)
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
