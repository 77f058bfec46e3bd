package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

type entry struct {
	SchemaVersion int    `json:"schema_version"`
	Index         uint64 `json:"index"`
	Data          string `json:"data,omitempty"`
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"struct", entry{1, 7, "<a & b>"}, "{\n  \"schema_version\": 1,\n  \"index\": 7,\n  \"data\": \"<a & b>\"\n}\n"},
		{"list", []entry{{1, 1, ""}, {1, 2, ""}}, "[\n  {\n    \"schema_version\": 1,\n    \"index\": 1\n  },\n  {\n    \"schema_version\": 1,\n    \"index\": 2\n  }\n]\n"},
		{"map keys sorted", map[string]int{"b": 2, "a": 1}, "{\n  \"a\": 1,\n  \"b\": 2\n}\n"},
		{"empty list", []entry{}, "[]\n"},
		{"nil", nil, "null\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := WriteJSON(&b, tt.v); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, b.String(), tt.want)
		}
		if strings.Contains(b.String(), "\x1b") || strings.Contains(b.String(), `\u003c`) {
			t.Errorf("%s: escapes in %q", tt.name, b.String())
		}
	}
}

func TestWriteJSONErrors(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, map[string]any{"c": make(chan int)}); err == nil {
		t.Error("WriteJSON of a channel succeeded")
	}
	if b.Len() != 0 {
		t.Errorf("WriteJSON wrote %q on error", b.String())
	}
	if err := WriteJSON(failWriter{}, 1); err == nil {
		t.Error("WriteJSON to a failing writer succeeded")
	}
}

func TestJSONL(t *testing.T) {
	var b bytes.Buffer
	w := NewJSONL(&b)
	for _, v := range []any{entry{1, 1, "<x>"}, entry{1, 2, "a\nb"}, map[string]string{"z": "&", "a": "é"}} {
		if err := w.Write(v); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != 0 {
		t.Errorf("wrote %d bytes before Flush; want them buffered", b.Len())
	}
	if err := w.Write(make(chan int)); err == nil {
		t.Error("Write of a channel succeeded")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"schema_version":1,"index":1,"data":"<x>"}` + "\n" +
		`{"schema_version":1,"index":2,"data":"a\nb"}` + "\n" +
		`{"a":"é","z":"&"}` + "\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}

func TestJSONLStream(t *testing.T) {
	const n = 200000
	var b bytes.Buffer
	w := NewJSONL(&b)
	for i := range n {
		if err := w.Write(entry{1, uint64(i), "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&b)
	lines := 0
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v: %q", lines, err, sc.Text())
		}
		if e.Index != uint64(lines) {
			t.Fatalf("line %d has index %d", lines, e.Index)
		}
		lines++
	}
	if lines != n {
		t.Errorf("got %d lines, want %d", lines, n)
	}
}

func TestJSONLWriteError(t *testing.T) {
	w := NewJSONL(failWriter{})
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = w.Write(entry{1, uint64(i), strings.Repeat("x", 100)})
	}
	if err == nil {
		t.Fatal("no error writing 1 MB to a failing writer")
	}
	if ferr := w.Flush(); ferr == nil {
		t.Error("Flush after a write error succeeded")
	}
}

func BenchmarkJSONL(b *testing.B) {
	var buf bytes.Buffer
	w := NewJSONL(&buf)
	e := entry{1, 0, "payload"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.Index = uint64(i)
		if err := w.Write(e); err != nil {
			b.Fatal(err)
		}
		if buf.Len() > 1<<20 {
			buf.Reset()
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}
