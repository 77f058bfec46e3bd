package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

func init() { extraCommands = append(extraCommands, newBundleCmd, newUnbundleCmd) }

type bundleOptions struct {
	sel      selector
	out      string
	withData bool
}

func newBundleCmd(g *globals) *cobra.Command {
	o := &bundleOptions{}
	cmd := &cobra.Command{
		Use:   "bundle PATH --out FILE.tar.gz",
		Short: "Pack a PATH's groups into a small debug bundle (zero padding trimmed, payloads replaced by their hash)",
		Long: `Write the Raft groups found under PATH (their wal/ and snap/ files) to a
gzip-compressed tar archive for a bug report: every file's trailing zero bytes
(the WAL's preallocated space) are cut off and restored on extraction, and,
unless --with-data, every entry payload and .snap data of 12 bytes or more is
replaced by its xxhash64 and filler of the same length, with 4 bytes chosen so
that every CRC, the WAL's CRC chain and every offset and size stay what they
were. etcd's backend database (snap/db) is left out unless --with-data.

raftctl unbundle FILE DIR restores the directory: verify, groups, wal
segments, snap list, summary and compare judge it as they judge the original
(wal dump shows the redacted payloads; compare's backend column is empty
without snap/db). summary and compare also read a bundle (a PATH ending in
.tar.gz or .tgz) directly.

Bytes that do not frame as records (damage in the middle of a segment) are
copied as they are: the file list (raftctl-bundle-files.json, last in the
archive; -o json prints it) counts them per file, and raftctl warns on stderr.

Exit status 0 means the bundle was written; 3 means PATH could not be read or
FILE written.

Read-only on PATH: never changes a byte and takes no lock.

` + exitStatusHelp(),
		Example: `  $ raftctl bundle testdata/sample/node-1 --out node-1.tar.gz
  $ raftctl bundle testdata/sample/node-2 --group group-1 --out node-2.tar.gz -o json`,
		Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "the bundle file to write (required; .tar.gz)")
	f.BoolVar(&o.withData, "with-data", false, "keep entry payloads, .snap data and snap/db as they are")
	return cmd
}

// bundleResult is what bundle prints with -o json.
type bundleResult struct {
	SchemaVersion int                     `json:"schema_version"`
	File          string                  `json:"file"`
	Bytes         int64                   `json:"bytes"`
	SourceBytes   int64                   `json:"source_bytes"`
	Manifest      *inspect.BundleManifest `json:"manifest"`
}

func (o *bundleOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode()
	if err != nil {
		return err
	}
	if o.out == "" {
		return usageErrorf("--out FILE is required")
	}
	if !inspect.IsBundleName(o.out) {
		return usageErrorf("--out %s: want a name ending in .tar.gz or .tgz", o.out)
	}
	groups, err := o.sel.groups(g, args)
	if err != nil {
		return err
	}
	tmp := o.out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return describeFSError(err)
	}
	m, err := inspect.WriteBundle(cmd.Context(), f, args[0], groups, inspect.BundleOptions{WithData: o.withData})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, o.out)
	}
	if err != nil {
		os.Remove(tmp)
		return describeFSError(err)
	}
	res := bundleResult{SchemaVersion: 1, File: o.out, Manifest: m}
	if fi, err := os.Stat(o.out); err == nil {
		res.Bytes = fi.Size()
	}
	var unparsed int64
	for _, bf := range m.Files {
		res.SourceBytes += bf.Size
		unparsed += bf.Unparsed
	}
	if unparsed > 0 && !o.withData {
		fmt.Fprintf(g.io.ErrOut, "raftctl: warning: %d bytes do not frame as records and are in the bundle as they are (payloads there are not redacted); see the manifest\n", unparsed)
	}
	if mode == format.ModeJSON || mode == format.ModeJSONL {
		return renderDoc(g, mode, res, []bundleResult{res}, nil)
	}
	fmt.Fprintf(g.io.Out, "%s: %d files, %s (from %s)", o.out, len(m.Files), format.Bytes(res.Bytes), format.Bytes(res.SourceBytes))
	if len(m.Omitted) > 0 {
		fmt.Fprintf(g.io.Out, ", left out: %v", m.Omitted)
	}
	fmt.Fprintln(g.io.Out)
	return nil
}

func newUnbundleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unbundle FILE.tar.gz DIR",
		Short: "Restore a bundle written by raftctl bundle into DIR, for every read-only command",
		Long: `Restore a bundle written by raftctl bundle: DIR/<name of the bundled PATH>/...
receives the files with their zero tails restored (sparse), byte for byte the
original's except for redacted payloads. DIR is created if missing; existing
files are never overwritten. Paths outside DIR, files the manifest does not
list and sizes above 1 TiB are refused.

Exit status 0 means the bundle was restored (the path is printed); 2 means
FILE is not a bundle; 3 means it could not be read or DIR written.

` + exitStatusHelp(),
		Example: `  $ raftctl unbundle node-1.tar.gz restored`,
		Args:    cobra.ExactArgs(2),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return notFound(args[0])
				}
				return describeFSError(err)
			}
			defer f.Close()
			if _, _, err := inspect.ReadBundleManifest(f); err != nil {
				return usageErrorf("%s: %v", args[0], err)
			}
			if _, err := f.Seek(0, 0); err != nil {
				return err
			}
			_, root, err := inspect.ExtractBundle(cmd.Context(), f, args[1])
			if err != nil {
				return describeFSError(err)
			}
			fmt.Fprintln(g.io.Out, root)
			return nil
		}),
	}
	return cmd
}

// openBundle restores a bundle PATH into a temporary directory and returns
// the restored root and a function that removes it.
func openBundle(cmd *cobra.Command, p string) (string, func(), error) {
	return extractBundle(cmd.Context(), p)
}

// extractBundle extracts a bundle to a temporary directory and returns the
// data directory in it and the function that removes it.
func extractBundle(ctx context.Context, p string) (string, func(), error) {
	f, err := os.Open(p)
	if err != nil {
		return "", nil, describeFSError(err)
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "raftctl-bundle-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	_, root, err := inspect.ExtractBundle(ctx, f, dir)
	if err != nil {
		cleanup()
		return "", nil, usageErrorf("%s: %v", p, err)
	}
	return root, cleanup, nil
}

// unbundle replaces every PATH that is a bundle file with the directory
// it is extracted to (removed when the command ends), so that every
// read-only command reads a bundle as if it were the directory.
func (g *globals) unbundle(args []string) ([]string, error) {
	var out []string
	for _, p := range args {
		if !isBundleArg(p) {
			out = append(out, p)
			continue
		}
		root, cleanup, err := extractBundle(context.Background(), p)
		if err != nil {
			return nil, err
		}
		g.cleanups = append(g.cleanups, cleanup)
		out = append(out, root)
	}
	if out == nil {
		out = args
	}
	return out, nil
}

// isBundleArg reports whether a PATH argument is a bundle file.
func isBundleArg(p string) bool {
	if !inspect.IsBundleName(p) {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && filepath.Ext(p) != ""
}
