package inspect

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.uber.org/zap"
)

// SnapFile is one *.snap file of a group, read with etcd's own snap.Read
// (which, unlike Snapshotter.Load, never renames a broken file).
type SnapFile struct {
	Path string `json:"path"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	// NameTerm and NameIndex are parsed from the name (%016x-%016x.snap);
	// NameOK is false when the name does not parse.
	NameTerm  uint64 `json:"name_term"`
	NameIndex uint64 `json:"name_index"`
	NameOK    bool   `json:"-"`
	// OK is true when the file decodes and its CRC holds; Err says why not.
	OK  bool   `json:"ok"`
	Err string `json:"error,omitempty"`
	// Term, Index, Voters, Learners and DataSize come from the decoded
	// snapshot's metadata.
	Term     uint64   `json:"term"`
	Index    uint64   `json:"index"`
	Voters   []uint64 `json:"voters"`
	Learners []uint64 `json:"learners"`
	DataSize int      `json:"data_size"`
}

// ListSnapFiles reads every *.snap file of snapDir, newest name first as
// etcd tries them. A missing directory holds no files.
func ListSnapFiles(snapDir string) ([]SnapFile, error) {
	if snapDir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(snapDir)
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".snap") && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	out := make([]SnapFile, 0, len(names))
	lg := zap.NewNop()
	for _, name := range names {
		p := filepath.Join(snapDir, name)
		sf := SnapFile{Path: p, Name: name}
		fi, err := os.Stat(p)
		if isNotExist(err) {
			// Purged by a live server since the directory was listed.
			continue
		}
		if err == nil {
			sf.Size = fi.Size()
		}
		if _, err := fmt.Sscanf(name, "%016x-%016x.snap", &sf.NameTerm, &sf.NameIndex); err == nil {
			sf.NameOK = true
		}
		s, err := snap.Read(lg, p)
		if err != nil {
			if os.IsPermission(err) {
				return nil, err
			}
			if isNotExist(err) {
				continue
			}
			sf.Err = err.Error()
		} else {
			md := s.GetMetadata()
			sf.OK = true
			sf.Term, sf.Index = md.GetTerm(), md.GetIndex()
			sf.Voters = md.GetConfState().GetVoters()
			sf.Learners = md.GetConfState().GetLearners()
			sf.DataSize = len(s.GetData())
		}
		out = append(out, sf)
	}
	return out, nil
}
