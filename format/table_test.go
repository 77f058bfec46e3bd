package format

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// segments is a table like the one `raftctl wal ls` prints.
func segments(s *Scheme) *Table {
	return &Table{
		Headers: []string{"Seq", "First index", "Size", "Status", "Path"},
		Rows: [][]string{
			{"0", "1", Bytes(64 << 20), s.OK("ok"), "/var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal"},
			{"1", Count(1048577), Bytes(1536), s.Err("torn"), "/var/lib/etcd/member/wal/0000000000000001-0000000000100001.wal"},
			{"12", Count(2000000), Bytes(0), s.Warn("tmp"), "/var/lib/etcd/member/wal/0.tmp"},
		},
		Truncatable: []bool{4: true},
	}
}

func render(t *testing.T, tb *Table, m Mode, opts TableOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := tb.Render(&b, m, opts); err != nil {
		t.Fatalf("Render(%s): %v", m, err)
	}
	return b.String()
}

func TestRenderGolden(t *testing.T) {
	off := NewScheme(ColorNever, false, false)
	tests := []struct {
		name string
		tb   *Table
		mode Mode
		opts TableOptions
		want string
	}{
		{
			name: "table",
			tb:   segments(off),
			mode: ModeTable,
			want: "" +
				"SEQ  FIRST INDEX      SIZE  STATUS  PATH\n" +
				"  0            1  64.0 MiB  ok      /var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal\n" +
				"  1    1,048,577   1.5 KiB  torn    /var/lib/etcd/member/wal/0000000000000001-0000000000100001.wal\n" +
				" 12    2,000,000       0 B  tmp     /var/lib/etcd/member/wal/0.tmp\n",
		},
		{
			name: "table truncated to 80 columns",
			tb:   segments(off),
			mode: ModeTable,
			opts: TableOptions{Width: 80},
			want: "" +
				"SEQ  FIRST INDEX      SIZE  STATUS  PATH\n" +
				"  0            1  64.0 MiB  ok      …r/wal/0000000000000000-0000000000000000.wal\n" +
				"  1    1,048,577   1.5 KiB  torn    …r/wal/0000000000000001-0000000000100001.wal\n" +
				" 12    2,000,000       0 B  tmp     /var/lib/etcd/member/wal/0.tmp\n",
		},
		{
			name: "table wide enough is not truncated",
			tb:   segments(off),
			mode: ModeTable,
			opts: TableOptions{Width: 200},
			want: render(t, segments(off), ModeTable, TableOptions{}),
		},
		{
			name: "plain",
			tb:   segments(off),
			mode: ModePlain,
			opts: TableOptions{Width: 40}, // ignored
			want: "" +
				"0\t1\t64.0 MiB\tok\t/var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal\n" +
				"1\t1,048,577\t1.5 KiB\ttorn\t/var/lib/etcd/member/wal/0000000000000001-0000000000100001.wal\n" +
				"12\t2,000,000\t0 B\ttmp\t/var/lib/etcd/member/wal/0.tmp\n",
		},
		{
			name: "plain with header",
			tb:   &Table{Headers: []string{"a", "b c"}, Rows: [][]string{{"1", "x"}, {"2"}}},
			mode: ModePlain,
			opts: TableOptions{PlainHeader: true},
			want: "A\tB C\n1\tx\n2\t\n",
		},
		{
			name: "tabs and newlines in cells",
			tb:   &Table{Headers: []string{"k", "v"}, Rows: [][]string{{"a\tb", "c\nd\r\ne"}}},
			mode: ModePlain,
			want: "a b\tc d e\n",
		},
		{
			name: "explicit alignment, ragged rows, no trailing spaces",
			tb: &Table{
				Headers: []string{"name", "n", "note"},
				Rows:    [][]string{{"a", "10", "x"}, {"bbb", "7"}, {"cc"}},
				Align:   []Alignment{AlignRight, AlignLeft},
			},
			mode: ModeTable,
			want: "NAME  N   NOTE\n   a  10  x\n bbb  7\n  cc\n",
		},
		{
			name: "no headers",
			tb:   &Table{Rows: [][]string{{"x", "yy"}, {"zzz", "1"}}},
			mode: ModeTable,
			want: "x    yy\nzzz  1\n",
		},
		{
			name: "headers only",
			tb:   &Table{Headers: []string{"a", "b"}},
			mode: ModeTable,
			want: "A  B\n",
		},
		{
			name: "empty",
			tb:   &Table{},
			mode: ModeTable,
			want: "",
		},
		{
			name: "leading spaces kept",
			tb:   &Table{Rows: [][]string{{"group"}, {"  segment"}}},
			mode: ModeTable,
			want: "group\n  segment\n",
		},
		{
			name: "wide characters",
			tb:   &Table{Headers: []string{"k", "v"}, Rows: [][]string{{"日本", "1"}, {"a", "2"}}},
			mode: ModeTable,
			want: "K     V\n日本  1\na     2\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, tt.tb, tt.mode, tt.opts); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s\ngot  %q\nwant %q", got, tt.want, got, tt.want)
			}
		})
	}
}

func TestRenderFitsWidth(t *testing.T) {
	off := NewScheme(ColorNever, false, false)
	for _, width := range []int{40, 60, 80, 100} {
		out := render(t, segments(off), ModeTable, TableOptions{Width: width})
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if w := displayWidth(line); w > width {
				t.Errorf("width %d: line is %d wide: %q", width, w, line)
			}
		}
		// The distinguishing tail of each path survives.
		if width >= 60 && !strings.Contains(out, "000100001.wal\n") {
			t.Errorf("width %d: tail of path lost:\n%s", width, out)
		}
	}
	// Two truncatable columns share the cut: the widest one shrinks first.
	tb := &Table{
		Headers:     []string{"a", "b", "c"},
		Rows:        [][]string{{strings.Repeat("x", 30), strings.Repeat("y", 10), strings.Repeat("z", 30)}},
		Truncatable: []bool{true, false, true},
	}
	got := render(t, tb, ModeTable, TableOptions{Width: 50})
	want := "A                   B           C\n" +
		"…" + strings.Repeat("x", 17) + "  yyyyyyyyyy  …" + strings.Repeat("z", 17) + "\n"
	if got != want {
		t.Errorf("two truncatable columns:\ngot  %q\nwant %q", got, want)
	}
	// A table that cannot fit is left as narrow as it can be, not wrapped.
	got = render(t, tb, ModeTable, TableOptions{Width: 5})
	want = "A    B           C\n…xx  yyyyyyyyyy  …zz\n"
	if got != want {
		t.Errorf("too narrow:\ngot  %q\nwant %q", got, want)
	}
}

// TestRenderKeepsKeyColumnsWhole: at 80 columns a table cuts its other
// truncatable columns, then leaves out its Drop columns in order, and cuts
// a key column only when nothing else is left.
func TestRenderKeepsKeyColumnsWhole(t *testing.T) {
	seg := "0000000000000001-000000000000000e.wal"
	tb := func() *Table {
		return &Table{
			Headers:     []string{"group", "segment", "seq", "size", "records", "note"},
			Rows:        [][]string{{"node-1/group-1", seg, "1", "2.2 KiB", "19", "a note that can be cut"}},
			Truncatable: []bool{true, true, false, false, false, true},
			Key:         []bool{true, true},
			Drop:        []int{2, 4, 3},
		}
	}
	tests := []struct {
		width int
		want  string
	}{
		{0, "GROUP           SEGMENT                                SEQ     SIZE  RECORDS  NOTE\n" +
			"node-1/group-1  " + seg + "    1  2.2 KiB       19  a note that can be cut\n"},
		{90, "GROUP           SEGMENT                                SEQ     SIZE  RECORDS  NOTE\n" +
			"node-1/group-1  " + seg + "    1  2.2 KiB       19  … can be cut\n"},
		// Cutting the note to its header is not enough: SEQ goes, and the
		// note takes back the room it leaves.
		{80, "GROUP           SEGMENT                                   SIZE  RECORDS  NOTE\n" +
			"node-1/group-1  " + seg + "  2.2 KiB       19  …be cut\n"},
		{64, "GROUP           SEGMENT                                NOTE\n" +
			"node-1/group-1  " + seg + "  …n be cut\n"},
		// Nothing left to drop: the key columns are cut last, widest first.
		{40, "GROUP           SEGMENT             NOTE\n" +
			"node-1/group-1  …000000000000e.wal  …cut\n"},
		// At 20 columns cutting the keys to their headers fits; at 18
		// nothing does, and the table keeps its keys whole.
		{20, "GROUP  SEGMENT  NOTE\n…up-1  …0e.wal  …cut\n"},
		{18, "GROUP           SEGMENT                                NOTE\n" +
			"node-1/group-1  " + seg + "  …cut\n"},
	}
	for _, tt := range tests {
		got := render(t, tb(), ModeTable, TableOptions{Width: tt.width})
		if got != tt.want {
			t.Errorf("width %d:\ngot:\n%s\nwant:\n%s", tt.width, got, tt.want)
		}
	}
}

// Colour must not move a single column: without its escape sequences, a
// coloured table is the plain-coloured table, truncated or not.
func TestRenderColourKeepsAlignment(t *testing.T) {
	on := NewScheme(ColorAlways, false, false)
	off := NewScheme(ColorNever, false, false)
	coloured := segments(on)
	coloured.Rows[1][4] = on.Dim(coloured.Rows[1][4])
	plain := segments(off)
	for _, width := range []int{0, 80, 50} {
		got := render(t, coloured, ModeTable, TableOptions{Width: width})
		if !strings.Contains(got, "\x1b[") {
			t.Fatalf("width %d: no colour in table mode:\n%q", width, got)
		}
		want := render(t, plain, ModeTable, TableOptions{Width: width})
		if stripANSI(got) != want {
			t.Errorf("width %d: coloured table misaligned:\n%s\nwant (without colour):\n%s", width, stripANSI(got), want)
		}
	}
}

func TestRenderPlainHasNoANSI(t *testing.T) {
	on := NewScheme(ColorAlways, false, false)
	got := render(t, segments(on), ModePlain, TableOptions{PlainHeader: true})
	if strings.Contains(got, "\x1b") {
		t.Errorf("plain output carries escape sequences: %q", got)
	}
	if want := render(t, segments(NewScheme(ColorNever, false, false)), ModePlain, TableOptions{PlainHeader: true}); got != want {
		t.Errorf("plain output differs with colour:\ngot  %q\nwant %q", got, want)
	}
}

func TestRenderRejectsOtherModes(t *testing.T) {
	for _, m := range []Mode{ModeJSON, ModeJSONL, ModeAuto, "", "xml"} {
		var b bytes.Buffer
		if err := segments(nil).Render(&b, m, TableOptions{}); err == nil {
			t.Errorf("Render(%q) succeeded: %q", m, b.String())
		}
		if b.Len() != 0 {
			t.Errorf("Render(%q) wrote %q", m, b.String())
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderWriteError(t *testing.T) {
	for _, m := range []Mode{ModeTable, ModePlain} {
		if err := segments(nil).Render(failWriter{}, m, TableOptions{}); err == nil || err.Error() != "disk full" {
			t.Errorf("Render(%s) to a failing writer: %v", m, err)
		}
	}
}

func TestNumericColumn(t *testing.T) {
	tests := []struct {
		cells []string
		want  bool
	}{
		{[]string{"1", "22", "-3"}, true},
		{[]string{"1,234", "", "5"}, true},
		{[]string{"64.0 MiB", "512 B", "50%"}, true},
		{[]string{"\x1b[31m12\x1b[0m"}, true},
		{[]string{"1", "n/a"}, false},
		{[]string{"2024-05-01T12:00:00Z"}, false},
		{[]string{"0x1f"}, false},
		{[]string{"v3"}, false},
		{[]string{"", ""}, false},
	}
	for _, tt := range tests {
		rows := make([][]string, len(tt.cells))
		for i, c := range tt.cells {
			rows[i] = []string{c}
		}
		if got := numericColumn(rows, 0); got != tt.want {
			t.Errorf("numericColumn(%q) = %v, want %v", tt.cells, got, tt.want)
		}
	}
}
