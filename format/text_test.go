package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// escapeTextReference is the first implementation of the "text" payload
// (rune by rune, fmt for invalid bytes), kept as the oracle of the
// differential tests: the fast escaper must produce exactly its bytes.
func escapeTextReference(data []byte) string {
	var b strings.Builder
	b.Grow(len(data))
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, data[0])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"' || unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r) // 'x' with x escaped
			b.WriteString(q[1 : len(q)-1])
		}
		data = data[size:]
	}
	return b.String()
}

// cutReference cuts s to at most width terminal columns, rune by rune,
// the last column "…" when something was cut: what the table's cut of a
// payload must give.
func cutReference(s string, width int) string {
	if displayWidthRunes(s) <= width {
		return s
	}
	var b strings.Builder
	cols := 0
	for _, r := range s {
		w := displayWidthRunes(string(r))
		if cols+w > width-1 {
			break
		}
		b.WriteRune(r)
		cols += w
	}
	return b.String() + "…"
}

// displayWidthRunes is the sum of the display widths of s's runes (a
// combining sequence counts each of its runes).
func displayWidthRunes(s string) int {
	n := 0
	for _, r := range s {
		n += displayWidth(string(r))
	}
	return n
}

// textSamples are inputs that exercise every branch of the escaper: ASCII
// runs of every length around the 8-byte word, each control character,
// DEL, backslash, quotes, valid multi-byte runes (printable and not),
// truncated and overlong sequences, surrogates and runes above U+10FFFF.
func textSamples() [][]byte {
	s := [][]byte{
		nil, {}, []byte("a"), []byte("abcdefg"), []byte("abcdefgh"), []byte("abcdefghi"),
		[]byte(strings.Repeat("x", 1024)),
		[]byte(`put "key" <v> é`),
		[]byte("tab\there\nnew\rline\a\b\f\v\x00\x1f\x7f\\'\"~ "),
		[]byte("\u200b\u2028\u2029\ufeff\ufffd\U0001F600\U000E0001\u00ad\u00a0日本語"),
		{0xff, 0xfe, 0xc0, 0xaf, 0xe2, 0x80, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xf0, 0x9f, 0x98},
		[]byte("aaaaaaa\\bbbbbbbb\x7fcccccccc\x80dddddddd"),
	}
	for c := range 256 {
		s = append(s, []byte{byte(c)}, []byte("0123456"+string(rune(c))+"89abcdef"), []byte{'x', byte(c), 0x80, 'y'})
	}
	return s
}

// randomText returns n bytes drawn to hit the escaper's edges: mostly
// printable ASCII runs, with control bytes, high bytes, valid UTF-8 and
// broken sequences mixed in.
func randomText(rng *rand.Rand, n int) []byte {
	var b []byte
	for len(b) < n {
		switch rng.IntN(10) {
		case 0:
			b = append(b, byte(rng.IntN(256)))
		case 1:
			b = append(b, byte(rng.IntN(0x20)), 0x7f, '\\')
		case 2:
			b = utf8.AppendRune(b, rune(rng.IntN(0x110000)))
		case 3:
			r := utf8.AppendRune(nil, rune(0x80+rng.IntN(0x10ff80)))
			b = append(b, r[:rng.IntN(len(r))]...) // a truncated sequence
		default:
			for k := rng.IntN(40); k > 0; k-- {
				b = append(b, byte(0x20+rng.IntN(0x5f)))
			}
		}
	}
	return b
}

// TestEscapeTextMatchesReference: the fast escaper gives the reference's
// bytes on crafted samples and on random bytes, invalid UTF-8 included.
func TestEscapeTextMatchesReference(t *testing.T) {
	check := func(data []byte) {
		t.Helper()
		want := escapeTextReference(data)
		if got := escapeText(data); got != want {
			t.Fatalf("escapeText(%q) = %q, want %q", data, got, want)
		}
		prefix := []byte("prefix")
		if got := AppendPayload(prefix, data, "text"); string(got) != "prefix"+want {
			t.Fatalf("AppendPayload(prefix, %q, text) = %q, want %q", data, got, "prefix"+want)
		}
	}
	for _, d := range textSamples() {
		check(d)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		check(randomText(rng, rng.IntN(200)))
	}
	// Random runes over the whole code point range.
	for range 20000 {
		check(utf8.AppendRune(nil, rune(rng.IntN(utf8.MaxRune+1))))
	}
}

// TestAppendTextCutMatchesReference: cutting while escaping gives what
// escaping everything and cutting the result to the width gives; so does
// AppendCut on the escaped text.
func TestAppendTextCutMatchesReference(t *testing.T) {
	check := func(data []byte, width int) {
		t.Helper()
		want := cutReference(escapeTextReference(data), width)
		if got := AppendTextCut([]byte("p"), data, width); string(got) != "p"+want {
			t.Fatalf("AppendTextCut(%q, %d) = %q, want %q", data, width, got[1:], want)
		}
		if got := AppendCut([]byte("p"), escapeTextReference(data), width); string(got) != "p"+want {
			t.Fatalf("AppendCut(%q, %d) = %q, want %q", escapeTextReference(data), width, got[1:], want)
		}
	}
	for _, d := range textSamples() {
		for _, w := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 64} {
			check(d, w)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		check(randomText(rng, rng.IntN(100)), 1+rng.IntN(80))
	}
}

// TestAppendPayloadCut: every payload mode, cut while encoding, gives what
// encoding everything and cutting the result by runes gave.
func TestAppendPayloadCut(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	samples := textSamples()
	for range 2000 {
		samples = append(samples, randomText(rng, rng.IntN(100)))
	}
	for _, d := range samples {
		for _, how := range PayloadModes() {
			full, err := Payload(d, how)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 64, 1 + rng.IntN(300)} {
				want := cutReference(full, w)
				if got := AppendPayloadCut([]byte("p"), d, how, w); string(got) != "p"+want {
					t.Fatalf("AppendPayloadCut(%q, %s, %d) = %q, want %q", d, how, w, got[1:], want)
				}
			}
		}
	}
}

// TestAppendBase64MatchesEncodingBase64: the AVX2 and the pair-table
// encoders give encoding/base64's bytes for every length around their
// 24- and eight-byte steps, at every alignment, for every index of the
// alphabet.
func TestAppendBase64MatchesEncodingBase64(t *testing.T) {
	defer func(on bool) { hasBase64AVX2 = on }(hasBase64AVX2)
	rng := rand.New(rand.NewPCG(11, 12))
	buf := make([]byte, 700)
	for i := range buf {
		buf[i] = byte(rng.IntN(256))
	}
	// Every 6-bit index in every position of a 24-byte round: the bytes of
	// 0..255 three times over, shifted.
	all := make([]byte, 0, 800)
	for k := range 3 {
		for v := range 256 {
			all = append(all, byte(v+k))
		}
	}
	for _, avx := range []bool{false, hasBase64AVX2} {
		hasBase64AVX2 = avx
		check := func(src []byte) {
			t.Helper()
			want := base64.StdEncoding.EncodeToString(src)
			if got := appendBase64([]byte("p"), src); string(got) != "p"+want {
				t.Fatalf("avx2 %v: appendBase64(%x) = %q, want %q", avx, src, got[1:], want)
			}
		}
		for n := range 600 {
			check(buf[n%32 : n%32+n])
		}
		for off := range 3 {
			check(all[off:])
		}
	}
}

// FuzzBase64: appendBase64 agrees with encoding/base64 for any bytes.
func FuzzBase64(f *testing.F) {
	f.Add([]byte("raftctl"), uint8(0))
	f.Add(bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 40), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, off uint8) {
		src := data[min(int(off), len(data)):]
		if got, want := string(appendBase64(nil, src)), base64.StdEncoding.EncodeToString(src); got != want {
			t.Fatalf("appendBase64(%x) = %q, want %q", src, got, want)
		}
	})
}

// TestAppendJSONStringMatchesEncodingJSON: the hand-written quoting gives
// encoding/json's bytes (HTML escaping off) for any bytes, invalid UTF-8
// and U+2028/U+2029 included.
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	check := func(s []byte) {
		t.Helper()
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(string(s)); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(b.String(), "\n")
		if got := AppendJSONString([]byte("p"), s); string(got) != "p"+want {
			t.Fatalf("AppendJSONString(%q) = %q, want %q", s, got[1:], want)
		}
	}
	for _, d := range textSamples() {
		check(d)
		check([]byte(escapeTextReference(d)))
	}
	check([]byte("<a href=\"x\">&amp;</a>\u2028\u2029"))
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		check(randomText(rng, rng.IntN(200)))
	}
}

// FuzzEscapeText: for any bytes the fast paths agree with the references,
// and the escaped text is valid UTF-8 without control characters.
func FuzzEscapeText(f *testing.F) {
	for _, d := range textSamples() {
		f.Add(d, uint8(16))
	}
	f.Fuzz(func(t *testing.T, data []byte, width uint8) {
		want := escapeTextReference(data)
		got := escapeText(data)
		if got != want {
			t.Fatalf("escapeText(%q) = %q, want %q", data, got, want)
		}
		if !utf8.ValidString(got) || strings.ContainsFunc(got, unicode.IsControl) {
			t.Fatalf("escapeText(%q) = %q: invalid UTF-8 or a control character", data, got)
		}
		if w := int(width%128) + 1; string(AppendTextCut(nil, data, w)) != cutReference(want, w) {
			t.Fatalf("AppendTextCut(%q, %d) = %q, want %q", data, w, AppendTextCut(nil, data, w), cutReference(want, w))
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(string(data)); err != nil {
			t.Fatal(err)
		}
		if got, want := string(AppendJSONString(nil, data)), strings.TrimSuffix(b.String(), "\n"); got != want {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", data, got, want)
		}
	})
}

// BenchmarkEscapeText: 1 KiB of printable ASCII (the common payload) and
// 1 KiB of random bytes.
func BenchmarkEscapeText(b *testing.B) {
	ascii := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz{\"key\": 12}"), 28)[:1024]
	rng := rand.New(rand.NewPCG(7, 8))
	random := make([]byte, 1024)
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"ascii", ascii}, {"random", random}} {
		b.Run(c.name+"/reference", func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				_ = escapeTextReference(c.data)
			}
		})
		b.Run(c.name+"/append", func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = AppendPayload(buf[:0], c.data, "text")
			}
		})
		b.Run(c.name+"/base64-stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			var buf []byte
			for b.Loop() {
				buf = base64.StdEncoding.AppendEncode(buf[:0], c.data)
			}
		})
		b.Run(c.name+"/base64", func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			var buf []byte
			for b.Loop() {
				buf = appendBase64(buf[:0], c.data)
			}
		})
		b.Run(c.name+"/json", func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			var buf, q []byte
			for b.Loop() {
				buf = AppendPayload(buf[:0], c.data, "text")
				q = AppendJSONString(q[:0], buf)
			}
		})
	}
}
