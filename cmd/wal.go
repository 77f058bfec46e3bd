package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

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
	entryTypes []string
	limit      int
	data       string
	decoder    string
	decoderCmd string
	raw        bool

	decoderTimeout time.Duration

	typeSet  map[inspect.EntryType]bool
	classSet []string // --entry-type, canonical names
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

Each group starts with its WAL metadata when it is etcd's (member and
cluster ID, in hex as etcd prints them) and ends with its HardState (its
vote in hex). In JSON, IDs are strings (jq-safe) and the document has
schema_version 2.

Payloads are shown per --data (hex, base64, text, len or none; default text
in a table, base64 in JSON). Conf changes and empty entries are decoded by
default (--decoder raft; --decoder none shows them as bytes). --decoder etcd
also decodes etcd's payloads: InternalRaftRequest (put, delete, txn, lease,
auth...) and the v2 requests etcd 3.4 and 3.5 write (member attributes,
cluster version), so an etcd data directory reads like etcd-dump-logs
output. --decoder dgraph decodes the postings of a migrated Dgraph commit
log. In a table the decoded form is one line of text; in JSON and JSONL
"decoded" is an object: {"op", "request_type", "key", "value_size",
"member_id", "changes": [{"type", "node_id"}], ...} (see the README), so jq
can select on it.

--entry-type selects entries by etcd-dump-logs' classes (comma-separated,
any case): ConfigChange, Normal, Request (v2), InternalRaftRequest (every
v3 request), IRRRange, IRRPut, IRRDeleteRange, IRRTxn, IRRCompaction,
IRRLeaseGrant, IRRLeaseRevoke, IRRLeaseCheckpoint, IRRAlarm,
IRRClusterVersionSet, IRRClusterMemberAttrSet, IRRDowngradeInfoSet, IRRAuth.

--decoder-cmd CMD starts CMD once (with sh -c) and speaks a line protocol
with it: for each entry, raftctl writes the payload as one line of lower-case
hex (an empty line for an empty payload) to CMD's standard input, and reads
exactly one line from CMD's standard output as the decoded form (in JSON,
embedded as is when it is valid JSON, else as {"text": LINE}). CMD must
flush after every line: a filter that buffers its output (tr, sed without
-u, awk without fflush, python without -u) never answers. raftctl waits
--decoder-timeout (default 10s) for each answer, then stops CMD and fails
with an error naming it.

A range or filter that selects nothing says so on standard error (the
HardState is still shown).

A torn write at the end of the log (a crash during append) ends the dump with
a warning. Any other damage ends the group's dump with an error naming the
file and offset; run raftctl verify for a full report.

` + dirsHelp + `

Read-only: never changes a byte and takes no lock.

` + exitStatusHelp(),
		Example: `  $ raftctl wal dump testdata/sample --group node-1/group-1 --limit 5
  $ raftctl wal dump testdata/sample -g node-1/group-1 --start-index 14 --end-index 16 -o jsonl
  $ raftctl wal dump testdata/sample -g node-1/group-1 --entry-type ConfigChange --data none
  $ raftctl wal dump testdata/sample -g node-1/group-1 --raw --limit 8`,
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	f := cmd.Flags()
	o.sel.addFlags(cmd)
	o.sel.addDirFlags(cmd)
	f.Uint64Var(&o.start, "start-index", 0, "first index to show (inclusive)")
	f.Uint64Var(&o.end, "end-index", 0, "last index to show (inclusive; 0: no limit)")
	f.Uint64Var(&o.term, "term", 0, "only entries of this term")
	f.StringSliceVar(&o.types, "type", nil, "only entries of these types: normal, conf-change, conf-change-v2")
	f.StringSliceVar(&o.entryTypes, "entry-type", nil, "only entries of these etcd-dump-logs classes: ConfigChange, Normal, Request, InternalRaftRequest, IRRPut, IRRDeleteRange, IRRTxn...")
	f.IntVar(&o.limit, "limit", 0, "at most this many entries (records with --raw) per group; 0: no limit")
	f.StringVar(&o.data, "data", "", "payload display: hex, base64, text, len or none")
	f.StringVar(&o.decoder, "decoder", "raft", "decode payloads: none, raft (conf changes), etcd or dgraph (migrated commit logs)")
	f.StringVar(&o.decoderCmd, "decoder-cmd", "", "pipe each payload (one hex line) through this command and show its output line")
	f.DurationVar(&o.decoderTimeout, "decoder-timeout", defaultDecoderTimeout, "how long --decoder-cmd may take to answer one line")
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
	o.classSet = nil
	for _, t := range o.entryTypes {
		c, err := inspect.ParseEtcdEntryType(strings.TrimSpace(t))
		if err != nil {
			return usageErrorf("--entry-type: %v", err)
		}
		o.classSet = append(o.classSet, c)
	}
	if o.decoderTimeout <= 0 {
		return usageErrorf("--decoder-timeout must be positive")
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

var errStopGroup = errors.New("stop group")

func (o *dumpOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode()
	if err != nil {
		return err
	}
	if err := o.validate(mode); err != nil {
		return err
	}
	if !cmd.Flags().Changed("decoder") && needsEtcdDecoder(o.classSet) {
		// --entry-type IRRPut shows what it selected.
		o.decoder = "etcd"
	}
	groups, err := o.sel.groups(g, args)
	if err != nil {
		return err
	}
	var ext *externalDecoder
	if o.decoderCmd != "" {
		if ext, err = startExternalDecoder(cmd.Context(), o.decoderCmd, g.io.ErrOut, o.decoderTimeout); err != nil {
			return err
		}
		defer ext.Close()
	}
	names := make([]string, len(groups))
	for i, grp := range groups {
		names[i] = grp.Name
	}
	w := newDumpWriter(g.io.Out, mode, g.scheme(mode), g.io.Width, names, o.raw)
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

// dumpGroup dumps one group: its metadata, the entries the filters keep
// (the raw records with --raw), and its HardState, then says on stderr
// when no entry matched and how the log ends.
func (o *dumpOptions) dumpGroup(ctx context.Context, g *globals, w *dumpWriter, grp inspect.Group, ext *externalDecoder) error {
	segs, _, err := inspect.OpenGroup(grp)
	if err != nil {
		return fmt.Errorf("group %s: %w", grp.Name, describeFSError(err))
	}
	l, err := inspect.ReadLog(ctx, segs)
	if err != nil {
		return err
	}
	decoder := o.decoder
	if grp.Encrypted && decoder != "none" {
		// SwarmKit: payloads are ciphertext; say so instead of decoding
		// noise.
		decoder = "encrypted"
	}
	w.beginGroup(grp.Name)
	if meta := walMetaOf(l); !o.raw && meta.MemberID != "" {
		if err := w.write(&dumpItem{Group: grp.Name, Kind: "metadata", MemberID: meta.MemberID, ClusterID: meta.ClusterID}); err != nil {
			return err
		}
	}
	d := &groupDumper{o: o, w: w, grp: grp, decoder: decoder, ext: ext}
	if o.raw {
		err = d.dumpRaw(ctx, segs, l)
	} else {
		err = d.dumpEntries(ctx, segs, l)
	}
	if err != nil && !errors.Is(err, errStopGroup) {
		w.endGroup()
		if de, ok := inspect.AsDecodeError(err); ok {
			return fmt.Errorf("group %s: %s offset %d: %s; run `raftctl verify` for a full report", grp.Name, de.Path, de.Offset, de.Msg)
		}
		return fmt.Errorf("group %s: %w", grp.Name, err)
	}
	if d.n == 0 && (o.start != 0 || o.end != 0 || o.term != 0 || o.typeSet != nil || o.classSet != nil) {
		fmt.Fprintf(g.io.ErrOut, "raftctl: group %s: no entry matches%s (its effective log holds %s)\n", grp.Name, o.filterText(), logRange(l))
	}
	if !o.raw && l.HasHardState {
		hs := l.HardState
		vote := hexID(hs.Vote)
		if err := w.write(&dumpItem{Group: grp.Name, Kind: "hardstate", Term: &hs.Term, Vote: &vote, Commit: &hs.Commit}); err != nil {
			return err
		}
	}
	w.endGroup()
	warn, serr := stopProblem(grp, l)
	if warn != "" {
		fmt.Fprintln(g.io.ErrOut, g.errScheme().Warn("warning: ")+warn)
	}
	return serr
}

// groupDumper writes the entries of one group: the options, the writer,
// the group, and the decoder in effect for it (decoder, or ext for
// --decoder-cmd); n counts the entries (or records) written.
type groupDumper struct {
	o       *dumpOptions
	w       *dumpWriter
	grp     inspect.Group
	decoder string
	ext     *externalDecoder
	n       int
}

// entryItem is the dump item of an entry, with its payload and decoded
// form as the options ask.
func (d *groupDumper) entryItem(e *inspect.Entry) (*dumpItem, error) {
	it := &dumpItem{Group: d.grp.Name, Kind: "entry", Index: &e.Index, Term: &e.Term, Type: e.Type.String()}
	size := len(e.Data)
	it.Size = &size
	if d.o.data != "none" {
		s, _ := format.Payload(e.Data, d.o.data)
		it.Data = &s
	}
	switch {
	case d.ext != nil:
		dec, err := d.ext.Decode(e.Data)
		if err != nil {
			return nil, err
		}
		it.text, it.Decoded = dec, textJSON(dec, true)
	case d.decoder != "none":
		it.text, it.Decoded = decodeBoth(e, d.decoder)
	}
	return it, nil
}

// keep reports whether the filters keep entry e, and whether the dump of
// the group stops there (past --end, except with --raw).
func (d *groupDumper) keep(e *inspect.Entry) (bool, bool) {
	o := d.o
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
	if o.classSet != nil && !matchesAny(e, o.classSet, d.grp.Encrypted) {
		return false, false
	}
	return true, false
}

// dumpRaw writes every record of the group's segments (--raw), entries as
// the filters keep them, up to --limit.
func (d *groupDumper) dumpRaw(ctx context.Context, segs []inspect.Segment, l *inspect.Log) error {
	return inspect.WalkRaw(ctx, segs, l, func(r *inspect.RawRecord) error {
		if r.Err != nil {
			return r.Err
		}
		it, err := d.o.rawItem(d.grp.Name, segs, r, d.keep, d.entryItem)
		if it == nil || err != nil {
			return err
		}
		d.n++
		if err := d.w.write(it); err != nil {
			return err
		}
		if d.o.limit > 0 && d.n >= d.o.limit {
			return errStopGroup
		}
		return nil
	})
}

// dumpEntries writes the entries of the group's effective log that the
// filters keep, up to --limit, rendered as dumpRendering says (see
// renderPipe).
func (d *groupDumper) dumpEntries(ctx context.Context, segs []inspect.Segment, l *inspect.Log) error {
	o, w, decoder := d.o, d.w, d.decoder
	var pipe *dumpPipe
	fast := w.fast() && d.ext == nil && dumpRendering != renderGeneral
	// Lengths and empty payloads are cheaper to render than to copy
	// into the pipe.
	cheap := (o.data == "none" || o.data == "len") && decoder == "none"
	if fast && dumpRendering == renderPipe && !cheap {
		pipe = w.startPipe(o.data, decoder)
	}
	err := inspect.EffectiveEntries(ctx, segs, l, func(e *inspect.Entry, r *inspect.Record) error {
		ok, stop := d.keep(e)
		if stop {
			return errStopGroup
		}
		if !ok {
			return nil
		}
		if o.limit > 0 && d.n >= o.limit {
			return errStopGroup
		}
		d.n++
		switch {
		case pipe != nil:
			return pipe.add(e)
		case fast:
			decoded := ""
			if decoder != "none" {
				decoded = w.decode(e, decoder)
			}
			return w.writeEntry(e, o.data, decoded)
		}
		it, err := d.entryItem(e)
		if err != nil {
			return err
		}
		return w.write(it)
	})
	if pipe != nil {
		// The renderer is done with w when close returns; its error
		// (a write that failed) is the reason the reading stopped.
		if perr := pipe.close(); perr != nil && (err == nil || errors.Is(err, errPipeFailed) || errors.Is(err, errStopGroup)) {
			err = perr
		}
	}
	return err
}

// rawItem is the dump item of a record of --raw; nil for an entry the
// filters drop.
func (o *dumpOptions) rawItem(group string, segs []inspect.Segment, r *inspect.RawRecord, keep func(*inspect.Entry) (bool, bool),
	entryItem func(*inspect.Entry) (*dumpItem, error)) (*dumpItem, error) {
	off := r.Offset
	it := &dumpItem{Group: group, Kind: r.Kind.String(), File: segs[r.Segment].Name, Offset: &off}
	switch it.Kind {
	case "entry":
		if ok, _ := keep(r.Entry); !ok {
			return nil, nil
		}
		ei, err := entryItem(r.Entry)
		if err != nil {
			return nil, err
		}
		ow := r.Overwritten
		ei.File, ei.Offset, ei.Overwritten = it.File, it.Offset, &ow
		return ei, nil
	case "state":
		hs := *r.State
		vote := hexID(hs.Vote)
		it.Term, it.Vote, it.Commit = &hs.Term, &vote, &hs.Commit
	case "snapshot":
		s := *r.Snapshot
		it.Index, it.Term = &s.Index, &s.Term
	case "crc":
		c := r.CRC
		it.CRC = &c
	case "metadata":
		size := len(r.Metadata)
		it.Size = &size
		if m := inspect.ParseMetadata(r.Metadata); m.OK {
			it.MemberID, it.ClusterID = hexID(m.NodeID), hexID(m.ClusterID)
		}
		if o.data != "none" {
			s, _ := format.Payload(r.Metadata, o.data)
			it.Data = &s
		}
	}
	return it, nil
}

// decode decodes an entry for the writer's mode: text for tables and
// plain output, JSON (an object) for -o json and jsonl; "" when the
// decoder has nothing to say about the entry.
func (d *dumpWriter) decode(e *inspect.Entry, decoder string) string {
	json := d.mode == format.ModeJSON || d.mode == format.ModeJSONL
	if decoder == "dgraph" && e.Type == inspect.EntryNormal && len(e.Data) > 0 {
		if !json {
			return describeEntry(e, decoder)
		}
		b, err := marshalNoEscape(dgraphJSON(e.Data))
		if err != nil {
			return string(textJSON(describeEntry(e, decoder), false))
		}
		return string(b)
	}
	dec := decodeWith(e, decoder)
	if dec == nil {
		return ""
	}
	if !json {
		return dec.String()
	}
	b, err := marshalNoEscape(dec)
	if err != nil {
		return string(textJSON(dec.String(), true))
	}
	return string(b)
}

// decodeBoth is an entry's decoded form as text and as JSON.
func decodeBoth(e *inspect.Entry, decoder string) (string, json.RawMessage) {
	if decoder == "dgraph" && e.Type == inspect.EntryNormal && len(e.Data) > 0 {
		d := dgraphJSON(e.Data)
		b, err := marshalNoEscape(d)
		if err != nil {
			return d.Text, textJSON(d.Text, false)
		}
		return d.Text, b
	}
	dec := decodeWith(e, decoder)
	if dec == nil {
		return "", nil
	}
	b, err := marshalNoEscape(dec)
	if err != nil {
		return dec.String(), textJSON(dec.String(), false)
	}
	return dec.String(), b
}

// decodeWith decodes an entry with a decoder other than dgraph;
// "encrypted" is the decoder of SwarmKit's encrypted WAL.
func decodeWith(e *inspect.Entry, decoder string) *inspect.Decoded {
	if decoder == "encrypted" {
		return inspect.DecodeEncrypted(e)
	}
	return inspect.Decode(e, decoder == "etcd")
}

// textJSON is {"text": s}, or s itself when asIs and s is a JSON value.
func textJSON(s string, asIs bool) json.RawMessage {
	if asIs && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return append(format.AppendJSONString([]byte(`{"text":`), []byte(s)), '}')
}

// needsEtcdDecoder says whether --entry-type names etcd request classes.
func needsEtcdDecoder(classes []string) bool {
	for _, c := range classes {
		if c != "ConfigChange" && c != "Normal" {
			return true
		}
	}
	return false
}

// matchesAny says whether e is in one of the --entry-type classes; of an
// encrypted WAL's entries only the raft classes (ConfigChange, Normal) are
// known.
func matchesAny(e *inspect.Entry, classes []string, encrypted bool) bool {
	for _, c := range classes {
		if encrypted && c != "ConfigChange" && c != "Normal" {
			continue
		}
		if inspect.MatchesEntryType(e, c) {
			return true
		}
	}
	return false
}

// filterText names the filters of a dump that selected nothing.
func (o *dumpOptions) filterText() string {
	var parts []string
	if o.start != 0 {
		parts = append(parts, fmt.Sprintf("--start-index %d", o.start))
	}
	if o.end != 0 {
		parts = append(parts, fmt.Sprintf("--end-index %d", o.end))
	}
	if o.term != 0 {
		parts = append(parts, fmt.Sprintf("--term %d", o.term))
	}
	if len(o.types) > 0 {
		parts = append(parts, "--type "+strings.Join(o.types, ","))
	}
	if len(o.classSet) > 0 {
		parts = append(parts, "--entry-type "+strings.Join(o.classSet, ","))
	}
	return " " + strings.Join(parts, " ")
}

// logRange says which indexes a log holds.
func logRange(l *inspect.Log) string {
	if l.FirstIndex == 0 {
		return "no entry"
	}
	return fmt.Sprintf("indexes %d to %d", l.FirstIndex, l.LastIndex)
}
