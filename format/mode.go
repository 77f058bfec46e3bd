package format

import (
	"fmt"
	"strings"
)

// Mode is an output mode, the value of -o.
type Mode string

// The output modes. ModeAuto (or the empty Mode) must be passed through
// [Resolve] before rendering.
const (
	ModeAuto  Mode = "auto"  // ModeTable on a terminal, ModePlain otherwise
	ModeTable Mode = "table" // aligned columns with a header, colour allowed
	ModePlain Mode = "plain" // one line per row, fields separated by a TAB
	ModeJSON  Mode = "json"  // one indented JSON document
	ModeJSONL Mode = "jsonl" // one compact JSON object per line (NDJSON)
)

// Modes lists the concrete output modes, for help text and shell completion.
// [ParseMode] also accepts "auto".
func Modes() []string {
	return []string{string(ModeTable), string(ModePlain), string(ModeJSON), string(ModeJSONL)}
}

// ParseMode parses the value of -o, case-insensitively. The empty string and
// "auto" give ModeAuto.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", ModeAuto:
		return ModeAuto, nil
	case ModeTable, ModePlain, ModeJSON, ModeJSONL:
		return m, nil
	}
	return "", fmt.Errorf("invalid output format %q (want %s or auto)", s, strings.Join(Modes(), ", "))
}

// Resolve replaces ModeAuto (or the empty Mode) with ModeTable when output
// goes to a terminal and ModePlain when it does not; other modes are returned
// unchanged.
func Resolve(m Mode, isTTY bool) Mode {
	if m != "" && m != ModeAuto {
		return m
	}
	if isTTY {
		return ModeTable
	}
	return ModePlain
}
