//go:build !amd64

package format

var hasBase64AVX2 = false

func base64AVX2(dst, src []byte) int { return 0 }
