package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

func init() { extraCommands = append(extraCommands, newSummaryCmd) }

// The sample summaries under testdata/fleet are what summary writes for
// the sample; TestFleetSamplesUpToDate fails when they are stale.
//go:generate sh -c "cd .. && go run . summary testdata/sample/node-1 -o json > testdata/fleet/node-1.json"
//go:generate sh -c "cd .. && go run . summary testdata/sample/node-2 -o json > testdata/fleet/node-2.json"
//go:generate sh -c "cd .. && go run . summary testdata/sample/node-3 -o json > testdata/fleet/node-3.json"
//go:generate sh -c "cd .. && go run . summary testdata/sample/node-4 -o json > testdata/fleet/node-4.json"

type summaryOptions struct {
	sel       selector
	dirs      replicaDirs
	server    string
	hashRange uint64
}

func newSummaryCmd(g *globals) *cobra.Command {
	o := &summaryOptions{}
	cmd := &cobra.Command{
		Use:   "summary PATH...",
		Short: "Summarise each group in a few KB, for compare, recover plan and report on another machine",
		Long: `Write a small summary of every Raft group found under each PATH: what compare,
recover plan and report need, so that a fleet's replicas can be compared
without copying their WALs. Run it on every host (a Kubernetes Job or
DaemonSet, an ssh loop, a CI matrix), collect the files, and give them to
raftctl compare, raftctl recover plan or raftctl report in place of the
directories.

A summary holds, per group: its name (its path below PATH, the same on every
host), the etcd member and cluster IDs from the WAL metadata, the HardState,
the WAL's snapshot records and the .snap files, the segment inventory (names,
sizes, where the records end), verify's status and findings, the term runs of
the effective log (the index range of each term), and a chain of content
hashes: one xxhash64 per --hash-range indexes over each entry's index, term,
type and data. Two replicas that hold the same entries have the same hashes;
compare reports a range with the same terms and different hashes as a safety
violation (same index and term, different bytes: corruption or a bug).

Each group is read once, by verify's pass (memory flat), which also computes
the content hashes. The output is a few KB per group plus about 60 bytes per
--hash-range indexes of log.

-o json writes one JSON document per PATH (schema_version 2, kind
"raftctl-summary"; see the README's "Fleets" section), one after the other;
-o jsonl one per line; -o table one row per group. --server names the host
in the summary (default: the PATH), the name compare and report show.

Exit status 0 means every group was summarised, whatever verify found (the
summary holds the verdict: judge it with raftctl report --fail-on); 3 means a
PATH could not be read.

` + replicaDirsHelp + `

Read-only: never changes a byte and takes no lock.

` + exitStatusHelp(),
		Example: `  $ raftctl summary testdata/sample/node-1 -o json > testdata/fleet/node-1.json
  $ raftctl summary testdata/sample/node-2 --server host-2 --group group-1 -o jsonl
  $ raftctl summary testdata/sample/node-1 testdata/sample/node-2`,
		Args: cobra.MinimumNArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	o.dirs.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "name of this host in the summary (default: the PATH; only with one PATH)")
	f.Uint64Var(&o.hashRange, "hash-range", inspect.DefaultHashRange, "indexes per content hash (summaries compared must use the same)")
	return cmd
}

func (o *summaryOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode()
	if err != nil {
		return err
	}
	if o.server != "" && len(args) > 1 {
		return usageErrorf("--server names one host: give one PATH")
	}
	if o.hashRange == 0 {
		return usageErrorf("--hash-range 0: want 1 or more")
	}
	if err := o.dirs.check(args); err != nil {
		return err
	}
	var sums []*inspect.HostSummary
	for k, p := range args {
		dir := p
		if isBundleArg(p) {
			if o.dirs.any(k) {
				return usageErrorf("%s: a bundle holds its own layout: give '' as its --wal-dir and --snap-dir", p)
			}
			root, cleanup, err := openBundle(cmd, p)
			if err != nil {
				return err
			}
			defer cleanup()
			dir = root
		}
		groups, err := o.dirs.forPath(&o.sel, k).groups(g, []string{dir})
		if err != nil {
			return err
		}
		server := o.server
		if server == "" {
			server = p
		}
		s, err := inspect.SummarizeHost(cmd.Context(), p, groups, inspect.SummaryOptions{Server: server, HashRange: o.hashRange})
		if err != nil {
			return err
		}
		sums = append(sums, s)
	}
	switch mode {
	case format.ModeJSON:
		for _, s := range sums {
			if err := format.WriteJSON(g.io.Out, s); err != nil {
				return err
			}
		}
	case format.ModeJSONL:
		w := format.NewJSONL(g.io.Out)
		for _, s := range sums {
			if err := w.Write(s); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	default:
		if err := renderSummaryTable(g, mode, sums); err != nil {
			return err
		}
	}
	for _, s := range sums {
		for _, fg := range s.Groups {
			if fg.NoLog {
				return noVerdictf("%s: group %s: %s", s.Server, fg.Name, fg.Err)
			}
		}
	}
	return nil
}

func renderSummaryTable(g *globals, mode format.Mode, sums []*inspect.HostSummary) error {
	sc := g.scheme(mode)
	t := &format.Table{Headers: []string{"server", "group", "member", "first", "last", "term", "hardstate t/v/c", "segments", "hashes", "status"},
		Truncatable: []bool{true, true}, Key: []bool{true, true}, Drop: []int{3, 7, 8}}
	for _, s := range sums {
		for _, fg := range s.Groups {
			status := severityCell(sc, fg.Status)
			var codes []string
			seen := map[string]bool{}
			for _, f := range fg.Findings {
				if f.Severity.AtLeast(inspect.SeverityWarning) && !seen[f.Code] {
					seen[f.Code] = true
					codes = append(codes, f.Code)
				}
			}
			if len(codes) > 0 {
				status += " " + strings.Join(codes, ",")
			}
			t.Rows = append(t.Rows, []string{s.Server, fg.Name, orDash(fg.MemberID), u64(fg.FirstIndex), u64(fg.LastIndex), u64(fg.LastTerm),
				fmt.Sprintf("%d/%d/%d", fg.HardState.Term, fg.HardState.Vote, fg.HardState.Commit), fmt.Sprint(len(fg.Segments)), fmt.Sprint(len(fg.Hashes)), status})
		}
	}
	return t.Render(g.io.Out, mode, format.TableOptions{Width: g.io.Width, PlainHeader: true})
}

// isSummaryArg reports whether a PATH argument names a summary file (it
// ends in .json or .jsonl and is a regular file).
func isSummaryArg(p string) bool {
	if !strings.HasSuffix(p, ".json") && !strings.HasSuffix(p, ".jsonl") {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// readSummaries reads every summary in a file (one or more JSON documents,
// one after the other, or one per line).
func readSummaries(p string) ([]*inspect.HostSummary, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, describeFSError(err)
	}
	defer f.Close()
	var out []*inspect.HostSummary
	dec := inspect.NewHostSummaryDecoder(f)
	for {
		s, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, usageErrorf("%s: %v", p, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, usageErrorf("%s: holds no summary", p)
	}
	return out, nil
}

// compareSources turns compare's and recover plan's arguments into
// sources: directories as they are, bundles (PATHs ending in .tar.gz)
// restored into a temporary directory that cleanup removes, summaries
// (PATHs ending in .json, or --summary files) read, every one filtered by
// --group.
func compareSources(cmd *cobra.Command, g *globals, sel *selector, dirs *replicaDirs, args, summaryFiles []string) (srcs []inspect.CompareSource, cleanup func(), err error) {
	var cleanups []func()
	cleanup = func() {
		for _, c := range cleanups {
			c()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	srcs, err = compareSourcesIn(cmd, g, sel, dirs, args, summaryFiles, &cleanups)
	return srcs, cleanup, err
}

func compareSourcesIn(cmd *cobra.Command, g *globals, sel *selector, dirs *replicaDirs, args, summaryFiles []string, cleanups *[]func()) ([]inspect.CompareSource, error) {
	if err := inspect.ValidateGlobs(sel.globs); err != nil {
		return nil, usageErrorf("%v", err)
	}
	var dirPaths []string
	for _, p := range args {
		if !isSummaryArg(p) {
			dirPaths = append(dirPaths, p)
		}
	}
	if err := dirs.check(dirPaths); err != nil {
		return nil, err
	}
	k := -1 // the directory PATH's position, for --wal-dir and --snap-dir
	var out []inspect.CompareSource
	addSummaries := func(p string) error {
		sums, err := readSummaries(p)
		if err != nil {
			return err
		}
		for _, s := range sums {
			picked := s.Select(sel.globs)
			if len(picked) == 0 {
				return inputErrorf("%s: no group of %s matches --group %v", p, s.Server, sel.globs)
			}
			out = append(out, inspect.CompareSource{Server: s.Server, Summary: s, SummaryGroups: picked})
		}
		return nil
	}
	for _, p := range args {
		if isSummaryArg(p) {
			if err := addSummaries(p); err != nil {
				return nil, err
			}
			continue
		}
		k++
		dir := p
		if isBundleArg(p) {
			if dirs.any(k) {
				return nil, usageErrorf("%s: a bundle holds its own layout: give '' as its --wal-dir and --snap-dir", p)
			}
			root, c, err := openBundle(cmd, p)
			if err != nil {
				return nil, err
			}
			*cleanups = append(*cleanups, c)
			dir = root
		}
		gs, err := dirs.forPath(sel, k).groups(g, []string{dir})
		if err != nil {
			return nil, err
		}
		out = append(out, inspect.CompareSource{Server: p, Groups: gs})
	}
	for _, p := range summaryFiles {
		if err := addSummaries(p); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	for _, s := range out {
		if seen[s.Server] && s.Summary != nil {
			return nil, usageErrorf("%s is given twice (a summary names its host with --server when it was written)", s.Server)
		}
		seen[s.Server] = true
	}
	return out, nil
}
