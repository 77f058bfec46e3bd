package format

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

func TestMain(m *testing.M) {
	// Display widths of ambiguous characters such as "…" depend on the
	// locale; pin them so that the golden strings hold everywhere.
	twwidth.SetEastAsian(false)
	os.Exit(m.Run())
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		want    Mode
		wantErr string
	}{
		{"", ModeAuto, ""},
		{"auto", ModeAuto, ""},
		{"table", ModeTable, ""},
		{"plain", ModePlain, ""},
		{"json", ModeJSON, ""},
		{"jsonl", ModeJSONL, ""},
		{"JSON", ModeJSON, ""},
		{" plain ", ModePlain, ""},
		{"xml", "", `invalid output format "xml" (want table, plain, json, jsonl or auto)`},
		{"ndjson", "", `invalid output format "ndjson" (want table, plain, json, jsonl or auto)`},
		{"tables", "", `invalid output format "tables" (want table, plain, json, jsonl or auto)`},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseMode(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestModes(t *testing.T) {
	want := []string{"table", "plain", "json", "jsonl"}
	if got := Modes(); !reflect.DeepEqual(got, want) {
		t.Errorf("Modes() = %q, want %q", got, want)
	}
	for _, s := range Modes() {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		in    Mode
		isTTY bool
		want  Mode
	}{
		{"", true, ModeTable},
		{"", false, ModePlain},
		{ModeAuto, true, ModeTable},
		{ModeAuto, false, ModePlain},
		{ModeTable, false, ModeTable},
		{ModePlain, true, ModePlain},
		{ModeJSON, true, ModeJSON},
		{ModeJSONL, false, ModeJSONL},
	}
	for _, tt := range tests {
		if got := Resolve(tt.in, tt.isTTY); got != tt.want {
			t.Errorf("Resolve(%q, %v) = %q, want %q", tt.in, tt.isTTY, got, tt.want)
		}
	}
}

func TestParseColorMode(t *testing.T) {
	tests := []struct {
		in      string
		want    ColorMode
		wantErr bool
	}{
		{"", ColorAuto, false},
		{"auto", ColorAuto, false},
		{"always", ColorAlways, false},
		{"Never", ColorNever, false},
		{"yes", "", true},
		{"on", "", true},
	}
	for _, tt := range tests {
		got, err := ParseColorMode(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseColorMode(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "auto, always, never") {
			t.Errorf("ParseColorMode(%q) error %q does not list the modes", tt.in, err)
		}
	}
}
