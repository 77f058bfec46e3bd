package cmd

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// runTTY runs raftctl as if its output were a terminal width columns wide,
// colour off.
func runTTY(t *testing.T, width int, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := &IOStreams{
		In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut, OutTTY: true, Width: width,
		Getenv:    func(string) string { return "" },
		LookupEnv: func(string) (string, bool) { return "", false },
	}
	if code := Run(context.Background(), streams, append(args, "--color", "never")); code != ExitOK {
		t.Fatalf("%q: exit %d: %s", args, code, errOut.String())
	}
	return out.String()
}

// TestDumpLayout pins which columns the `wal dump` table keeps at each
// width: the identifying ones (GROUP, FILE) whole, the low-value ones
// dropped first.
func TestDumpLayout(t *testing.T) {
	two := []string{"node-1/group-1", "node-10/group-1"}
	tests := []struct {
		name   string
		width  int
		groups []string
		raw    bool
		want   dumpColumns
	}{
		{"pipe", 0, two[:1], false, dumpColumns{index: 10, term: 6, typ: 14, size: 7, data: 64}},
		{"pipe, groups", 0, two, false, dumpColumns{group: 15, index: 10, term: 6, typ: 14, size: 7, data: 64}},
		{"pipe, raw", 0, two[:1], true, dumpColumns{record: 9, file: 37, offset: 10, index: 10, term: 6, typ: 14, size: 7, data: 64}},
		{"120", 120, two[:1], false, dumpColumns{index: 10, term: 6, typ: 14, size: 7, data: 78}},
		{"80", 80, two[:1], false, dumpColumns{index: 10, term: 6, typ: 14, size: 7, data: 38}},
		{"80, groups", 80, two, false, dumpColumns{group: 15, index: 10, term: 6, typ: 14, size: 7, data: 22}},
		{"60, groups: SIZE and TERM go", 60, two, false, dumpColumns{group: 15, index: 10, typ: 14, data: 17}},
		{"40: SIZE, TERM, TYPE go", 40, two[:1], false, dumpColumns{index: 10, data: 28}},
		{"120, raw", 120, two[:1], true, dumpColumns{record: 9, file: 37, offset: 10, index: 10, term: 6, typ: 14, size: 7, data: 19}},
		{"100, raw: SIZE and RECORD go", 100, two[:1], true, dumpColumns{file: 37, offset: 10, index: 10, term: 6, typ: 14, data: 17}},
		{"80, raw: numbers narrow", 80, two[:1], true, dumpColumns{file: 37, offset: 7, index: 7, typ: 14, data: 10}},
		{"80, raw, groups: wider than the terminal", 80, two, true, dumpColumns{group: 15, file: 37, offset: 7, index: 7, typ: 14, data: 8}},
		{"wide group name", 80, []string{"a", strings.Repeat("g", 70)}, false, dumpColumns{group: 70, index: 7, data: 8}},
		{"wide runes count two", 0, []string{"a", "日本"}, false, dumpColumns{group: 5, index: 10, term: 6, typ: 14, size: 7, data: 64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dumpLayout(tt.width, tt.groups, len(tt.groups) > 1, tt.raw)
			if got != tt.want {
				t.Errorf("dumpLayout(%d, %q, raw=%v) =\n %+v, want\n %+v", tt.width, tt.groups, tt.raw, got, tt.want)
			}
			if tt.width > 0 && got.data > dumpDataFloor && got.before()+got.data != tt.width {
				t.Errorf("the payload does not take the rest of the line: %d + %d != %d", got.before(), got.data, tt.width)
			}
		})
	}
}

// TestDumpTableGolden pins the `wal dump` table on an 80-column terminal.
func TestDumpTableGolden(t *testing.T) {
	const sample = "../testdata/sample"
	tests := []struct {
		args []string
		want string
	}{
		{
			[]string{"wal", "dump", sample, "-g", "node-1/group-1", "--limit", "2"},
			"     INDEX   TERM TYPE              SIZE  DATA\n" +
				"                  metadata                member=1 cluster=c1a5000000000001\n" +
				"        14      2 normal             192  g1/0010=KUHsglN5182rHSZiFkyS8LaFF0Zps…\n" +
				"        15      2 normal             192  g1/0011=e0mxn4a7ZbwcrzX0cPHagholOKAcN…\n" +
				"                  hardstate               term=3 vote=0 commit=58\n",
		},
		{
			[]string{"wal", "dump", sample, "-g", "node-4/group-1", "--raw", "--limit", "4"},
			"FILE                                   OFFSET   INDEX TYPE            DATA\n" +
				"0000000000000000-0000000000000000.wal       0         crc             00000000\n" +
				"0000000000000000-0000000000000000.wal      16         metadata        member=4 …\n" +
				"0000000000000000-0000000000000000.wal      48       0 snapshot\n" +
				"0000000000000000-0000000000000000.wal      72         state           term=2 vo…\n",
		},
		{
			[]string{"wal", "dump", sample, "-g", "node-1/group-1", "-g", "node-2/group-1", "--limit", "1", "--data", "hex"},
			"GROUP               INDEX   TERM TYPE              SIZE  DATA\n" +
				"node-1/group-1                   metadata                member=1 cluster=c1a50…\n" +
				"node-1/group-1         14      2 normal             192  67312f303031303d4b5548…\n" +
				"node-1/group-1                   hardstate               term=3 vote=0 commit=58\n" +
				"node-2/group-1                   metadata                member=2 cluster=c1a50…\n" +
				"node-2/group-1         14      2 normal             192  67312f303031303d4b5548…\n" +
				"node-2/group-1                   hardstate               term=3 vote=2 commit=58\n",
		},
	}
	for _, tt := range tests {
		if got := runTTY(t, 80, tt.args...); got != tt.want {
			t.Errorf("%q:\ngot:\n%s\nwant:\n%s", tt.args, got, tt.want)
		}
	}
}

// TestDumpTableFitsTerminal: at 80 and 100 columns the `wal dump` table
// has no line wider than the terminal, group names and segment files
// whole; only --raw with several groups needs more than 80 columns.
func TestDumpTableFitsTerminal(t *testing.T) {
	const sample = "../testdata/sample"
	segment := regexp.MustCompile(`(^| )[0-9a-f]{16}-[0-9a-f]{16}\.wal `)
	for _, width := range []int{80, 100} {
		for _, c := range []struct {
			args       []string
			raw, multi bool
		}{
			{[]string{"wal", "dump", sample, "--limit", "40"}, false, true},
			{[]string{"wal", "dump", sample, "--limit", "40", "--decoder", "raft"}, false, true},
			{[]string{"wal", "dump", sample, "-g", "node-4/group-1", "--raw"}, true, false},
			{[]string{"wal", "dump", sample, "--raw", "--limit", "10", "--data", "base64"}, true, true},
		} {
			if width == 80 && c.raw && c.multi {
				continue // GROUP, FILE, OFFSET, INDEX and TYPE need 87 columns
			}
			out := runTTY(t, width, c.args...)
			checkWidth(t, c.args, strings.NewReader(out), width)
			for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:] {
				if c.raw && !segment.MatchString(l) {
					t.Errorf("%q at %d: segment file not whole: %q", c.args, width, l)
				}
				if c.multi && !regexp.MustCompile(`^node-\d/group-\d `).MatchString(l) {
					t.Errorf("%q at %d: group name not whole: %q", c.args, width, l)
				}
			}
		}
	}
	// Several groups with --raw: the identifying columns stay whole even
	// when the line cannot fit.
	out := runTTY(t, 80, "wal", "dump", sample, "--raw", "--limit", "3")
	for _, want := range []string{"node-1/group-1 0000000000000001-000000000000000e.wal ", "node-4/group-1 0000000000000000-0000000000000000.wal "} {
		if !strings.Contains(out, want) {
			t.Errorf("--raw at 80 columns lacks %q:\n%s", want, out)
		}
	}
	if w := format.DisplayWidth(strings.SplitN(out, "\n", 2)[0]); w > 90 {
		t.Errorf("--raw at 80 columns: header %d columns wide", w)
	}
}

// TestDumpPipe: the pipe (rendering on a second goroutine) and writeEntry
// in the reader's goroutine give, byte for byte, what the general path
// (dumpItem, encoding/json) gives, over many batches, in every mode, and
// in JSONL for every payload display and decoder: this ties the
// hand-built JSONL encoder to the struct tags of the documented contract.
// A failing writer stops the dump with its error.
func TestDumpPipe(t *testing.T) {
	dir, err := fixture.LargeGroup(t.TempDir(), 2, 100) // about 18,000 entries
	if err != nil {
		t.Fatal(err)
	}
	run := func(how int, args ...string) string {
		t.Helper()
		dumpRendering = how
		defer func() { dumpRendering = renderPipe }()
		streams, out, errOut := TestStreams()
		if code := Run(context.Background(), streams, append([]string{"wal", "dump", dir}, args...)); code != ExitOK {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		return out.String()
	}
	for _, args := range [][]string{
		nil, {"-o", "table"}, {"-o", "jsonl"}, {"-o", "json", "--data", "text"}, {"--data", "hex", "--decoder", "raft"},
		{"--start-index", "5000", "--limit", "9000", "-o", "jsonl", "--data", "none"},
	} {
		want := run(renderGeneral, args...)
		if n := strings.Count(want, "\n"); n < 2*pipeBatchEntries {
			t.Fatalf("%q: %d lines: too few for several batches", args, n)
		}
		for _, how := range []int{renderDirect, renderPipe} {
			if got := run(how, args...); got != want {
				t.Errorf("%q: rendering %d differs from the general path (%d and %d bytes)", args, how, len(got), len(want))
			}
		}
	}

	// The JSONL contract on the sample, with its conf changes, empty
	// entries and metadata, for every payload display and decoder: the
	// hand-built lines are, byte for byte, encoding/json's of dumpItem.
	const sample = "../testdata/sample"
	for _, data := range []string{"base64", "hex", "text", "len", "none"} {
		for _, dec := range []string{"raft", "none", "etcd"} {
			args := []string{"-g", "node-1/group-1", "-o", "jsonl", "--data", data, "--decoder", dec}
			run := func(how int) string {
				t.Helper()
				dumpRendering = how
				defer func() { dumpRendering = renderPipe }()
				streams, out, errOut := TestStreams()
				if code := Run(context.Background(), streams, append([]string{"wal", "dump", sample}, args...)); code != ExitOK {
					t.Fatalf("%q: exit %d: %s", args, code, errOut)
				}
				return out.String()
			}
			want := run(renderGeneral)
			if data == "base64" && dec == "raft" && (!strings.Contains(want, `"decoded":{"op":"conf-change"`) || !strings.Contains(want, `"kind":"metadata"`)) {
				t.Fatalf("%q: the sample lacks conf changes or metadata:\n%s", args, want)
			}
			for _, how := range []int{renderDirect, renderPipe} {
				if got := run(how); got != want {
					t.Errorf("%q: rendering %d differs from encoding/json:\n%s\nwant:\n%s", args, how, got, want)
				}
			}
		}
	}

	// A writer that fails after 1 MB: the dump stops with its error.
	streams, _, errOut := TestStreams()
	streams.Out = &failingWriter{left: 1 << 20}
	if code := Run(context.Background(), streams, []string{"wal", "dump", dir}); code != ExitNoVerdict {
		t.Errorf("failing writer: exit %d, want %d: %s", code, ExitNoVerdict, errOut)
	}
	if !strings.Contains(errOut.String(), errDiskFull.Error()) {
		t.Errorf("failing writer: stderr lacks the write error: %s", errOut)
	}
}

var errDiskFull = errors.New("no space left on device")

type failingWriter struct{ left int }

func (f *failingWriter) Write(b []byte) (int, error) {
	if len(b) > f.left {
		return 0, errDiskFull
	}
	f.left -= len(b)
	return len(b), nil
}

// TestDumpTableWideRunes: payloads and decoded text of wide (CJK) runes are
// cut by display columns, so a row still fits the terminal.
func TestDumpTableWideRunes(t *testing.T) {
	cjk := strings.Repeat("中文键值", 20)
	for _, width := range []int{60, 80, 101} {
		var out bytes.Buffer
		w := newDumpWriter(&out, format.ModeTable, format.NewScheme(format.ColorNever, false, false), width, []string{"g"}, false)
		w.header()
		w.beginGroup("g")
		e := &inspect.Entry{Index: 7, Term: 2, Type: inspect.EntryNormal, Data: []byte(cjk)}
		if err := w.writeEntry(e, "text", ""); err != nil {
			t.Fatal(err)
		}
		if err := w.writeEntry(e, "none", "put key="+cjk); err != nil {
			t.Fatal(err)
		}
		if err := w.footer(); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("width %d: want a header and two rows:\n%s", width, out.String())
		}
		for _, l := range lines[1:] {
			if got := format.DisplayWidth(l); got > width || got < width-1 {
				t.Errorf("width %d: row is %d columns wide: %q", width, got, l)
			}
			if !strings.HasSuffix(l, "…") {
				t.Errorf("width %d: row not cut: %q", width, l)
			}
		}
	}
}
