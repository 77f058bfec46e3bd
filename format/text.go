package format

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"unicode"
	"unicode/utf8"
)

// This file holds the hot paths of a dump: escaping payloads as text and
// quoting strings as JSON, both appending into a caller's buffer. Payloads
// are mostly printable ASCII, so both look at eight bytes at a time for
// the first byte that needs attention and copy the run before it whole.

const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
	hexLower = "0123456789abcdef"
)

// needsTextEscape reports whether any byte of the little-endian word x is
// outside printable ASCII (below 0x20, or 0x7f and above) or a backslash.
// Each test is exact as to whether some byte matches (the borrows and
// carries of the word arithmetic only ever add to a byte already found).
func needsTextEscape(x uint64) bool {
	below := (x - lowBits*0x20) &^ x             // a byte < 0x20
	above := (x + lowBits*0x01) | x              // a byte >= 0x7f
	bs := x ^ (lowBits * '\\')                   // zero where a byte is '\\'
	backslash := (bs - lowBits) &^ bs            // a zero byte in bs
	return (below|above|backslash)&highBits != 0 //
}

// textPlain reports whether c is copied as it is by the text escaping.
func textPlain(c byte) bool { return c >= 0x20 && c < 0x7f && c != '\\' }

// textPlainPrefix returns the length of the longest prefix of b that the
// text escaping copies as it is.
func textPlainPrefix(b []byte) int {
	i := 0
	for i+8 <= len(b) && !needsTextEscape(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for i < len(b) && textPlain(b[i]) {
		i++
	}
	return i
}

// appendText appends the text escaping of data (see [Payload]) to dst.
func appendText(dst, data []byte) []byte {
	for i := 0; i < len(data); {
		n := textPlainPrefix(data[i:])
		dst = append(dst, data[i:i+n]...)
		if i += n; i < len(data) {
			dst, i = appendTextUnit(dst, data, i)
		}
	}
	return dst
}

// appendTextUnit appends the escaping of the one rune (or invalid byte)
// at data[i], which is not plain ASCII, and returns the index after it.
// The escapes are those of strconv.QuoteRune, which Go's %q uses.
func appendTextUnit(dst, data []byte, i int) ([]byte, int) {
	c := data[i]
	if c < utf8.RuneSelf {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\a':
			dst = append(dst, '\\', 'a')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\v':
			dst = append(dst, '\\', 'v')
		default: // the other controls and DEL
			dst = append(dst, '\\', 'x', hexLower[c>>4], hexLower[c&0xf])
		}
		return dst, i + 1
	}
	r, size := utf8.DecodeRune(data[i:])
	switch {
	case r == utf8.RuneError && size == 1: // an invalid byte
		dst = append(dst, '\\', 'x', hexLower[c>>4], hexLower[c&0xf])
	case unicode.IsPrint(r):
		dst = append(dst, data[i:i+size]...)
	case r < 0x10000:
		dst = append(dst, '\\', 'u')
		for s := 12; s >= 0; s -= 4 {
			dst = append(dst, hexLower[r>>s&0xf])
		}
	default:
		dst = append(dst, '\\', 'U')
		for s := 28; s >= 0; s -= 4 {
			dst = append(dst, hexLower[r>>s&0xf])
		}
	}
	return dst, i + size
}

// AppendTextCut appends the text escaping of data (see [Payload]) cut to
// at most width terminal columns: when the escaped text is wider, as many
// of its first runes as fit in width-1 columns, then "…". Only as much of
// data is escaped as the cut needs, so a long payload costs no more than a
// short one. A width below 1 counts as 1.
func AppendTextCut(dst, data []byte, width int) []byte {
	width = max(width, 1)
	start := len(dst)
	cols := 0 // of dst[start:]; every byte an escape appends is one column
	ascii := true
	for i := 0; i < len(data) && cols <= width; {
		n := textPlainPrefix(data[i:min(len(data), i+width+1-cols)])
		dst = append(dst, data[i:i+n]...)
		cols += n
		if i += n; i == len(data) || cols > width {
			break
		}
		before := len(dst)
		dst, i = appendTextUnit(dst, data, i)
		if dst[before] < utf8.RuneSelf {
			cols += len(dst) - before
		} else { // a printable rune copied as it is
			cols += runeWidth(dst[before:])
			ascii = false
		}
	}
	if cols <= width {
		return dst
	}
	return cutColumns(dst, start, width-1, ascii)
}

// AppendCut appends s cut to at most width terminal columns, as
// [AppendTextCut] cuts (s is not escaped: it must hold no control
// characters). A width below 1 counts as 1.
func AppendCut(dst []byte, s string, width int) []byte {
	width = max(width, 1)
	start := len(dst)
	dst = append(dst, s...)
	if len(s) <= width {
		return dst // at most one column a byte
	}
	cols, ascii := 0, true
	for _, r := range s {
		if r < utf8.RuneSelf {
			cols++
		} else {
			cols += displayWidth(string(r))
			ascii = false
		}
		if cols > width {
			return cutColumns(dst, start, width-1, ascii)
		}
	}
	return dst
}

// runeWidth is the display width of the rune that b starts with.
func runeWidth(b []byte) int {
	r, _ := utf8.DecodeRune(b)
	return displayWidth(string(r))
}

// cutColumns keeps of dst[start:] the longest run of whole runes at most
// width columns wide and appends "…".
func cutColumns(dst []byte, start, width int, ascii bool) []byte {
	k := start + width
	if !ascii {
		k = start
		for cols := 0; k < len(dst); {
			r, size := utf8.DecodeRune(dst[k:])
			w := 1
			if r >= utf8.RuneSelf {
				w = displayWidth(string(r))
			}
			if cols+w > width {
				break
			}
			cols += w
			k += size
		}
	}
	return append(dst[:k], ellipsis...)
}

// needsJSONEscape reports whether any byte of x is a control character, a
// quote, a backslash or not ASCII.
func needsJSONEscape(x uint64) bool {
	below := (x - lowBits*0x20) &^ x
	q := x ^ (lowBits * '"')
	quote := (q - lowBits) &^ q
	bs := x ^ (lowBits * '\\')
	backslash := (bs - lowBits) &^ bs
	return (below|x|quote|backslash)&highBits != 0
}

// AppendJSONString appends s as a JSON string, quotes included, byte for
// byte as encoding/json writes a string with HTML escaping off: '"', '\\'
// and control characters escaped (\n, \r, \t, \b, \f, else \u00XX), each
// invalid UTF-8 byte replaced by \ufffd, U+2028 and U+2029 escaped, all
// else as it is.
func AppendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		j := i
		for j+8 <= len(s) && !needsJSONEscape(binary.LittleEndian.Uint64(s[j:])) {
			j += 8
		}
		for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
			j++
		}
		dst = append(dst, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexLower[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// AppendPayloadCut appends Payload(data, how) cut to at most width
// columns as [AppendTextCut] cuts it, encoding only the part of data the
// cut keeps. how must be valid (see Payload).
func AppendPayloadCut(dst, data []byte, how string, width int) []byte {
	width = max(width, 1)
	keep := width - 1 // runes before the "…" when the payload is cut
	var full, need int
	switch how {
	case "text":
		return AppendTextCut(dst, data, width)
	case "hex":
		full, need = hex.EncodedLen(len(data)), (keep+1)/2
	case "base64":
		// Every 3 bytes of input give 4 characters of output.
		full, need = base64.StdEncoding.EncodedLen(len(data)), (keep+3)/4*3
	default: // len, none: a few ASCII digits at most
		start := len(dst)
		dst = AppendPayload(dst, data, how)
		if len(dst)-start <= width {
			return dst
		}
		return append(dst[:start+keep], ellipsis...)
	}
	if full <= width {
		return AppendPayload(dst, data, how)
	}
	start := len(dst)
	dst = AppendPayload(dst, data[:min(need, len(data))], how)
	return append(dst[:start+keep], ellipsis...)
}
