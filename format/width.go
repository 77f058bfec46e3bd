package format

import (
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// ellipsis marks the place where [Truncate] removed text.
const ellipsis = "…"

// displayWidth is the number of terminal columns s occupies, ignoring ANSI
// escape sequences. It is tablewriter's own measure, so widths computed here
// agree with the padding tablewriter adds.
func displayWidth(s string) int { return twwidth.Width(s) }

// escapeLen returns the length of the ANSI escape sequence (CSI or OSC) at the
// start of s, or 0 if s does not start with one.
func escapeLen(s string) int {
	if len(s) < 2 || s[0] != '\x1b' {
		return 0
	}
	switch s[1] {
	case '[': // CSI: parameters 0x30-0x3f, intermediates 0x20-0x2f, final 0x40-0x7e
		i := 2
		for i < len(s) && s[i] >= 0x30 && s[i] <= 0x3f {
			i++
		}
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
			return i + 1
		}
	case ']': // OSC: up to BEL or ESC \
		for i := 2; i < len(s); i++ {
			if s[i] == '\a' {
				return i + 1
			}
			if s[i] == '\x1b' && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
	}
	return 0
}

// stripANSI removes ANSI escape sequences from s.
func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if n := escapeLen(s[i:]); n > 0 {
			i += n
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// Truncate shortens s to at most width terminal columns by cutting it on the
// LEFT and putting "…" in front, so that the distinguishing end of a path or
// key stays visible: Truncate("/var/lib/raft/wal", 8) is "…aft/wal". Widths
// are display widths (a CJK character counts two). ANSI escape sequences are
// zero-width and kept, so a coloured string stays coloured. s is returned
// unchanged if it fits; width <= 0 gives "".
func Truncate(s string, width int) string {
	if displayWidth(s) <= width {
		return s
	}
	if width <= 0 {
		return ""
	}
	// Split s into escape sequences (zero width) and runes.
	type token struct {
		text   string
		width  int
		escape bool
	}
	var toks []token
	for i := 0; i < len(s); {
		if n := escapeLen(s[i:]); n > 0 {
			toks = append(toks, token{text: s[i : i+n], escape: true})
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		toks = append(toks, token{text: s[i : i+size], width: displayWidth(string(r))})
		i += size
	}
	// Walk back from the end, keeping whole runes while they fit.
	budget := width - displayWidth(ellipsis)
	cut := len(toks)
	for k := len(toks) - 1; k >= 0; k-- {
		if toks[k].escape {
			continue
		}
		if toks[k].width > budget {
			break
		}
		budget -= toks[k].width
		cut = k
	}
	// Keep the escape sequences of the dropped head so that colours that
	// start there still apply to the tail.
	var b strings.Builder
	for _, t := range toks[:cut] {
		if t.escape {
			b.WriteString(t.text)
		}
	}
	b.WriteString(ellipsis)
	for _, t := range toks[cut:] {
		b.WriteString(t.text)
	}
	return b.String()
}

// DisplayWidth is the number of terminal columns s takes, colour codes
// excluded.
func DisplayWidth(s string) int { return displayWidth(stripANSI(s)) }
