package format

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Bytes formats n bytes for humans with IEC units: "512 B", "1.5 KiB",
// "64.0 MiB". Values of 1 KiB and more have one decimal. Machine modes
// should print the raw number instead.
func Bytes(n int64) string {
	if n > -1024 && n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	sign := ""
	u := float64(n)
	if n < 0 {
		sign, u = "-", -u
	}
	const units = "KMGTPE"
	v := u / 1024
	i := 0
	// Move up a unit when rounding to one decimal would print 1024.0.
	for i < len(units)-1 && v >= 1024-0.05 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%s%.1f %ciB", sign, v, units[i])
}

// Count formats n with a comma every three digits: "1,234,567". It is for
// humans; machine modes should print the raw number instead.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	digits := s
	sign := ""
	if n < 0 {
		sign, digits = "-", s[1:]
	}
	if len(digits) <= 3 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(digits)/3)
	b.WriteString(sign)
	first := len(digits) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(digits[:first])
	for i := first; i < len(digits); i += 3 {
		b.WriteByte(',')
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// PayloadModes lists the values Payload accepts, for --data help and
// completion.
func PayloadModes() []string {
	return []string{"hex", "base64", "text", "len", "none"}
}

// Payload renders an entry's data as chosen by --data:
//
//   - "hex": lower-case hexadecimal;
//   - "base64": standard base64 with padding;
//   - "text": printable UTF-8 as it is; a backslash, control and other
//     non-printable characters and invalid bytes escaped as Go's %q does
//     (\\, \n, \t, \x00, \u200b), but without surrounding quotes and with
//     '"' left unescaped;
//   - "len": the length in bytes, in decimal;
//   - "none": the empty string.
//
// Any other value is an error.
func Payload(data []byte, how string) (string, error) {
	switch how {
	case "hex":
		return hex.EncodeToString(data), nil
	case "base64":
		return base64.StdEncoding.EncodeToString(data), nil
	case "text":
		return escapeText(data), nil
	case "len":
		return strconv.Itoa(len(data)), nil
	case "none":
		return "", nil
	}
	return "", fmt.Errorf("invalid payload format %q (want %s)", how, strings.Join(PayloadModes(), ", "))
}

// escapeText is the "text" payload of [Payload] (see [appendText]).
func escapeText(data []byte) string {
	return string(appendText(make([]byte, 0, len(data)), data))
}

// AppendPayload appends Payload(data, how) to dst; it allocates only to
// grow dst. how must be valid (see Payload).
func AppendPayload(dst, data []byte, how string) []byte {
	switch how {
	case "hex":
		return hex.AppendEncode(dst, data)
	case "base64":
		return appendBase64(dst, data)
	case "text":
		return appendText(dst, data)
	case "len":
		return strconv.AppendInt(dst, int64(len(data)), 10)
	}
	return dst
}
