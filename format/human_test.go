package format

import (
	"math"
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{512, "512 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{1048575, "1.0 MiB"}, // 1023.999 KiB does not print as 1024.0 KiB
		{64 << 20, "64.0 MiB"},
		{10<<30 + 300<<20, "10.3 GiB"},
		{1 << 40, "1.0 TiB"},
		{1 << 50, "1.0 PiB"},
		{math.MaxInt64, "8.0 EiB"},
		{-1536, "-1.5 KiB"},
		{-5, "-5 B"},
		{math.MinInt64, "-8.0 EiB"},
	}
	for _, tt := range tests {
		if got := Bytes(tt.n); got != tt.want {
			t.Errorf("Bytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{7, "7"},
		{999, "999"},
		{1000, "1,000"},
		{12345, "12,345"},
		{123456, "123,456"},
		{1234567, "1,234,567"},
		{-1234, "-1,234"},
		{-999, "-999"},
		{math.MaxInt64, "9,223,372,036,854,775,807"},
		{math.MinInt64, "-9,223,372,036,854,775,808"},
	}
	for _, tt := range tests {
		if got := Count(tt.n); got != tt.want {
			t.Errorf("Count(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestPayload(t *testing.T) {
	text := []byte(`put "key" <v> é`)
	binary := []byte{0x00, 0x01, 'a', '\n', '\t', '\\', 0xff, 0xfe, 0xe2, 0x80, 0x8b, 0x7f}
	tests := []struct {
		data []byte
		how  string
		want string
	}{
		{text, "hex", "70757420226b657922203c763e20c3a9"},
		{text, "base64", "cHV0ICJrZXkiIDx2PiDDqQ=="},
		{text, "text", `put "key" <v> é`},
		{text, "len", "16"},
		{text, "none", ""},
		{binary, "hex", "0001610a095cfffee2808b7f"},
		{binary, "base64", "AAFhCglc//7igIt/"},
		{binary, "text", `\x00\x01a\n\t\\\xff\xfe\u200b\x7f`},
		{binary, "len", "12"},
		{binary, "none", ""},
		{nil, "hex", ""},
		{nil, "base64", ""},
		{nil, "text", ""},
		{nil, "len", "0"},
		{nil, "none", ""},
	}
	for _, tt := range tests {
		got, err := Payload(tt.data, tt.how)
		if err != nil {
			t.Errorf("Payload(%q, %q): %v", tt.data, tt.how, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Payload(%q, %q) = %q, want %q", tt.data, tt.how, got, tt.want)
		}
		if tt.how == "text" && strings.ContainsAny(got, "\x00\n\t\x1b") {
			t.Errorf("Payload(%q, text) = %q contains control characters", tt.data, got)
		}
	}
	for _, how := range []string{"", "HEX", "raw", "string"} {
		if _, err := Payload(text, how); err == nil {
			t.Errorf("Payload(_, %q) succeeded", how)
		} else if !strings.Contains(err.Error(), "hex, base64, text, len, none") {
			t.Errorf("Payload(_, %q) error %q does not list the modes", how, err)
		}
	}
	for _, how := range PayloadModes() {
		if _, err := Payload(text, how); err != nil {
			t.Errorf("PayloadModes() lists %q but Payload rejects it: %v", how, err)
		}
	}
}
