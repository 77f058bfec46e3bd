package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/raftctl/raftctl/inspect"
)

// selector picks groups: PATH arguments (or --data-dir) and --group globs.
type selector struct {
	globs []string
	// walDir and snapDir place one group's WAL and snapshots apart from
	// its data directory (etcd's --wal-dir).
	walDir, snapDir string
}

func (s *selector) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&s.globs, "group", "g", nil, "only groups whose name matches this glob (repeatable)")
}

// addDirFlags adds --wal-dir and --snap-dir, for read-only commands.
func (s *selector) addDirFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.walDir, "wal-dir", "", "the group's WAL directory, when it is kept apart from the data directory (etcd's --wal-dir)")
	cmd.Flags().StringVar(&s.snapDir, "snap-dir", "", "the group's snapshot directory, when it is kept apart from the data directory")
}

// dirsHelp documents --wal-dir and --snap-dir in a command's help.
const dirsHelp = `--wal-dir DIR reads the WAL from DIR instead of the data directory's, as
etcd's --wal-dir places it: with one PATH (or --data-dir) the group found
there (or, when it holds no WAL, its member/snap or snap) takes DIR as its
WAL; without a PATH the group is DIR alone, named after the directory above
it. --snap-dir DIR likewise replaces the snapshot directory.`

// explicitGroup builds the one group --wal-dir/--snap-dir describe, from
// the groups found under the PATHs (nil when none was).
func (s *selector) explicitGroup(paths []string, found []inspect.Group) (inspect.Group, error) {
	if len(found) > 1 {
		return inspect.Group{}, usageErrorf("--wal-dir/--snap-dir describe one group, but %d were found under %v: name one data directory", len(found), paths)
	}
	var grp inspect.Group
	if len(found) == 1 {
		grp = found[0]
	} else if len(paths) == 1 {
		dir := paths[0]
		grp = inspect.Group{Dir: dir, Name: filepath.Base(filepath.Clean(dir))}
		for _, sd := range []string{filepath.Join(dir, "member", "snap"), filepath.Join(dir, "snap")} {
			if fi, err := os.Stat(sd); err == nil && fi.IsDir() {
				grp.SnapDir = sd
				break
			}
		}
	} else {
		base := s.walDir
		if base == "" {
			base = s.snapDir
		}
		abs, err := filepath.Abs(base)
		if err != nil {
			return inspect.Group{}, err
		}
		grp = inspect.Group{Dir: filepath.Dir(abs), Name: filepath.Base(filepath.Dir(abs))}
	}
	if s.walDir != "" {
		grp.WALDir = s.walDir
	}
	if s.snapDir != "" {
		grp.SnapDir = s.snapDir
	}
	if grp.WALDir == "" {
		return inspect.Group{}, usageErrorf("--snap-dir needs a WAL: give --wal-dir or a PATH holding one")
	}
	grp.Layout = "explicit"
	return grp, nil
}

// groups discovers the groups the user asked for.
func (s *selector) groups(g *globals, args []string) ([]inspect.Group, error) {
	paths, err := g.unbundle(args)
	if err != nil {
		return nil, err
	}
	explicit := s.walDir != "" || s.snapDir != ""
	for _, d := range []string{s.walDir, s.snapDir} {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return nil, usageErrorf("%s: no such directory", d)
		}
	}
	if len(paths) == 0 && g.dataDir != "" {
		paths = []string{g.dataDir}
	}
	if explicit {
		var found []inspect.Group
		if len(paths) > 0 {
			gs, err := inspect.Discover(paths, inspect.DiscoverOptions{})
			var nr *inspect.NotRaftError
			if err != nil && !errors.As(err, &nr) {
				return nil, describeFSError(err)
			}
			found = gs
		}
		grp, err := s.explicitGroup(paths, found)
		if err != nil {
			return nil, err
		}
		return []inspect.Group{grp}, nil
	}
	if len(paths) == 0 {
		if g.dataDir == "" {
			return nil, usageErrorf("no PATH given and no --data-dir (or RAFTCTL_DATA_DIR, or data-dir in the config file)")
		}
		paths = []string{g.dataDir}
	}
	if err := inspect.ValidateGlobs(s.globs); err != nil {
		return nil, usageErrorf("%v", err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, notFound(p)
		}
	}
	groups, err := inspect.Discover(paths, inspect.DiscoverOptions{Globs: s.globs})
	if err != nil {
		return nil, describeFSError(err)
	}
	if len(groups) == 0 {
		return nil, inputErrorf("no group under %v matches --group %v", paths, s.globs)
	}
	return groups, nil
}

// describeFSError turns file system errors into one clear sentence.
func describeFSError(err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist) && errors.As(err, &pe):
		return fmt.Errorf("%s: no such file or directory", pe.Path)
	case errors.Is(err, fs.ErrPermission) && errors.As(err, &pe):
		return fmt.Errorf("%s: permission denied (run as the user that owns the data, or with sudo)", pe.Path)
	case errors.As(err, &pe):
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// summarizeAll summarizes groups in parallel, keeping their order.
func summarizeAll(ctx context.Context, groups []inspect.Group) ([]*inspect.GroupSummary, error) {
	out := make([]*inspect.GroupSummary, len(groups))
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(defaultParallel())
	for k, grp := range groups {
		eg.Go(func() error {
			s, err := inspect.Summarize(ctx, grp)
			if err != nil {
				return fmt.Errorf("group %s: %w", grp.Name, describeFSError(err))
			}
			out[k] = s
			return nil
		})
	}
	return out, eg.Wait()
}

// stopProblem says what a decode stop means for a read-only command: nil
// for a clean end, a warning for a torn write at the end of the last
// segment (how a crash during append looks), an error otherwise.
func stopProblem(grp inspect.Group, l *inspect.Log) (warning string, err error) {
	name, st := grp.Name, l.Stop
	if l.Records == 0 && len(l.Segments) > 0 && (st != nil || l.Segments[0].Size > 0) {
		where := l.Segments[0].Path
		if st != nil {
			where = fmt.Sprintf("%s offset %d: %s", st.Path, st.Offset, st.Msg)
		}
		return "", fmt.Errorf("group %s: no valid WAL record: %s; this is not a WAL etcd could read (run `raftctl verify`)", name, where)
	}
	if st == nil {
		return "", nil
	}
	// One model of the end of the log: what verify would say of it.
	f, stopped, err := inspect.JudgeStop(grp, l)
	switch {
	case err != nil:
		return "", fmt.Errorf("group %s: %w", name, describeFSError(err))
	case !stopped:
		return "", nil
	case !f.Severity.AtLeast(inspect.SeverityError):
		return fmt.Sprintf("group %s: %s (%s; see `raftctl verify`)", name, f.Message, f.Code), nil
	}
	return "", fmt.Errorf("group %s: %s offset %d: %s (%s); run `raftctl verify` for a full report", name, st.Path, st.Offset, st.Msg, f.Code)
}
