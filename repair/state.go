// The state a plan is made from: one read of a group under its lock.

package repair

import (
	"context"
	"os"

	"github.com/raftctl/raftctl/inspect"
)

// groupState is one read of a group under lock.
type groupState struct {
	segs    []inspect.Segment
	ignored []string
	log     *inspect.Log
	snaps   []inspect.SnapFile
	// held are the lock's descriptors of the segments: every read of a
	// segment under the lock goes through them (segs read through them
	// too), so that one change opens each segment as few times as it can.
	held map[string]*os.File
}

// readInput is what the planners read from: the lock they hold (its
// descriptors are read through), and verify's report made under that lock
// (its log is used when it covers the WAL as listed now) or nil.
type readInput struct {
	lock *GroupLock
	rep  *inspect.GroupReport
}

func readState(ctx context.Context, g inspect.Group, in readInput) (*groupState, error) {
	segs, ignored, err := inspect.OpenGroup(g)
	if err != nil {
		return nil, err
	}
	held := in.lock.held()
	segs = inspect.HoldSegments(segs, held)
	var l *inspect.Log
	if in.rep != nil {
		if rl, rsegs := in.rep.Read(); rl != nil && sameListing(rsegs, segs) {
			l = rl
		}
	}
	if l == nil {
		if l, err = inspect.ReadLog(ctx, segs); err != nil {
			return nil, err
		}
	}
	if l.Stop != nil && l.Stop.Kind == inspect.KindIO {
		return nil, l.Stop
	}
	snaps, err := inspect.ListSnapFiles(g.SnapDir)
	if err != nil {
		return nil, err
	}
	return &groupState{segs: segs, ignored: ignored, log: l, snaps: snaps, held: held}, nil
}

// sameListing reports whether two listings of a WAL directory name the
// same segments with the same sizes.
func sameListing(a, b []inspect.Segment) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k].Path != b[k].Path || a[k].Size != b[k].Size {
			return false
		}
	}
	return true
}
