// How `wal dump` renders: the JSON contract of one line (dumpItem), the
// table and plain layouts appended into one reused buffer, and the pipe
// that renders payloads on a second goroutine while the reader reads.

package cmd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

// dumpItem is one line of `wal dump` output; its JSON form is the
// documented contract.
type dumpItem struct {
	Group string  `json:"group"`
	Kind  string  `json:"kind"`
	Index *uint64 `json:"index,omitempty"`
	Term  *uint64 `json:"term,omitempty"`
	Type  string  `json:"type,omitempty"`
	Size  *int    `json:"size,omitempty"`
	Data  *string `json:"data,omitempty"`
	// Decoded is the decoded payload: an object (inspect.Decoded, or
	// {"text"} for decoders that only give text).
	Decoded     json.RawMessage `json:"decoded,omitempty"`
	Vote        *string         `json:"vote,omitempty"`
	MemberID    string          `json:"member_id,omitempty"`
	ClusterID   string          `json:"cluster_id,omitempty"`
	Commit      *uint64         `json:"commit,omitempty"`
	CRC         *uint32         `json:"crc,omitempty"`
	File        string          `json:"file,omitempty"`
	Offset      *int64          `json:"offset,omitempty"`
	Overwritten *bool           `json:"overwritten,omitempty"`

	text string // the decoded form in a table
}

// dumpWriter renders dump items in one of the modes, streaming: every row
// is appended to one reused line buffer and written to a 64 KiB buffered
// writer, so a row costs no allocation on the paths of the effective log
// (writeEntry); --raw, decoders and the HardState take the general path
// (write).
type dumpWriter struct {
	mode    format.Mode
	out     *bufio.Writer
	jsonl   *format.JSONLWriter
	sc      *format.Scheme
	cols    dumpColumns // table mode only
	multi   bool        // several groups: show the group column
	raw     bool
	line    []byte
	scratch []byte // a payload before JSON quoting
	group   string // the current group
	gquote  []byte // the current group's name as a JSON string
	gcell   []byte // the current group's table cell, padded
	nitems  int
	ngroups int
}

func newDumpWriter(w io.Writer, mode format.Mode, sc *format.Scheme, width int, groups []string, raw bool) *dumpWriter {
	d := &dumpWriter{mode: mode, sc: sc, multi: len(groups) > 1, raw: raw}
	if mode == format.ModeJSONL {
		d.jsonl = format.NewJSONL(w)
	} else {
		d.out = bufio.NewWriterSize(w, 64<<10)
	}
	if mode == format.ModeTable {
		d.cols = dumpLayout(width, groups, d.multi, raw)
	}
	return d
}

// dumpColumns is the layout of the `wal dump` table: the width of each
// column, 0 for a column not shown. It is decided once, before the first
// row, from the terminal width, the names of the groups and --raw, so that
// rows stream and every row of a run has the same layout.
type dumpColumns struct {
	group, record, file, offset, index, term, typ, size int
	data                                                int // payloads are cut to this many runes
}

// The fixed widths of the `wal dump` table's columns, and the payload width
// when the terminal's is unknown or when the payload has room to spare.
const (
	dumpRecordWidth = 9  // "hardstate"
	dumpFileWidth   = 37 // %016x-%016x.wal
	dumpOffsetWidth = 10
	dumpIndexWidth  = 10
	dumpTermWidth   = 6
	dumpTypeWidth   = 14 // "conf-change-v2"
	dumpSizeWidth   = 7
	dumpDataWidth   = 64 // not on a terminal
	dumpDataMin     = 16 // what low-value columns make room for
	dumpDataFloor   = 8  // below this, the line is left wider than the terminal
	dumpNarrowIndex = 7  // INDEX and OFFSET on a narrow terminal
)

// dumpLayout decides the table's columns. The identifying columns, GROUP
// (as wide as the longest group name) and, with --raw, FILE, are never
// cut. When the terminal is too narrow for a payload of dumpDataMin runes,
// the low-value columns go first: SIZE; with --raw, RECORD (TYPE names
// the kind of every record that is not an entry); TERM; without --raw,
// TYPE; then INDEX and OFFSET narrow (a longer number widens its row);
// then DATA shrinks to dumpDataFloor. Whatever does not fit then makes the
// line wider than the terminal; nothing identifying is cut.
func dumpLayout(width int, groups []string, multi, raw bool) dumpColumns {
	c := dumpColumns{index: dumpIndexWidth, term: dumpTermWidth, typ: dumpTypeWidth, size: dumpSizeWidth}
	if multi {
		c.group = len("GROUP")
		for _, g := range groups {
			c.group = max(c.group, format.DisplayWidth(g))
		}
	}
	if raw {
		c.record, c.file, c.offset = dumpRecordWidth, dumpFileWidth, dumpOffsetWidth
	}
	if width <= 0 {
		c.data = dumpDataWidth
		return c
	}
	room := func() int { return width - c.before() }
	steps := []func(){
		func() { c.size = 0 },
		func() { c.record = 0 },
		func() { c.term = 0 },
		func() {
			if !raw {
				c.typ = 0
			}
		},
		func() {
			c.index = dumpNarrowIndex
			if raw {
				c.offset = dumpNarrowIndex
			}
		},
	}
	for _, step := range steps {
		if room() >= dumpDataMin {
			break
		}
		step()
	}
	c.data = max(room(), dumpDataFloor)
	return c
}

// before is the width of a row up to its payload: the columns shown, one
// space between two, two before DATA.
func (c *dumpColumns) before() int {
	n := 0
	for _, w := range []int{c.group, c.record, c.file, c.offset, c.index, c.term, c.typ, c.size} {
		if w > 0 {
			n += w + 1
		}
	}
	return n + 1
}

// appendCell appends s padded with spaces to w columns, on the right
// (left-aligned) or on the left (right), then one space.
func appendCell[S string | []byte](b []byte, s S, w int, right bool) []byte {
	pad := w - len(s)
	if right {
		b = appendSpaces(b, pad)
	}
	b = append(b, s...)
	if !right {
		b = appendSpaces(b, pad)
	}
	return append(b, ' ')
}

const spaces = "                                                                "

func appendSpaces(b []byte, n int) []byte {
	for n > 0 {
		k := min(n, len(spaces))
		b = append(b, spaces[:k]...)
		n -= k
	}
	return b
}

// appendNumberCell appends v right-aligned in w columns and a space.
func appendNumberCell(b []byte, v uint64, w int) []byte {
	var num [20]byte
	return appendCell(b, strconv.AppendUint(num[:0], v, 10), w, true)
}

// tableRow is the cells of one table row before its payload; nil numbers
// are empty cells.
type tableRow struct {
	kind, file  string
	offset      *int64
	index, term *uint64
	typ         string
	size        *int
}

// appendRow appends the cells of r before DATA, per the layout, and the
// two spaces before DATA.
func (d *dumpWriter) appendRow(b []byte, r *tableRow) []byte {
	c := &d.cols
	num := func(b []byte, v *uint64, w int) []byte {
		if v == nil {
			return appendCell(b, "", w, true)
		}
		return appendNumberCell(b, *v, w)
	}
	if c.group > 0 {
		b = append(b, d.gcell...)
	}
	if c.record > 0 {
		b = appendCell(b, r.kind, c.record, false)
	}
	if c.file > 0 {
		b = appendCell(b, r.file, c.file, false)
	}
	if c.offset > 0 {
		if r.offset != nil {
			b = appendNumberCell(b, uint64(*r.offset), c.offset)
		} else {
			b = appendCell(b, "", c.offset, true)
		}
	}
	b = num(b, r.index, c.index)
	if c.term > 0 {
		b = num(b, r.term, c.term)
	}
	if c.typ > 0 {
		b = appendCell(b, r.typ, c.typ, false)
	}
	if c.size > 0 {
		if r.size != nil {
			b = appendNumberCell(b, uint64(*r.size), c.size)
		} else {
			b = appendCell(b, "", c.size, true)
		}
	}
	return append(b, ' ')
}

// trimSpaces removes the spaces at the end of b.
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

func (d *dumpWriter) header() {
	switch d.mode {
	case format.ModeJSON:
		d.out.WriteString("{\"schema_version\":" + strconv.Itoa(idSchemaVersion) + ",\"groups\":[")
	case format.ModeTable:
		c := &d.cols
		var b []byte
		if c.group > 0 {
			b = appendCell(b, "GROUP", c.group, false)
		}
		if c.record > 0 {
			b = appendCell(b, "RECORD", c.record, false)
		}
		if c.file > 0 {
			b = appendCell(b, "FILE", c.file, false)
		}
		if c.offset > 0 {
			b = appendCell(b, "OFFSET", c.offset, true)
		}
		b = appendCell(b, "INDEX", c.index, true)
		if c.term > 0 {
			b = appendCell(b, "TERM", c.term, true)
		}
		if c.typ > 0 {
			b = appendCell(b, "TYPE", c.typ, false)
		}
		if c.size > 0 {
			b = appendCell(b, "SIZE", c.size, true)
		}
		b = append(b, " DATA"...)
		d.out.WriteString(d.sc.Bold(string(b)) + "\n")
	}
}

func (d *dumpWriter) beginGroup(name string) {
	d.ngroups++
	d.group = name
	d.gquote = format.AppendJSONString(d.gquote[:0], []byte(name))
	if d.cols.group > 0 {
		d.gcell = appendCell(d.gcell[:0], name, d.cols.group+len(name)-format.DisplayWidth(name), false)
	}
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

// write renders one item of any kind: the general path.
func (d *dumpWriter) write(it *dumpItem) error {
	switch d.mode {
	case format.ModeJSONL:
		return d.jsonl.Write(it)
	case format.ModeJSON:
		d.jsonItemStart()
		b, err := marshalNoEscape(it)
		if err != nil {
			return err
		}
		_, err = d.out.Write(b)
		return err
	}
	data := ""
	if it.Data != nil {
		data = *it.Data
	}
	r := tableRow{kind: it.Kind, file: it.File, offset: it.Offset, index: it.Index, term: it.Term, typ: it.Type, size: it.Size}
	switch it.Kind {
	case "hardstate", "state":
		r.typ = it.Kind
		data = fmt.Sprintf("term=%d vote=%s commit=%d", deref(it.Term), deref(it.Vote), deref(it.Commit))
		r.term = nil
	case "snapshot":
		r.typ = "snapshot"
	case "crc":
		r.typ = "crc"
		data = fmt.Sprintf("%08x", *it.CRC)
	case "metadata":
		r.typ = "metadata"
		if it.MemberID != "" {
			data = "member=" + it.MemberID + " cluster=" + it.ClusterID
		}
	}
	if it.text != "" {
		data = it.text
	}
	overwritten := it.Overwritten != nil && *it.Overwritten
	if overwritten {
		data = "(overwritten) " + data
	}
	if d.mode == format.ModePlain {
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
		str := func(v *uint64) string {
			if v == nil {
				return ""
			}
			return u64(*v)
		}
		size := ""
		if it.Size != nil {
			size = strconv.Itoa(*it.Size)
		}
		cols = append(cols, str(r.index), str(r.term), r.typ, size, data)
		_, err := d.out.WriteString(strings.Join(cols, "\t") + "\n")
		return err
	}
	b := d.appendRow(d.line[:0], &r)
	b = format.AppendCut(b, data, d.cols.data)
	d.line = trimSpaces(b)
	line := string(d.line)
	if overwritten {
		line = d.sc.Dim(line)
	}
	if it.Kind == "hardstate" {
		line = d.sc.Bold(line)
	}
	_, err := d.out.WriteString(line + "\n")
	return err
}

// jsonItemStart writes what comes before an item in -o json.
func (d *dumpWriter) jsonItemStart() {
	if d.nitems > 0 {
		d.out.WriteString(",")
	}
	d.nitems++
	d.out.WriteString("\n  ")
}

// fast reports whether entries can take writeEntry's path.
func (d *dumpWriter) fast() bool {
	return !d.raw
}

// writeEntry writes one entry of the effective log without reflection and
// without allocating: the hot path of a dump. decoded, when not empty,
// replaces the payload in table and plain mode and is added to it in JSON
// (where it is JSON already: see decode).
func (d *dumpWriter) writeEntry(e *inspect.Entry, data string, decoded string) error {
	b := d.line[:0]
	switch d.mode {
	case format.ModePlain:
		if d.multi {
			b = append(b, d.group...)
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
	case format.ModeTable:
		size := len(e.Data)
		b = d.appendRow(b, &tableRow{index: &e.Index, term: &e.Term, typ: e.Type.String(), size: &size})
		switch {
		case decoded != "":
			b = format.AppendCut(b, decoded, d.cols.data)
		case data != "none":
			b = format.AppendPayloadCut(b, e.Data, data, d.cols.data)
		}
		b = append(trimSpaces(b), '\n')
		d.line = b
		_, err := d.out.Write(b)
		return err
	}
	if d.mode == format.ModeJSONL {
		// Straight into the output buffer: encoded once, no copy.
		b = d.jsonl.Buffer()
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
		d.scratch = format.AppendPayload(d.scratch[:0], e.Data, data)
		b = append(b, `,"data":`...)
		b = format.AppendJSONString(b, d.scratch)
	default:
		b = append(b, `,"data":"`...)
		b = format.AppendPayload(b, e.Data, data)
		b = append(b, '"')
	}
	if decoded != "" {
		b = append(b, `,"decoded":`...)
		b = append(b, decoded...) // JSON already (decode)
	}
	b = append(b, '}')
	if d.mode == format.ModeJSON {
		d.line = b
		d.jsonItemStart()
		_, err := d.out.Write(b)
		return err
	}
	return d.jsonl.Commit(append(b, '\n'))
}

// dumpPipe hands the entries of the effective log from the reader to a
// renderer goroutine, so that reading and rendering (escaping, encoding,
// writing) run on two cores. Entries travel in batches of copied payloads;
// a fixed set of batches is recycled, so memory stays flat whatever the
// size of the log. Rows come out in the order the entries went in.
type dumpPipe struct {
	w       *dumpWriter
	how     string // --data
	decoder string // --decoder
	full    chan *entryBatch
	free    chan *entryBatch
	done    chan error
	failed  atomic.Bool
	cur     *entryBatch
}

// entryBatch is a run of entries whose payloads are copied one after the
// other into data: entry i's payload is data[off[i]:off[i+1]].
type entryBatch struct {
	ents []inspect.Entry // Data is nil until the renderer sets it
	off  []int
	data []byte
}

// The pipe's batches: a batch is handed over when its payloads reach
// pipeBatchBytes or it holds pipeBatchEntries entries; pipeBatches of them
// exist (one filling, the others queued or rendering).
const (
	pipeBatchBytes   = 256 << 10
	pipeBatchEntries = 4096
	pipeBatches      = 4
)

// How the entries of the effective log are rendered: on the pipe's
// goroutine (renderPipe), with writeEntry in the reader's goroutine
// (renderDirect), or through dumpItem and write (renderGeneral, the path
// of --raw and --decoder-cmd, with encoding/json for JSONL). Tests compare
// the three; the command always uses renderPipe.
const (
	renderPipe = iota
	renderDirect
	renderGeneral
)

var dumpRendering = renderPipe

// errPipeFailed stops the reading when the renderer has failed; close
// returns the renderer's own error.
var errPipeFailed = errors.New("dump renderer failed")

// startPipe starts the renderer; the caller must call close before it uses
// w again.
func (w *dumpWriter) startPipe(how, decoder string) *dumpPipe {
	p := &dumpPipe{w: w, how: how, decoder: decoder,
		full: make(chan *entryBatch, pipeBatches), free: make(chan *entryBatch, pipeBatches), done: make(chan error, 1)}
	for range pipeBatches - 1 {
		p.free <- &entryBatch{off: []int{0}}
	}
	p.cur = &entryBatch{off: []int{0}}
	go p.render()
	return p
}

// add queues a copy of e; e may be reused once add returns.
func (p *dumpPipe) add(e *inspect.Entry) error {
	if p.failed.Load() {
		return errPipeFailed
	}
	b := p.cur
	b.ents = append(b.ents, inspect.Entry{Term: e.Term, Index: e.Index, Type: e.Type})
	b.data = append(b.data, e.Data...)
	b.off = append(b.off, len(b.data))
	if len(b.data) >= pipeBatchBytes || len(b.ents) >= pipeBatchEntries {
		p.full <- b
		p.cur = <-p.free
	}
	return nil
}

// close renders what is queued, stops the renderer and returns its error.
func (p *dumpPipe) close() error {
	if len(p.cur.ents) > 0 {
		p.full <- p.cur
	}
	close(p.full)
	return <-p.done
}

func (p *dumpPipe) render() {
	var err error
	for b := range p.full {
		for i := 0; i < len(b.ents) && err == nil; i++ {
			e := &b.ents[i]
			e.Data = b.data[b.off[i]:b.off[i+1]]
			decoded := ""
			if p.decoder != "none" {
				decoded = p.w.decode(e, p.decoder)
			}
			if err = p.w.writeEntry(e, p.how, decoded); err != nil {
				p.failed.Store(true)
			}
		}
		if cap(b.data) > 4*pipeBatchBytes {
			b.data = nil // one huge payload: do not keep its buffer
		}
		b.ents, b.off, b.data = b.ents[:0], b.off[:1], b.data[:0]
		select {
		case p.free <- b:
		default: // the last batch, after close: nobody takes it
		}
	}
	p.done <- err
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}
