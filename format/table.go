package format

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Alignment is the horizontal alignment of a table column.
type Alignment int

// The alignments.
const (
	AlignAuto  Alignment = iota // right if every non-empty cell looks like a number, else left
	AlignLeft                   // left
	AlignRight                  // right
)

// Table is a list of rows of strings for the table and plain modes. Cells may
// carry colour from a [Scheme]; it never breaks the alignment and is removed
// in plain mode. Tabs and line breaks in cells are replaced with spaces so
// that every row stays on one line.
type Table struct {
	Headers []string   // column titles, upper-cased in output; may be nil
	Rows    [][]string // short rows are padded with empty cells
	// Align is the alignment per column; missing entries mean AlignAuto.
	Align []Alignment
	// Truncatable marks the columns that may be shortened, from the left
	// with a leading "…", to fit TableOptions.Width: paths, keys, payloads.
	Truncatable []bool
	// Key marks the identifying columns (a group, a file name): a key column
	// that is also truncatable is cut only when cutting the other
	// truncatable columns and leaving out the Drop columns was not enough.
	Key []bool
	// Drop lists the low-value columns that may be left out, first to go
	// first, when the table is wider than TableOptions.Width even with its
	// truncatable columns that are not keys cut as far as they go.
	Drop []int
}

// TableOptions tune [Table.Render].
type TableOptions struct {
	// Width is the terminal width in columns (table mode only); 0 means
	// unknown, no truncation. When the table is wider, the widest
	// truncatable columns that are not keys are shortened until it fits,
	// then the Drop columns are left out one by one, and only then are the
	// truncatable key columns shortened, if that makes the table fit (no
	// column is cut below its header or 3 columns; if that is not enough
	// the table is left wider than Width, its key columns whole).
	Width int
	// PlainHeader prints the upper-cased headers as the first line in plain
	// mode. Off by default, as in the GitHub CLI: pipes get data only.
	PlainHeader bool
}

// columnGap is the number of spaces between two columns in table mode.
const columnGap = 2

// minTruncWidth is the narrowest a truncatable column is made.
const minTruncWidth = 3

// Render writes t to w in mode m:
//
//   - ModeTable: a borderless table with upper-cased headers, columns aligned
//     and separated by two spaces, no trailing spaces; see TableOptions.Width.
//   - ModePlain: one line per row, cells separated by a TAB, no header (see
//     TableOptions.PlainHeader), no colour, no truncation.
//
// Other modes are an error: JSON output is built from typed structs with
// [WriteJSON] or a [JSONLWriter], never from table cells; resolve ModeAuto
// with [Resolve] first. The output is written with a single call to w.
func (t *Table) Render(w io.Writer, m Mode, opts TableOptions) error {
	var buf bytes.Buffer
	switch m {
	case ModeTable:
		if err := t.renderTable(&buf, opts); err != nil {
			return err
		}
	case ModePlain:
		t.renderPlain(&buf, opts)
	case ModeJSON, ModeJSONL:
		return fmt.Errorf("format: a table cannot be rendered as %s; write typed structs with WriteJSON or JSONLWriter", m)
	default:
		return fmt.Errorf("format: cannot render a table in output mode %q (resolve it first)", m)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// grid returns the headers (upper-cased) and rows padded to the same number
// of columns, with tabs and line breaks replaced by spaces.
func (t *Table) grid() (headers []string, rows [][]string, ncols int) {
	ncols = len(t.Headers)
	for _, r := range t.Rows {
		ncols = max(ncols, len(r))
	}
	if len(t.Headers) > 0 {
		headers = make([]string, ncols)
		for i, h := range t.Headers {
			headers[i] = strings.ToUpper(oneLine(h))
		}
	}
	rows = make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		row := make([]string, ncols)
		for j, c := range r {
			row[j] = oneLine(c)
		}
		rows[i] = row
	}
	return headers, rows, ncols
}

var lineBreaker = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\t\r\n") {
		return s
	}
	return lineBreaker.Replace(s)
}

func (t *Table) renderPlain(buf *bytes.Buffer, opts TableOptions) {
	headers, rows, _ := t.grid()
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				buf.WriteByte('\t')
			}
			buf.WriteString(stripANSI(c))
		}
		buf.WriteByte('\n')
	}
	if opts.PlainHeader && headers != nil {
		line(headers)
	}
	for _, r := range rows {
		line(r)
	}
}

func (t *Table) renderTable(buf *bytes.Buffer, opts TableOptions) error {
	headers, rows, ncols := t.grid()
	if ncols == 0 {
		return nil
	}

	aligns := make([]tw.Align, ncols)
	for c := range ncols {
		a := AlignAuto
		if c < len(t.Align) {
			a = t.Align[c]
		}
		if a == AlignAuto {
			a = AlignLeft
			if numericColumn(rows, c) {
				a = AlignRight
			}
		}
		aligns[c] = tw.AlignLeft
		if a == AlignRight {
			aligns[c] = tw.AlignRight
		}
	}

	if opts.Width > 0 {
		if keep := t.fit(headers, rows, ncols, opts.Width); len(keep) < ncols {
			headers, rows, aligns = pick(headers, keep), pickRows(rows, keep), pick(aligns, keep)
		}
	}

	pad := tw.CellPadding{Global: tw.Padding{Left: "", Right: strings.Repeat(" ", columnGap), Overwrite: true}}
	cells := tw.CellConfig{
		Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone, AutoFormat: tw.Off},
		Merging:    tw.CellMerging{Mode: tw.MergeNone},
		Alignment:  tw.CellAlignment{PerColumn: aligns},
		Padding:    pad,
	}
	tbl := tablewriter.NewTable(buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Lines: tw.Lines{ShowTop: tw.Off, ShowBottom: tw.Off, ShowHeaderLine: tw.Off, ShowFooterLine: tw.Off},
				Separators: tw.Separators{
					ShowHeader: tw.Off, ShowFooter: tw.Off, BetweenRows: tw.Off, BetweenColumns: tw.Off,
				},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{Header: cells, Row: cells}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	if headers != nil {
		tbl.Header(headers)
	}
	for _, r := range rows {
		if err := tbl.Append(r); err != nil {
			return fmt.Errorf("format: table row: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("format: render table: %w", err)
	}
	trimTrailingSpace(buf)
	return nil
}

// fit makes the table at most width columns wide, if it can: it shortens
// the cells of truncatable columns and leaves out Drop columns (see
// TableOptions.Width), and returns the columns kept, in order.
func (t *Table) fit(headers []string, rows [][]string, ncols, width int) (keep []int) {
	f := newFitter(t, headers, rows, ncols, width)
	target := f.plan()
	for _, c := range t.Drop {
		if f.total(target) <= width {
			break
		}
		if c >= 0 && c < ncols {
			f.dropped[c] = true
			target = f.plan() // with the room the column leaves, cut less
		}
	}
	// Cut the key columns too, but only if that makes the table fit: a
	// table left wider than width anyway keeps its names whole.
	cut := append([]int(nil), target...)
	f.shrink(cut, func(c int) bool { return marked(t.Truncatable, c) })
	if f.total(cut) <= width || !slices.ContainsFunc(t.Key, func(k bool) bool { return k }) {
		target = cut
	}
	for c := range ncols {
		if f.dropped[c] {
			continue
		}
		keep = append(keep, c)
		if target[c] == f.widths[c] {
			continue
		}
		for _, r := range rows {
			r[c] = Truncate(r[c], target[c])
		}
	}
	return keep
}

// marked reports whether flags marks column c.
func marked(flags []bool, c int) bool { return c < len(flags) && flags[c] }

// fitter holds what fit works from: each column's natural width, the
// width it may not be cut below (its header, and minTruncWidth), and the
// columns left out so far.
type fitter struct {
	t             *Table
	width         int
	widths, floor []int
	dropped       []bool
}

// newFitter measures the columns of headers and rows.
func newFitter(t *Table, headers []string, rows [][]string, ncols, width int) *fitter {
	f := &fitter{t: t, width: width, widths: make([]int, ncols), floor: make([]int, ncols), dropped: make([]bool, ncols)}
	for c := range ncols {
		if headers != nil {
			f.widths[c] = displayWidth(headers[c])
		}
		f.floor[c] = max(f.widths[c], minTruncWidth)
		for _, r := range rows {
			f.widths[c] = max(f.widths[c], displayWidth(r[c]))
		}
	}
	return f
}

// total is the table's width with the columns at the target widths (the
// dropped ones left out) and columnGap between them.
func (f *fitter) total(target []int) int {
	n, shown := 0, 0
	for c, w := range target {
		if !f.dropped[c] {
			n += w
			shown++
		}
	}
	return n + columnGap*max(shown-1, 0)
}

// shrink narrows the widest eligible column, repeatedly, until the
// table fits or no eligible column can shrink.
func (f *fitter) shrink(target []int, eligible func(c int) bool) {
	for excess := f.total(target) - f.width; excess > 0; {
		widest, next := -1, 0
		for c := range target {
			if f.dropped[c] || !eligible(c) || target[c] <= f.floor[c] {
				continue
			}
			if widest < 0 || target[c] > target[widest] {
				if widest >= 0 {
					next = max(next, target[widest])
				}
				widest = c
			} else {
				next = max(next, target[c])
			}
		}
		if widest < 0 {
			return // nothing left to shrink
		}
		n := min(excess, target[widest]-f.floor[widest], max(target[widest]-next, 1))
		target[widest] -= n
		excess -= n
	}
}

// plan returns the widths with the truncatable columns that are not keys
// cut as far as needed (and as they can be) for the columns shown.
func (f *fitter) plan() []int {
	target := append([]int(nil), f.widths...)
	f.shrink(target, func(c int) bool { return marked(f.t.Truncatable, c) && !marked(f.t.Key, c) })
	return target
}

// pick returns the elements of s at the indices keep; nil stays nil.
func pick[T any](s []T, keep []int) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(keep))
	for i, c := range keep {
		out[i] = s[c]
	}
	return out
}

func pickRows(rows [][]string, keep []int) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = pick(r, keep)
	}
	return out
}

// numberCell matches cells that read as numbers: counts with optional
// thousands separators, decimals, sizes and percentages ("1,024", "1.5 KiB",
// "50%").
var numberCell = regexp.MustCompile(`^[-+]?[0-9][0-9,]*(\.[0-9]+)?( ?[A-Za-z%]{1,3})?$`)

// numericColumn reports whether column c has a cell and all its non-empty
// cells look like numbers.
func numericColumn(rows [][]string, c int) bool {
	seen := false
	for _, r := range rows {
		s := strings.TrimSpace(stripANSI(r[c]))
		if s == "" {
			continue
		}
		if !numberCell.MatchString(s) {
			return false
		}
		seen = true
	}
	return seen
}

// trimTrailingSpace removes the spaces at the end of every line of buf,
// keeping any escape sequences found among them.
func trimTrailingSpace(buf *bytes.Buffer) {
	lines := strings.SplitAfter(buf.String(), "\n")
	buf.Reset()
	for _, l := range lines {
		nl := strings.HasSuffix(l, "\n")
		l = strings.TrimSuffix(l, "\n")
		// Find where the trailing run of spaces and escapes begins.
		end := len(l)
		var escapes []string
		for end > 0 {
			if l[end-1] == ' ' {
				end--
				continue
			}
			if j := lastEscapeStart(l[:end]); j >= 0 {
				escapes = append(escapes, l[j:end])
				end = j
				continue
			}
			break
		}
		buf.WriteString(l[:end])
		for i := len(escapes) - 1; i >= 0; i-- {
			buf.WriteString(escapes[i])
		}
		if nl {
			buf.WriteByte('\n')
		}
	}
}

// lastEscapeStart returns the index of the CSI escape sequence that ends s,
// or -1.
func lastEscapeStart(s string) int {
	j := strings.LastIndexByte(s, '\x1b')
	if j >= 0 && escapeLen(s[j:]) == len(s)-j {
		return j
	}
	return -1
}
