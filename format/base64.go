package format

import (
	"encoding/base64"
	"encoding/binary"
	"slices"
)

// base64Pairs maps 12 bits of input to the two characters of the standard
// base64 alphabet they encode, as a little-endian uint16.
var base64Pairs = func() (t [4096]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = uint16(alphabet[i>>6]) | uint16(alphabet[i&63])<<8
	}
	return t
}()

// base64Word encodes the six bytes in the top 48 bits of x as eight
// characters, in the order they are stored by a little-endian PutUint64.
func base64Word(x uint64) uint64 {
	return uint64(base64Pairs[x>>52]) | uint64(base64Pairs[x>>40&0xfff])<<16 |
		uint64(base64Pairs[x>>28&0xfff])<<32 | uint64(base64Pairs[x>>16&0xfff])<<48
}

// appendBase64 appends the standard base64 encoding of src (padded) to dst,
// as base64.StdEncoding.AppendEncode does, several times as fast: with
// AVX2, 24 bytes of input become 32 characters per round (base64AVX2);
// without, and for what is left, each six bytes of input become eight
// characters of output with four lookups of a pair table and one store,
// four such words a round; the last few bytes go through encoding/base64.
func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	in, o := src, out
	if hasBase64AVX2 && len(in) >= 28 {
		k := base64AVX2(o, in)
		in, o = in[k:], o[k/3*4:]
	}
	for len(in) >= 26 && len(o) >= 32 { // the last load reads in[18:26]
		x0 := binary.BigEndian.Uint64(in[0:])
		x1 := binary.BigEndian.Uint64(in[6:])
		x2 := binary.BigEndian.Uint64(in[12:])
		x3 := binary.BigEndian.Uint64(in[18:])
		binary.LittleEndian.PutUint64(o[0:], base64Word(x0))
		binary.LittleEndian.PutUint64(o[8:], base64Word(x1))
		binary.LittleEndian.PutUint64(o[16:], base64Word(x2))
		binary.LittleEndian.PutUint64(o[24:], base64Word(x3))
		in, o = in[24:], o[32:]
	}
	for len(in) >= 8 && len(o) >= 8 {
		binary.LittleEndian.PutUint64(o, base64Word(binary.BigEndian.Uint64(in)))
		in, o = in[6:], o[8:]
	}
	base64.StdEncoding.Encode(o, in) // a multiple of 3 bytes was consumed
	return dst[:len(dst)+n]
}
