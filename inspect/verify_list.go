package inspect

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// listSegmentsStable lists the WAL directory until two listings in a row
// agree: a directory read beside a live server that cuts and purges
// segments can miss a file renamed into place while it ran.
func listSegmentsStable(walDir string) ([]Segment, []string, error) {
	segs, ignored, err := ListSegments(walDir)
	for try := 0; err == nil && try < verifyRetries; try++ {
		again, ign2, err2 := ListSegments(walDir)
		if err2 != nil {
			return nil, nil, err2
		}
		if slices.EqualFunc(segs, again, func(a, b Segment) bool { return a.Name == b.Name }) {
			return segs, ignored, nil
		}
		segs, ignored = again, ign2
	}
	return segs, ignored, err
}

// checkIgnored reports the files of the WAL directory that etcd ignores,
// except the .tmp files of its file pipeline (see writermodel.go).
func (v *verifier) checkIgnored(ignored []string) {
	for _, name := range ignored {
		if strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".wal.broken") {
			// etcd's preallocated next segment or a leftover of a cut;
			// the copy etcd's wal.Repair keeps of a segment it truncated.
			continue
		}
		p := filepath.Join(v.g.WALDir, name)
		what := "not a WAL segment name"
		if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
			what = "not a regular file"
		}
		v.add(CodeUnknownFile, p, -1, 0, fmt.Sprintf("%s in the WAL directory is %s; etcd ignores it", name, what))
	}
}

// listSnaps reads the snapshot directory and reports the files etcd
// cannot use on their own.
func (v *verifier) listSnaps() error {
	snaps, err := ListSnapFiles(v.g.SnapDir)
	if err != nil {
		return &verifyNoVerdict{err}
	}
	v.snaps = snaps
	v.checkSnapFiles()
	return nil
}

// checkSnapFiles reports .snap files that etcd cannot use on their own:
// unreadable, misnamed, or named one thing and holding another.
func (v *verifier) checkSnapFiles() {
	for k := range v.snaps {
		s := &v.snaps[k]
		switch {
		case !s.NameOK:
			v.add(CodeUnknownFile, s.Path, -1, 0, fmt.Sprintf("%s in the snapshot directory is not named %%016x-%%016x.snap; etcd ignores it", s.Name))
		case !s.OK:
			// Judged with the WAL's records (checkSnapshots): one being
			// written beside a live server has no record yet.
			v.corrupt = append(v.corrupt, s)
		case s.Index != s.NameIndex || s.Term != s.NameTerm:
			v.add(CodeSnapshotNameMismatch, s.Path, -1, s.Index, fmt.Sprintf("snapshot file %s is named for index %d term %d but holds the snapshot at index %d term %d; etcd picks files by name and would restart from the wrong state", s.Name, s.NameIndex, s.NameTerm, s.Index, s.Term))
		}
	}
}

func (v *verifier) checkSegmentNames() {
	for k, s := range v.segs {
		if !s.Canonical {
			v.add(CodeSegmentName, s.Path, -1, 0, fmt.Sprintf("segment %s is not named canonically (etcd writes %s); etcd reads segments in name order, so a non-canonical name can sort out of place", s.Name, SegmentName(s.Seq, s.Index)))
		}
		if k == 0 {
			continue
		}
		p := v.segs[k-1]
		switch {
		case s.Seq == p.Seq:
			v.add(CodeSegmentSequence, s.Path, -1, 0, fmt.Sprintf("segments %s and %s have the same sequence number %d", p.Name, s.Name, s.Seq))
		case s.Seq < p.Seq:
			v.add(CodeSegmentSequence, s.Path, -1, 0, fmt.Sprintf("segment %s (sequence %d) sorts after %s (sequence %d): etcd reads segments in name order", s.Name, s.Seq, p.Name, p.Seq))
		case s.Seq != p.Seq+1:
			missing := fmt.Sprintf("%d", p.Seq+1)
			if s.Seq-p.Seq > 2 {
				missing = fmt.Sprintf("%d to %d", p.Seq+1, s.Seq-1)
			}
			v.add(CodeSegmentSequence, s.Path, -1, 0, fmt.Sprintf("segment %s (sequence %d) follows %s (sequence %d): sequence %s is missing, and etcd refuses to open the WAL across the hole", s.Name, s.Seq, p.Name, p.Seq, missing))
		}
	}
}
