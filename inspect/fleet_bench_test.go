package inspect

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkSummary summarises fixture.LargeGroup (RAFTCTL_BENCH_MB): verify
// plus the content-hash pass, as `raftctl summary` does. It reports the
// summary's JSON size (summary-bytes) and MB/s over the segment files.
func BenchmarkSummary(b *testing.B) {
	for _, es := range []int{1024, 100} {
		walDir, size := benchGroup(b, es)
		dir := filepath.Dir(walDir)
		g := Group{Name: filepath.Base(dir), Dir: dir, WALDir: walDir, SnapDir: filepath.Join(dir, "snap")}
		b.Run(fmt.Sprintf("entry=%d", es), func(b *testing.B) {
			b.SetBytes(size)
			var n int
			for b.Loop() {
				s, err := SummarizeHost(b.Context(), dir, []Group{g}, SummaryOptions{Verify: VerifyOptions{NoLockCheck: true}})
				if err != nil {
					b.Fatal(err)
				}
				out, err := json.Marshal(s)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "summary-bytes")
		})
	}
}
