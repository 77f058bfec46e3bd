package format

import "golang.org/x/sys/cpu"

// hasBase64AVX2 says whether base64AVX2 may run.
var hasBase64AVX2 = cpu.X86.HasAVX2

// base64AVX2 encodes 24 bytes of src into 32 characters of dst at a time
// while src holds at least 28 bytes, and returns the number of bytes of src
// it consumed (a multiple of 24); dst must hold 4/3 of that. It needs AVX2.
//
//go:noescape
func base64AVX2(dst, src []byte) int
