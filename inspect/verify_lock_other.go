//go:build !linux

package inspect

// verifyLockHolders finds nothing outside Linux: raftctl knows no way to
// see another process's locks there without taking one.
func verifyLockHolders(paths func() []string, probe Segment) []verifyLock { return nil }
