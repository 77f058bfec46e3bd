//go:build !linux

package inspect

import "os"

// readAt is f.ReadAt outside Linux (see readat_linux.go).
func readAt(f *os.File, b []byte, off int64) (int, error) { return f.ReadAt(b, off) }
