package cmd

import (
	"errors"
	"fmt"
	"os"
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
		Long: `Convert legacy storage formats into Raft groups written with etcd's wal
package, that a raft node restarts from.

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

The log holds, first, the bootstrap raft.StartNode would write: one
conf-change (AddNode) entry per --members id at term 1; then one normal entry
per legacy record in the original order (rotated files by their end
timestamp, then current), contiguous indexes, at --term. The HardState is that
term with commit = the last index. Entry data holds the exact legacy record,
header and payload (--data record: lossless and reversible; it keeps the
timestamp and key hash, the only link to the posting list), or only the
payload (--data payload: the timestamp and hash are dropped).

The output is written with etcd's wal package into a hidden directory beside
DATA_DIR/<name>, fsynced (every segment and directory), read back through
raftctl's reader and compared with the source (record count and a checksum of
every payload), then renamed into place. An existing group is never
overwritten. A torn record at the end of the last file is the normal outcome of
a crash: it is dropped and reported (--strict refuses instead); torn or
impossible data anywhere else is an error naming the file and offset.

--dry-run reads and decodes everything, reports files, records, bytes, the
timestamp range and every anomaly, and writes nothing; with -o jsonl it lists
the decoded records. Its exit status is 1 when it found anomalies (warnings or
a dropped torn tail), 0 otherwise.

WARNING: the source directories are only read, but DATA_DIR gains a group;
check the target with raftctl verify afterwards.

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
	f.Uint64Var(&o.term, "term", 1, "term of the migrated entries")
	f.StringVar(&o.data, "data", "record", "entry data: record (header and payload, lossless) or payload")
	f.Int64Var(&o.segmentSize, "segment-size", migrate.DefaultSegmentSize, "WAL segment size in bytes")
	f.BoolVar(&o.strict, "strict", false, "refuse a torn record at the end instead of dropping it")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "read and report everything, write nothing")
	f.StringVar(&o.prefix, "prefix", "", "file prefix (default: detect dgraph, mutations or the only prefix)")
	return cmd
}

func (o *migrateOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode()
	if err != nil {
		return err
	}
	if o.out == "" && !o.dryRun {
		return usageErrorf("--out DATA_DIR is required (or --dry-run)")
	}
	if o.name != "" && len(args) > 1 {
		return usageErrorf("--name names one group: give one SRC_DIR")
	}
	if o.data != "record" && o.data != "payload" {
		return usageErrorf("--data %q: want record or payload", o.data)
	}
	var members []uint64
	for _, m := range o.members {
		id, err := strconv.ParseUint(strings.TrimSpace(m), 10, 64)
		if err != nil || id == 0 {
			return usageErrorf("--members: %q is not a node id (a positive integer)", m)
		}
		members = append(members, id)
	}
	if o.data == "payload" && !o.dryRun {
		fmt.Fprintln(g.io.ErrOut, g.errScheme().Warn("warning: ")+"--data payload drops each record's timestamp and key hash: the migration is not reversible")
	}
	var jsonl *format.JSONLWriter
	if mode == format.ModeJSONL {
		jsonl = format.NewJSONL(g.io.Out)
		defer jsonl.Flush()
	}
	var results []*migrate.Result
	anomalies := false
	for _, src := range args {
		name := o.name
		if name == "" {
			abs, err := filepath.Abs(src)
			if err != nil {
				return err
			}
			name = filepath.Base(abs)
		}
		opts := migrate.CommitlogOptions{
			Source: src, Prefix: o.prefix, Out: o.out, Name: name, Members: members, Term: o.term,
			Data: migrate.DataMode(o.data), SegmentSize: o.segmentSize, Strict: o.strict, DryRun: o.dryRun,
		}
		if o.dryRun && o.out == "" {
			opts.Name = ""
		}
		if jsonl != nil && o.dryRun {
			opts.OnRecord = func(r commitlog.Record, p commitlog.Posting) error {
				return jsonl.Write(migrateRecordJSON{Source: src, File: r.File, Offset: r.Offset, TS: r.TS,
					Time: time.Unix(0, r.TS).UTC().Format(time.RFC3339Nano), Hash: fmt.Sprintf("%08x", r.Hash), Size: r.Size, Posting: p})
			}
		}
		bar := o.progress(g, src)
		if bar != nil {
			name := filepath.Base(src)
			opts.Progress = func(bytes, records int64) {
				bar.Describe(fmt.Sprintf("%s: %d records", name, records))
				_ = bar.Set64(bytes)
			}
		}
		res, err := migrate.Commitlog(cmd.Context(), opts)
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(g.io.ErrOut)
		}
		if err != nil {
			return migrateError(src, err)
		}
		results = append(results, res)
		if len(res.Warnings) > 0 || res.DroppedBytes > 0 {
			anomalies = true
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(g.io.ErrOut, "%s%s: %s offset %d: %s\n", g.errScheme().Warn("warning: "), src, w.File, w.Offset, w.Message)
		}
		if res.DroppedBytes > 0 {
			fmt.Fprintf(g.io.ErrOut, "%s%s: dropped a torn record of %d bytes at the end of %s (offset %d)\n",
				g.errScheme().Warn("warning: "), src, res.DroppedBytes, res.DroppedFile, res.DroppedOffset)
		}
	}
	switch mode {
	case format.ModeJSONL:
		if !o.dryRun {
			for _, r := range results {
				if err := jsonl.Write(r); err != nil {
					return err
				}
			}
		}
	case format.ModeJSON:
		if err := format.WriteJSON(g.io.Out, struct {
			SchemaVersion int               `json:"schema_version"`
			Migrations    []*migrate.Result `json:"migrations"`
		}{1, results}); err != nil {
			return err
		}
	default:
		t := &format.Table{Headers: []string{"source", "output", "files", "records", "bytes", "first ts", "last ts", "last index", "segments"}, Truncatable: []bool{true, true}}
		for _, r := range results {
			out := r.Output
			if out == "" {
				out = "(dry run)"
			}
			t.Rows = append(t.Rows, []string{r.Source, out, strconv.Itoa(len(r.Files)), strconv.FormatInt(r.Records, 10),
				walBytes(mode, r.Bytes), tsString(r.FirstTS, r.Records), tsString(r.LastTS, r.Records), u64(r.LastIndex), strconv.Itoa(r.Segments)})
		}
		if err := t.Render(g.io.Out, mode, format.TableOptions{Width: g.io.Width}); err != nil {
			return err
		}
	}
	if o.dryRun && anomalies {
		return findings()
	}
	return nil
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
func (o *migrateOptions) progress(g *globals, src string) *progressbar.ProgressBar {
	if !g.io.ErrTTY {
		return nil
	}
	d, err := commitlog.Open(src)
	if err != nil {
		return nil
	}
	var total int64
	for _, f := range d.Files {
		total += f.Size
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(g.io.ErrOut),
		progressbar.OptionSetDescription(filepath.Base(src)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func migrateError(src string, err error) error {
	switch {
	case errors.Is(err, migrate.ErrExists), errors.Is(err, migrate.ErrInvalidOptions):
		return &exitError{code: ExitUsage, err: fmt.Errorf("%s: %w", src, err)}
	case errors.Is(err, os.ErrNotExist):
		return &exitError{code: ExitUsage, err: describeFSError(err)}
	}
	return &exitError{code: ExitNoVerdict, err: fmt.Errorf("%s: %w", src, describeFSError(err))}
}
