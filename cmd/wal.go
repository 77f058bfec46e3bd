package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

func newWALCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wal",
		Short: "Read WAL segments: dump entries, list segments",
		Long: `Read the write-ahead logs of Raft groups.

` + exitStatusHelp(),
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return usageErrorf("missing subcommand: dump or segments")
		}),
	}
	cmd.AddCommand(newWALDumpCmd(g), newWALSegmentsCmd(g))
	return cmd
}

type dumpOptions struct {
	sel        selector
	start, end uint64
	term       uint64
	types      []string
	limit      int
	data       string
	decoder    string
	decoderCmd string
	raw        bool

	typeSet map[inspect.EntryType]bool
}

var decoders = []string{"none", "raft", "etcd", "dgraph"}

func newWALDumpCmd(g *globals) *cobra.Command {
	o := &dumpOptions{}
	cmd := &cobra.Command{
		Use:   "dump [PATH...]",
		Short: "Stream the effective log of each group in index order, then its HardState",
		Long: `Stream the entries of each group's effective log in index order, followed by
the group's final HardState. Entries that a later record overwrote (same index,
higher term, written after a leader change) are resolved as raft and etcd's
ReadAll do; --raw instead shows every record as written, with its type, file
and offset, overwritten entries marked.

Payloads are shown per --data (hex, base64, text, len or none; default text
in a table, base64 in JSON). --decoder raft decodes conf changes; --decoder
etcd also decodes etcd's InternalRaftRequest payloads (put, delete, txn,
lease, auth...), so an etcd data directory reads like etcd-dump-logs output.
--decoder dgraph decodes the postings of a migrated Dgraph commit log.
--decoder-cmd CMD starts CMD once (with sh -c) and, for each entry, writes
its payload as one line of hex to CMD's standard input and reads one line of
standard output as the decoded form.

A torn write at the end of the log (a crash during append) ends the dump with
a warning. Any other damage ends the group's dump with an error naming the
file and offset; run raftctl verify for a full report.

Read-only: never changes a byte and takes no lock.

` + exitStatusHelp(),
		Example: `  $ raftctl wal dump testdata/sample --group node-1/group-1 --limit 5
  $ raftctl wal dump testdata/sample -g node-1/group-1 --start-index 10 --end-index 12 --decoder raft -o jsonl
  $ raftctl wal dump testdata/sample -g node-1/group-1 --raw --limit 8`,
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	f := cmd.Flags()
	o.sel.addFlags(cmd)
	f.Uint64Var(&o.start, "start-index", 0, "first index to show (inclusive)")
	f.Uint64Var(&o.end, "end-index", 0, "last index to show (inclusive; 0: no limit)")
	f.Uint64Var(&o.term, "term", 0, "only entries of this term")
	f.StringSliceVar(&o.types, "type", nil, "only entries of these types: normal, conf-change, conf-change-v2")
	f.IntVar(&o.limit, "limit", 0, "at most this many entries (records with --raw) per group; 0: no limit")
	f.StringVar(&o.data, "data", "", "payload display: hex, base64, text, len or none")
	f.StringVar(&o.decoder, "decoder", "none", "decode payloads: none, raft (conf changes), etcd or dgraph (migrated commit logs)")
	f.StringVar(&o.decoderCmd, "decoder-cmd", "", "pipe each payload (one hex line) through this command and show its output line")
	f.BoolVar(&o.raw, "raw", false, "show every record as written, overwritten entries marked")
	return cmd
}

func (o *dumpOptions) validate(mode format.Mode) error {
	if o.end != 0 && o.end < o.start {
		return usageErrorf("--end-index %d is below --start-index %d", o.end, o.start)
	}
	if o.limit < 0 {
		return usageErrorf("--limit must not be negative")
	}
	o.typeSet = nil
	for _, t := range o.types {
		et, err := inspect.ParseEntryType(strings.TrimSpace(t))
		if err != nil {
			return usageErrorf("--type: %v", err)
		}
		if o.typeSet == nil {
			o.typeSet = map[inspect.EntryType]bool{}
		}
		o.typeSet[et] = true
	}
	if o.data == "" {
		o.data = "text"
		if mode == format.ModeJSON || mode == format.ModeJSONL {
			o.data = "base64"
		}
	}
	if _, err := format.Payload(nil, o.data); err != nil {
		return usageErrorf("--data: %v", err)
	}
	if !contains(decoders, o.decoder) {
		return usageErrorf("--decoder %q: want one of %s", o.decoder, strings.Join(decoders, ", "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dumpItem is one line of `wal dump` output; its JSON form is the
// documented contract.
type dumpItem struct {
	Group       string  `json:"group"`
	Kind        string  `json:"kind"`
	Index       *uint64 `json:"index,omitempty"`
	Term        *uint64 `json:"term,omitempty"`
	Type        string  `json:"type,omitempty"`
	Size        *int    `json:"size,omitempty"`
	Data        *string `json:"data,omitempty"`
	Decoded     string  `json:"decoded,omitempty"`
	Vote        *uint64 `json:"vote,omitempty"`
	Commit      *uint64 `json:"commit,omitempty"`
	CRC         *uint32 `json:"crc,omitempty"`
	File        string  `json:"file,omitempty"`
	Offset      *int64  `json:"offset,omitempty"`
	Overwritten *bool   `json:"overwritten,omitempty"`
}

// dumpWriter renders dump items in one of the modes, streaming.
type dumpWriter struct {
	mode    format.Mode
	out     *bufio.Writer
	jsonl   *format.JSONLWriter
	sc      *format.Scheme
	width   int  // terminal width; 0: not a terminal
	multi   bool // several groups: show the group column
	raw     bool
	line    []byte
	gquote  []byte // the current group's name as a JSON string
	nitems  int
	ngroups int
}

func newDumpWriter(w io.Writer, mode format.Mode, sc *format.Scheme, width int, multi, raw bool) *dumpWriter {
	d := &dumpWriter{mode: mode, sc: sc, width: width, multi: multi, raw: raw}
	if mode == format.ModeJSONL {
		d.jsonl = format.NewJSONL(w)
	} else {
		d.out = bufio.NewWriterSize(w, 64<<10)
	}
	return d
}

func (d *dumpWriter) header() {
	switch d.mode {
	case format.ModeJSON:
		d.out.WriteString("{\"schema_version\":1,\"groups\":[")
	case format.ModeTable:
		cols := []string{}
		if d.multi {
			cols = append(cols, fmt.Sprintf("%-16s", "GROUP"))
		}
		if d.raw {
			cols = append(cols, fmt.Sprintf("%-9s %-24s %10s", "RECORD", "FILE", "OFFSET"))
		}
		cols = append(cols, fmt.Sprintf("%10s %6s %-14s %7s  %s", "INDEX", "TERM", "TYPE", "SIZE", "DATA"))
		d.out.WriteString(d.sc.Bold(strings.Join(cols, " ")) + "\n")
	}
}

func (d *dumpWriter) beginGroup(name string) {
	d.ngroups++
	d.gquote, _ = marshalNoEscape(name)
	if d.mode == format.ModeJSON {
		if d.ngroups > 1 {
			d.out.WriteString(",")
		}
		fmt.Fprintf(d.out, "\n{\"name\":%s,\"items\":[", strconv.Quote(name))
		d.nitems = 0
	}
}

func (d *dumpWriter) endGroup() {
	if d.mode == format.ModeJSON {
		d.out.WriteString("]}")
	}
}

func (d *dumpWriter) footer() error {
	if d.mode == format.ModeJSON {
		d.out.WriteString("\n]}\n")
	}
	if d.jsonl != nil {
		return d.jsonl.Flush()
	}
	return d.out.Flush()
}

func (d *dumpWriter) write(it *dumpItem) error {
	switch d.mode {
	case format.ModeJSONL:
		return d.jsonl.Write(it)
	case format.ModeJSON:
		if d.nitems > 0 {
			d.out.WriteString(",")
		}
		d.nitems++
		d.out.WriteString("\n  ")
		b, err := marshalNoEscape(it)
		if err != nil {
			return err
		}
		_, err = d.out.Write(b)
		return err
	}
	var cols []string
	if d.multi {
		cols = append(cols, it.Group)
	}
	if d.raw {
		off := ""
		if it.Offset != nil {
			off = strconv.FormatInt(*it.Offset, 10)
		}
		cols = append(cols, it.Kind, it.File, off)
	}
	idx, term, size, data := "", "", "", ""
	if it.Index != nil {
		idx = u64(*it.Index)
	}
	if it.Term != nil {
		term = u64(*it.Term)
	}
	if it.Size != nil {
		size = strconv.Itoa(*it.Size)
	}
	if it.Data != nil {
		data = *it.Data
	}
	typ := it.Type
	switch it.Kind {
	case "hardstate", "state":
		typ = it.Kind
		data = fmt.Sprintf("term=%d vote=%d commit=%d", deref(it.Term), deref(it.Vote), deref(it.Commit))
		term = ""
	case "snapshot":
		typ = "snapshot"
	case "crc":
		typ = "crc"
		data = fmt.Sprintf("%08x", *it.CRC)
	case "metadata":
		typ = "metadata"
	}
	if it.Decoded != "" {
		data = it.Decoded
	}
	if it.Overwritten != nil && *it.Overwritten {
		data = "(overwritten) " + data
	}
	if d.mode == format.ModePlain {
		cols = append(cols, idx, term, typ, size, data)
		_, err := d.out.WriteString(strings.Join(cols, "\t") + "\n")
		return err
	}
	var b strings.Builder
	if d.multi {
		fmt.Fprintf(&b, "%-16s ", format.Truncate(cols[0], 16))
		cols = cols[1:]
	}
	if d.raw {
		fmt.Fprintf(&b, "%-9s %-24s %10s ", cols[0], format.Truncate(cols[1], 24), cols[2])
	}
	fmt.Fprintf(&b, "%10s %6s %-14s %7s  ", idx, term, typ, size)
	room := d.width - format.DisplayWidth(b.String())
	if d.width <= 0 {
		room = 64
	}
	b.WriteString(cutRight(data, max(room, 16)))
	line := b.String()
	if it.Overwritten != nil && *it.Overwritten {
		line = d.sc.Dim(line)
	}
	if it.Kind == "hardstate" {
		line = d.sc.Bold(line)
	}
	_, err := d.out.WriteString(line + "\n")
	return err
}

// fast reports whether entries can take writeEntry's path.
func (d *dumpWriter) fast() bool {
	return !d.raw && (d.mode == format.ModeJSONL || d.mode == format.ModePlain)
}

// writeEntry writes one entry of the effective log in plain or jsonl mode
// without going through reflection: the hot path of a dump.
func (d *dumpWriter) writeEntry(group string, e *inspect.Entry, data string, decoded string) error {
	b := d.line[:0]
	if d.mode == format.ModePlain {
		if d.multi {
			b = append(b, group...)
			b = append(b, '\t')
		}
		b = strconv.AppendUint(b, e.Index, 10)
		b = append(b, '\t')
		b = strconv.AppendUint(b, e.Term, 10)
		b = append(b, '\t')
		b = append(b, e.Type.String()...)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(len(e.Data)), 10)
		b = append(b, '\t')
		if decoded != "" {
			b = append(b, decoded...)
		} else if data != "none" {
			b = format.AppendPayload(b, e.Data, data)
		}
		b = append(b, '\n')
		d.line = b
		_, err := d.out.Write(b)
		return err
	}
	b = append(b, `{"group":`...)
	b = append(b, d.gquote...)
	b = append(b, `,"kind":"entry","index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = append(b, `,"term":`...)
	b = strconv.AppendUint(b, e.Term, 10)
	b = append(b, `,"type":"`...)
	b = append(b, e.Type.String()...)
	b = append(b, `","size":`...)
	b = strconv.AppendInt(b, int64(len(e.Data)), 10)
	switch data {
	case "none":
	case "text":
		text, _ := format.Payload(e.Data, data)
		q, err := marshalNoEscape(text)
		if err != nil {
			return err
		}
		b = append(b, `,"data":`...)
		b = append(b, q...)
	default:
		b = append(b, `,"data":"`...)
		b = format.AppendPayload(b, e.Data, data)
		b = append(b, '"')
	}
	if decoded != "" {
		q, err := marshalNoEscape(decoded)
		if err != nil {
			return err
		}
		b = append(b, `,"decoded":`...)
		b = append(b, q...)
	}
	b = append(b, "}\n"...)
	d.line = b
	return d.jsonl.WriteRaw(b)
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

var errStopGroup = errors.New("stop group")

func (o *dumpOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode()
	if err != nil {
		return err
	}
	if err := o.validate(mode); err != nil {
		return err
	}
	groups, err := o.sel.groups(g, args)
	if err != nil {
		return err
	}
	var ext *externalDecoder
	if o.decoderCmd != "" {
		if ext, err = startExternalDecoder(cmd.Context(), o.decoderCmd, g.io.ErrOut); err != nil {
			return err
		}
		defer ext.Close()
	}
	w := newDumpWriter(g.io.Out, mode, g.scheme(mode), g.io.Width, len(groups) > 1, o.raw)
	w.header()
	var firstErr error
	for _, grp := range groups {
		if err := o.dumpGroup(cmd.Context(), g, w, grp, ext); err != nil {
			if cmd.Context().Err() != nil {
				w.footer()
				return err
			}
			if firstErr == nil {
				firstErr = err
			} else {
				fmt.Fprintln(g.io.ErrOut, "raftctl: "+err.Error())
			}
		}
	}
	if err := w.footer(); err != nil {
		return err
	}
	return firstErr
}

func (o *dumpOptions) dumpGroup(ctx context.Context, g *globals, w *dumpWriter, grp inspect.Group, ext *externalDecoder) error {
	segs, _, err := inspect.OpenGroup(grp)
	if err != nil {
		return fmt.Errorf("group %s: %w", grp.Name, describeFSError(err))
	}
	l, err := inspect.ReadLog(ctx, segs)
	if err != nil {
		return err
	}
	w.beginGroup(grp.Name)
	n := 0
	entryItem := func(e *inspect.Entry) (*dumpItem, error) {
		it := &dumpItem{Group: grp.Name, Kind: "entry", Index: &e.Index, Term: &e.Term, Type: e.Type.String()}
		size := len(e.Data)
		it.Size = &size
		if o.data != "none" {
			s, _ := format.Payload(e.Data, o.data)
			it.Data = &s
		}
		switch {
		case ext != nil:
			dec, err := ext.Decode(e.Data)
			if err != nil {
				return nil, err
			}
			it.Decoded = dec
		case o.decoder != "none":
			it.Decoded = describeEntry(e, o.decoder)
		}
		return it, nil
	}
	keep := func(e *inspect.Entry) (bool, bool) {
		if e.Index < o.start {
			return false, false
		}
		if o.end != 0 && e.Index > o.end {
			return false, !o.raw
		}
		if o.term != 0 && e.Term != o.term {
			return false, false
		}
		if o.typeSet != nil && !o.typeSet[e.Type] {
			return false, false
		}
		return true, false
	}
	if o.raw {
		sup := l.NewSupersession()
		var e inspect.Entry
		err = inspect.Records(ctx, segs, l, func(r *inspect.Record) error {
			if o.limit > 0 && n >= o.limit {
				return errStopGroup
			}
			off := r.Offset
			it := &dumpItem{Group: grp.Name, Kind: r.Type.String(), File: segs[r.Segment].Name, Offset: &off}
			switch r.Type {
			case inspect.EntryRecord:
				if err := inspect.ParseEntry(r.Data, &e); err != nil {
					return recordError(segs, r, "entry", err)
				}
				if ok, _ := keep(&e); !ok {
					return nil
				}
				ei, err := entryItem(&e)
				if err != nil {
					return err
				}
				ei.File, ei.Offset = it.File, it.Offset
				ow := sup.Superseded(r.Seq, e.Index)
				ei.Overwritten = &ow
				it = ei
			case inspect.StateRecord:
				hs, err := inspect.ParseHardState(r.Data)
				if err != nil {
					return recordError(segs, r, "state", err)
				}
				it.Term, it.Vote, it.Commit = &hs.Term, &hs.Vote, &hs.Commit
			case inspect.SnapshotRecord:
				s, err := inspect.ParseWALSnapshot(r.Data)
				if err != nil {
					return recordError(segs, r, "snapshot", err)
				}
				it.Index, it.Term = &s.Index, &s.Term
			case inspect.CRCRecord:
				c := r.CRC
				it.CRC = &c
			case inspect.MetadataRecord:
				size := len(r.Data)
				it.Size = &size
				if o.data != "none" {
					s, _ := format.Payload(r.Data, o.data)
					it.Data = &s
				}
			}
			n++
			return w.write(it)
		})
	} else {
		err = inspect.EffectiveEntries(ctx, segs, l, func(e *inspect.Entry, r *inspect.Record) error {
			ok, stop := keep(e)
			if stop {
				return errStopGroup
			}
			if !ok {
				return nil
			}
			if o.limit > 0 && n >= o.limit {
				return errStopGroup
			}
			n++
			if w.fast() && ext == nil {
				decoded := ""
				if o.decoder != "none" {
					decoded = describeEntry(e, o.decoder)
				}
				return w.writeEntry(grp.Name, e, o.data, decoded)
			}
			it, err := entryItem(e)
			if err != nil {
				return err
			}
			return w.write(it)
		})
	}
	if err != nil && !errors.Is(err, errStopGroup) {
		w.endGroup()
		if de, ok := inspect.AsDecodeError(err); ok {
			return fmt.Errorf("group %s: %s offset %d: %s; run `raftctl verify` for a full report", grp.Name, de.Path, de.Offset, de.Msg)
		}
		return fmt.Errorf("group %s: %w", grp.Name, err)
	}
	if !o.raw && l.HasHardState {
		hs := l.HardState
		if err := w.write(&dumpItem{Group: grp.Name, Kind: "hardstate", Term: &hs.Term, Vote: &hs.Vote, Commit: &hs.Commit}); err != nil {
			return err
		}
	}
	w.endGroup()
	warn, serr := stopProblem(grp.Name, l)
	if warn != "" {
		fmt.Fprintln(g.io.ErrOut, g.errScheme().Warn("warning: ")+warn)
	}
	return serr
}

// cutRight shortens s to at most width runes, ending with "…".
func cutRight(s string, width int) string {
	if len(s) <= width {
		return s
	}
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
}

// recordError names the file and offset of a record that does not decode.
func recordError(segs []inspect.Segment, r *inspect.Record, what string, err error) error {
	return &inspect.DecodeError{Path: segs[r.Segment].Path, Segment: r.Segment, Offset: r.Offset, Kind: inspect.KindMalformed,
		Msg: what + " record does not decode: " + err.Error(), Err: err}
}
