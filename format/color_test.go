package format

import (
	"testing"

	"github.com/fatih/color"
)

func TestNewScheme(t *testing.T) {
	tests := []struct {
		mode       ColorMode
		isTTY      bool
		noColorEnv bool
		want       bool
	}{
		{ColorAuto, true, false, true},
		{ColorAuto, true, true, false},
		{ColorAuto, false, false, false},
		{ColorAuto, false, true, false},
		{"", true, false, true},
		{ColorAlways, false, true, true},
		{ColorAlways, true, false, true},
		{ColorNever, true, false, false},
		{ColorNever, false, false, false},
	}
	for _, tt := range tests {
		s := NewScheme(tt.mode, tt.isTTY, tt.noColorEnv)
		if got := s.Enabled(); got != tt.want {
			t.Errorf("NewScheme(%q, tty=%v, NO_COLOR=%v).Enabled() = %v, want %v",
				tt.mode, tt.isTTY, tt.noColorEnv, got, tt.want)
		}
		colored := s.OK("x") != "x"
		if colored != tt.want {
			t.Errorf("NewScheme(%q, tty=%v, NO_COLOR=%v).OK(%q) = %q", tt.mode, tt.isTTY, tt.noColorEnv, "x", s.OK("x"))
		}
	}
}

// The scheme must not depend on fatih/color's global NoColor, which that
// package sets from the environment and os.Stdout at init.
func TestSchemeIgnoresGlobalNoColor(t *testing.T) {
	saved := color.NoColor
	t.Cleanup(func() { color.NoColor = saved })
	for _, global := range []bool{true, false} {
		color.NoColor = global
		if got := NewScheme(ColorAlways, false, false).Err("x"); got == "x" {
			t.Errorf("color.NoColor=%v: always scheme did not colour", global)
		}
		if got := NewScheme(ColorNever, true, false).Err("x"); got != "x" {
			t.Errorf("color.NoColor=%v: never scheme coloured: %q", global, got)
		}
	}
}

func TestSchemeStyles(t *testing.T) {
	on := NewScheme(ColorAlways, false, false)
	tests := []struct {
		name string
		f    func(*Scheme, string) string
		want string
	}{
		{"OK", (*Scheme).OK, "\x1b[32mok\x1b[0m"},
		{"Warn", (*Scheme).Warn, "\x1b[33mok\x1b[0m"},
		{"Err", (*Scheme).Err, "\x1b[31mok\x1b[0m"},
		{"Info", (*Scheme).Info, "\x1b[36mok\x1b[0m"},
		{"Bold", (*Scheme).Bold, "\x1b[1mok\x1b[22m"},
		{"Dim", (*Scheme).Dim, "\x1b[2mok\x1b[22m"},
	}
	var nilScheme *Scheme
	off := NewScheme(ColorNever, true, false)
	for _, tt := range tests {
		if got := tt.f(on, "ok"); got != tt.want {
			t.Errorf("%s on: got %q, want %q", tt.name, got, tt.want)
		}
		if got := tt.f(on, ""); got != "" {
			t.Errorf("%s on empty string: got %q, want \"\"", tt.name, got)
		}
		if got := tt.f(off, "ok"); got != "ok" {
			t.Errorf("%s off: got %q", tt.name, got)
		}
		if got := tt.f(nilScheme, "ok"); got != "ok" {
			t.Errorf("%s on nil scheme: got %q", tt.name, got)
		}
		for _, m := range []Mode{ModePlain, ModeJSON, ModeJSONL, ModeAuto} {
			if got := tt.f(on.For(m), "ok"); got != "ok" {
				t.Errorf("%s For(%s): got %q, want no colour", tt.name, m, got)
			}
		}
		if got := tt.f(on.For(ModeTable), "ok"); got != tt.want {
			t.Errorf("%s For(table): got %q, want %q", tt.name, got, tt.want)
		}
	}
	if on.For(ModePlain).Enabled() || !on.Enabled() {
		t.Error("For(plain) changed or kept the wrong scheme")
	}
	if nilScheme.For(ModeTable).Enabled() {
		t.Error("nil scheme enabled")
	}
}
