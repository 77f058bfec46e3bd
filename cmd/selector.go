package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/raftctl/raftctl/inspect"
)

// selector picks groups: PATH arguments (or --data-dir) and --group globs.
type selector struct {
	globs []string
}

func (s *selector) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&s.globs, "group", "g", nil, "only groups whose name matches this glob (repeatable)")
}

// groups discovers the groups the user asked for.
func (s *selector) groups(g *globals, args []string) ([]inspect.Group, error) {
	paths := args
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
			return nil, &exitError{code: ExitUsage, err: fmt.Errorf("%s: no such file or directory", p)}
		}
	}
	groups, err := inspect.Discover(paths, inspect.DiscoverOptions{Globs: s.globs})
	if err != nil {
		return nil, describeFSError(err)
	}
	if len(groups) == 0 {
		return nil, &exitError{code: ExitUsage, err: fmt.Errorf("no group under %v matches --group %v", paths, s.globs)}
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
