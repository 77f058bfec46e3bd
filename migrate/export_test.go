package migrate

import "testing"

// SetBeforePublish replaces the hook run between build and publish for the
// duration of a test.
func SetBeforePublish(t *testing.T, f func()) {
	old := beforePublish
	beforePublish = f
	t.Cleanup(func() { beforePublish = old })
}
