package format

import "testing"

func TestTruncate(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"", 5, ""},
		{"abc", 3, "abc"},
		{"abc", 10, "abc"},
		{"/var/lib/raft/wal", 8, "…aft/wal"},
		{"abcdef", 1, "…"},
		{"abcdef", 2, "…f"},
		{"abcdef", 0, ""},
		{"abcdef", -1, ""},
		{"abc", 0, ""},
		{"日本語テキスト", 6, "…スト"},  // wide runes: 1 + 2 + 2, a third would overflow
		{"日本語テキスト", 7, "…キスト"}, // 1 + 2 + 2 + 2
		{"aé日x", 4, "…日x"},     // mixed widths
		{"\x1b[31m/var/lib/raft/wal\x1b[0m", 8, "\x1b[31m…aft/wal\x1b[0m"},
		{"\x1b[31mred\x1b[0m", 3, "\x1b[31mred\x1b[0m"},
		{"ab\x1b[1mcdef\x1b[22m", 3, "\x1b[1m…ef\x1b[22m"},
		{"\x1b]8;;https://example.com/a/very/long/url\x1b\\link\x1b]8;;\x1b\\text", 5, "\x1b]8;;https://example.com/a/very/long/url\x1b\\\x1b]8;;\x1b\\…text"},
	}
	for _, tt := range tests {
		got := Truncate(tt.in, tt.width)
		if got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
		if tt.width > 0 && displayWidth(got) > tt.width {
			t.Errorf("Truncate(%q, %d) = %q is %d wide", tt.in, tt.width, got, displayWidth(got))
		}
	}
}

func TestStripANSI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"\x1b[31mred\x1b[0m", "red"},
		{"\x1b[1;38;5;208mx\x1b[22m", "x"},
		{"\x1b]8;;http://x\x07link\x1b]8;;\x07", "link"},
		{"lone \x1b escape", "lone \x1b escape"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := stripANSI(tt.in); got != tt.want {
			t.Errorf("stripANSI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
