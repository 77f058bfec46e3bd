package cmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/migrate"
	"github.com/raftctl/raftctl/migrate/commitlog"
)

func init() { extraCommands = append(extraCommands, newMigrateCmd) }

func newMigrateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Convert legacy storage into Raft WAL segments",
		Long: `Convert legacy storage formats into Raft groups in etcd's WAL format (byte
for byte what etcd's wal package writes), that a raft node restarts from.

` + exitStatusHelp(),
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return usageErrorf("missing subcommand: commitlog")
		}),
	}
	cmd.AddCommand(newMigrateCommitlogCmd(g))
	return cmd
}

type migrateOptions struct {
	out         string
	name        string
	members     []string
	term        uint64
	data        string
	segmentSize int64
	strict      bool
	dryRun      bool
	prefix      string
	include     []string
	skip        []string
}

func newMigrateCommitlogCmd(g *globals) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "commitlog SRC_DIR... --out DATA_DIR",
		Short: "Convert Dgraph's 2015-2016 commit-log directories into Raft groups",
		Long: `Convert legacy commit-log directories (Dgraph v0.3 to v0.4.4: files
<prefix>-<hex endTs>.log and <prefix>-current.log of 16-byte-header records
with a flatbuffer posting, no checksum) into Raft groups. Each SRC_DIR (one
server instance) becomes the group DATA_DIR/<name>/{wal,snap}, named after
SRC_DIR's base name (or --name, with one source).

Files are chosen as the original server chose them: the whole tree under
SRC_DIR is walked, subdirectories included; rotated files are read by the
numeric value of their end timestamp, then SRC_DIR/<prefix>-current.log. A
file holding data that the original server would have refused to start on
(dgraph-0x1f.log, dgraph-foo.log, an end timestamp that overflows) or never
replayed (a negative end timestamp, a current file in a subdirectory) stops
the migration before anything is written, naming it. Decide for each:
--include FILE reads it where the timestamp of its last record puts it
(--include FILE=HEXTS places it as if named for HEXTS), --skip FILE leaves
it out (any file can be skipped; skipped files are listed in the result).

The log holds, first, the bootstrap raft.StartNode would write: one
conf-change (AddNode) entry per --members id at term 1; then one normal entry
per legacy record in that order, contiguous indexes, at --term. The
HardState is that term with commit = the last index. Entry data holds the
exact legacy record, header and payload (--data record: lossless and
reversible; it keeps the timestamp and key hash, the only link to the posting
list), or only the payload (--data payload: the timestamp and hash are
dropped). raftctl wal dump --decoder dgraph shows the postings.

Everything is checked before the first byte is written: flags, group names
unique across the SRC_DIRs, no existing output, every SRC_DIR listed. Each
group is then written in etcd's WAL format into a hidden directory beside
DATA_DIR/<name>, fsynced, read back through raftctl's reader and compared
with the source (record count and a checksum of every entry); only when all
groups are verified are they renamed into place. An existing group is never
overwritten. A torn record at the end of the last file is the normal outcome
of a crash: it is dropped and reported (--strict refuses instead); torn or
impossible data anywhere else is an error naming the file and offset. Hidden
directories left by a killed migration are reported with the command that
removes them.

--dry-run makes every check and reads and decodes everything, writes
nothing, and reports what the real run would do; with -o jsonl it lists the
decoded records. It fails exactly when the real run would, with the same
exit status; when it succeeds its exit status is 1 (work to do).

WARNING: the source directories are only read, but DATA_DIR gains groups;
check them with raftctl verify afterwards.

For this command: 0 every group written; 1 a dry run that succeeded (the
real run would write the groups shown); 2 a bad flag, duplicate group names,
an existing output, an --include or --skip that names no file, nothing read
or written; 3 a file the original server would refuse (decide with --include
or --skip), corrupt data, a failed read-back or an I/O error: nothing written
(if a group could not be renamed into place at the very end, the message
names the groups already in place); 130 interrupted, nothing written.

` + exitStatusHelp(),
		Example: `  $ raftctl migrate commitlog testdata/commitlog/m0 --dry-run
  $ raftctl migrate commitlog testdata/commitlog/m0 --dry-run -o jsonl`,
		Annotations: map[string]string{"mutating": "true"},
		Args:        cobra.MinimumNArgs(1),
		RunE:        run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "data directory that receives one group per SRC_DIR (required unless --dry-run)")
	f.StringVar(&o.name, "name", "", "group name (one SRC_DIR only; default: SRC_DIR's base name)")
	f.StringSliceVar(&o.members, "members", []string{"1"}, "raft node ids of the group's members")
	f.Uint64Var(&o.term, "term", 1, "term of the migrated entries (at least 1)")
	f.StringVar(&o.data, "data", "record", "entry data: record (header and payload, lossless) or payload")
	f.Int64Var(&o.segmentSize, "segment-size", migrate.DefaultSegmentSize, "WAL segment size in bytes")
	f.BoolVar(&o.strict, "strict", false, "refuse a torn record at the end instead of dropping it")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "check and read everything, write nothing")
	f.StringVar(&o.prefix, "prefix", "", "file prefix (default: detect dgraph, mutations or the only prefix)")
	f.StringArrayVar(&o.include, "include", nil, "read FILE although the original server would refuse it; FILE=HEXTS sets its place (repeatable)")
	f.StringArrayVar(&o.skip, "skip", nil, "do not read FILE; it is listed as skipped (repeatable)")
	return cmd
}

// sourceFiles are the --include and --skip decisions of one SRC_DIR.
type sourceFiles struct {
	include []commitlog.Include
	skip    []string
}

// validate checks the flags and returns the member ids and, per SRC_DIR,
// the files it includes and skips. Every error is a usage error.
func (o *migrateOptions) validate(args []string) ([]uint64, []sourceFiles, error) {
	if o.out == "" && !o.dryRun {
		return nil, nil, usageErrorf("--out DATA_DIR is required (or --dry-run)")
	}
	if o.name != "" && len(args) > 1 {
		return nil, nil, usageErrorf("--name names one group: give one SRC_DIR")
	}
	if o.data != "record" && o.data != "payload" {
		return nil, nil, usageErrorf("--data %q: want record or payload", o.data)
	}
	if o.term == 0 {
		return nil, nil, usageErrorf("--term 0: raft terms start at 1")
	}
	if len(o.members) == 0 {
		return nil, nil, usageErrorf("--members: at least one node id is required")
	}
	var members []uint64
	seen := map[uint64]bool{}
	for _, m := range o.members {
		id, err := strconv.ParseUint(strings.TrimSpace(m), 10, 64)
		if err != nil || id == 0 {
			return nil, nil, usageErrorf("--members: %q is not a node id (a positive integer)", m)
		}
		if seen[id] {
			return nil, nil, usageErrorf("--members: node id %d given twice", id)
		}
		seen[id] = true
		members = append(members, id)
	}
	abs := make([]string, len(args))
	for i, src := range args {
		a, err := filepath.Abs(src)
		if err != nil {
			return nil, nil, usageErrorf("%s: %v", src, err)
		}
		abs[i] = a
	}
	// owner returns the SRC_DIR holding path p and p relative to it.
	owner := func(flag, p string) (int, string, error) {
		a, err := filepath.Abs(p)
		if err != nil {
			return 0, "", usageErrorf("--%s %s: %v", flag, p, err)
		}
		for i, s := range abs {
			if rel, err := filepath.Rel(s, a); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
				return i, rel, nil
			}
		}
		return 0, "", usageErrorf("--%s %s: not a file inside any SRC_DIR (give it as a path, like the SRC_DIR: %s)", flag, p, filepath.Join(args[0], "dgraph-foo.log"))
	}
	files := make([]sourceFiles, len(args))
	for _, in := range o.include {
		path, ts := in, ""
		if i := strings.LastIndexByte(in, '='); i >= 0 {
			path, ts = in[:i], in[i+1:]
		}
		inc := commitlog.Include{}
		if ts != "" || strings.HasSuffix(in, "=") {
			v, err := strconv.ParseInt(ts, 16, 64)
			if err != nil {
				return nil, nil, usageErrorf("--include %s: %q is not an end timestamp in hex (as in rotated file names)", in, ts)
			}
			inc.EndTS, inc.HasEndTS = v, true
		}
		i, rel, err := owner("include", path)
		if err != nil {
			return nil, nil, err
		}
		inc.File = rel
		files[i].include = append(files[i].include, inc)
	}
	for _, s := range o.skip {
		i, rel, err := owner("skip", s)
		if err != nil {
			return nil, nil, err
		}
		files[i].skip = append(files[i].skip, rel)
	}
	return members, files, nil
}

func (o *migrateOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode()
	if err != nil {
		return err
	}
	members, files, err := o.validate(args)
	if err != nil {
		return err
	}
	if o.data == "payload" && !o.dryRun {
		fmt.Fprintln(g.io.ErrOut, g.errScheme().Warn("warning: ")+"--data payload drops each record's timestamp and key hash: the migration is not reversible")
	}
	var jsonl *format.JSONLWriter
	if mode == format.ModeJSONL {
		jsonl = format.NewJSONL(g.io.Out)
		defer jsonl.Flush()
	}
	all := make([]migrate.CommitlogOptions, len(args))
	for i, src := range args {
		name := o.name
		if name == "" {
			abs, err := filepath.Abs(src)
			if err != nil {
				return err
			}
			name = filepath.Base(abs)
		}
		opts := migrate.CommitlogOptions{
			Source: src, Prefix: o.prefix, Include: files[i].include, Skip: files[i].skip,
			Out: o.out, Name: name, Members: members, Term: o.term,
			Data: migrate.DataMode(o.data), SegmentSize: o.segmentSize, Strict: o.strict, DryRun: o.dryRun,
		}
		if jsonl != nil && o.dryRun {
			opts.OnRecord = func(r commitlog.Record, p commitlog.Posting) error {
				return jsonl.Write(migrateRecordJSON{Source: src, File: r.File, Offset: r.Offset, TS: r.TS,
					Time: time.Unix(0, r.TS).UTC().Format(time.RFC3339Nano), Hash: fmt.Sprintf("%08x", r.Hash), Size: r.Size, Posting: p})
			}
		}
		if bar := o.progress(g, src, files[i]); bar != nil {
			base := filepath.Base(src)
			opts.Progress = func(bytes, records int64) {
				bar.Describe(fmt.Sprintf("%s: %d records", base, records))
				_ = bar.Set64(bytes)
				if bar.IsFinished() {
					_ = bar.Finish()
				}
			}
		}
		all[i] = opts
	}
	rep, err := migrate.CommitlogAll(cmd.Context(), all)
	if g.io.ErrTTY {
		fmt.Fprint(g.io.ErrOut, "\r\033[K") // clear what is left of a progress bar
	}
	o.report(g, rep)
	if rerr := o.render(g, mode, jsonl, rep, err); rerr != nil && err == nil {
		return rerr
	}
	return migrateOutcome(cmd.Context(), rep, err)
}

// migrateOutcome maps a migration's outcome to the exit status
// documented in the command's help (the error's code: migrateExitCode).
func migrateOutcome(ctx context.Context, rep *migrate.Report, err error) error {
	if err == nil {
		if rep.DryRun {
			return findings() // a dry run that succeeded: work to do
		}
		return nil
	}
	msg := migrateMessage(err)
	if w := rep.Written(); len(w) > 0 {
		msg += fmt.Sprintf(" (already in place: %s)", strings.Join(w, ", "))
	} else if !rep.DryRun {
		msg += " (nothing was written)"
	}
	code := migrateExitCode(ctx, err)
	var ue *commitlog.UndecidedError
	if errors.As(err, &ue) {
		msg += "; decide for each: --include FILE (read it where its last record's timestamp puts it; FILE=HEXTS to place it) or --skip FILE"
	}
	return exitWith(code, errors.New(msg))
}

// migrateMessage is err on one line, joined errors separated by "; ".
func migrateMessage(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range j.Unwrap() {
			parts = append(parts, describeFSError(e).Error())
		}
		return strings.Join(parts, "; ")
	}
	return describeFSError(err).Error()
}

// report prints warnings, skipped files and leftovers on stderr.
func (o *migrateOptions) report(g *globals, rep *migrate.Report) {
	warn := g.errScheme().Warn("warning: ")
	for _, r := range rep.Migrations {
		for _, w := range r.Warnings {
			where := filepath.Join(r.Source, filepath.FromSlash(w.File))
			if w.File == "" {
				where = r.Source
			}
			if w.Offset >= 0 {
				where += fmt.Sprintf(" offset %d", w.Offset)
			}
			fmt.Fprintf(g.io.ErrOut, "%s%s: %s\n", warn, where, w.Message)
		}
		for code, n := range r.WarningCounts {
			if n > commitlog.MaxWarningsPerCode {
				fmt.Fprintf(g.io.ErrOut, "%s%s: %d more %s warnings\n", warn, r.Source, n-commitlog.MaxWarningsPerCode, code)
			}
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(g.io.ErrOut, "note: %s: skipped by --skip (%d bytes)\n", filepath.Join(r.Source, filepath.FromSlash(s.Name)), s.Size)
		}
		for _, f := range r.Files {
			if f.Included {
				fmt.Fprintf(g.io.ErrOut, "note: %s: read by --include at end timestamp %x (%d records)\n",
					filepath.Join(r.Source, filepath.FromSlash(f.Name)), f.EndTS, f.Records)
			}
		}
	}
	for _, l := range rep.Leftovers {
		state := ""
		switch {
		case l.Running:
			state = fmt.Sprintf("; process %d is still running: if it is a migration in progress, leave it", l.PID)
		case l.PID != 0:
			state = fmt.Sprintf("; process %d is gone", l.PID)
		}
		fmt.Fprintf(g.io.ErrOut, "%s%s: %d bytes left by an interrupted migration of %s, never visible as a group%s; remove it with: %s\n",
			warn, l.Path, l.Size, l.Group, state, removeCommand(l.Path))
	}
}

// removeCommand is the shell command that removes a leftover directory.
func removeCommand(path string) string {
	return "rm -rf -- '" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}

type migrateLeftoverJSON struct {
	migrate.Leftover
	RemoveCommand string `json:"remove_command"`
}

func (o *migrateOptions) render(g *globals, mode format.Mode, jsonl *format.JSONLWriter, rep *migrate.Report, err error) error {
	leftovers := make([]migrateLeftoverJSON, len(rep.Leftovers))
	for i, l := range rep.Leftovers {
		leftovers[i] = migrateLeftoverJSON{l, removeCommand(l.Path)}
	}
	switch mode {
	case format.ModeJSONL:
		if o.dryRun {
			return nil
		}
		for _, r := range rep.Migrations {
			if err := jsonl.Write(r); err != nil {
				return err
			}
		}
		return nil
	case format.ModeJSON:
		doc := struct {
			SchemaVersion int                   `json:"schema_version"`
			DryRun        bool                  `json:"dry_run"`
			Migrations    []*migrate.Result     `json:"migrations"`
			Written       []string              `json:"written"`
			Leftovers     []migrateLeftoverJSON `json:"leftovers"`
			Error         string                `json:"error,omitempty"`
		}{1, rep.DryRun, rep.Migrations, rep.Written(), leftovers, ""}
		if doc.Migrations == nil {
			doc.Migrations = []*migrate.Result{}
		}
		if doc.Written == nil {
			doc.Written = []string{}
		}
		if err != nil {
			doc.Error = migrateMessage(err)
		}
		return format.WriteJSON(g.io.Out, doc)
	}
	if err != nil && len(rep.Migrations) == 0 {
		return nil
	}
	t := &format.Table{Headers: []string{"source", "output", "status", "files", "skipped", "records", "bytes", "first ts", "last ts", "last index", "segments"}, Truncatable: []bool{true, true}}
	for _, r := range rep.Migrations {
		out, status := r.Output, "written"
		switch {
		case r.DryRun:
			status = "dry run"
			if out == "" {
				out = "-"
			}
		case !r.Written:
			status = "not written"
		}
		t.Rows = append(t.Rows, []string{r.Source, out, status, strconv.Itoa(len(r.Files)), strconv.Itoa(len(r.Skipped)), strconv.FormatInt(r.Records, 10),
			walBytes(mode, r.Bytes), tsString(r.FirstTS, r.Records), tsString(r.LastTS, r.Records), u64(r.LastIndex), strconv.Itoa(r.Segments)})
	}
	return t.Render(g.io.Out, mode, format.TableOptions{Width: g.io.Width})
}

type migrateRecordJSON struct {
	Source  string            `json:"source"`
	File    string            `json:"file"`
	Offset  int64             `json:"offset"`
	TS      int64             `json:"ts"`
	Time    string            `json:"time"`
	Hash    string            `json:"hash"`
	Size    int32             `json:"size"`
	Posting commitlog.Posting `json:"posting"`
}

func tsString(ts, records int64) string {
	if records == 0 {
		return "-"
	}
	return time.Unix(0, ts).UTC().Format(time.RFC3339)
}

// progress returns a progress bar on stderr when it is a terminal.
func (o *migrateOptions) progress(g *globals, src string, files sourceFiles) *progressbar.ProgressBar {
	if !g.io.ErrTTY {
		return nil
	}
	d, err := commitlog.OpenWith(src, commitlog.OpenOptions{Prefix: o.prefix, Include: files.include, Skip: files.skip})
	if err != nil {
		return nil
	}
	return progressbar.NewOptions64(d.Size(),
		progressbar.OptionSetWriter(g.io.ErrOut),
		progressbar.OptionSetDescription(filepath.Base(src)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}
