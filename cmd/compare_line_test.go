package cmd

import (
	"strings"
	"testing"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

// TestComparePairLine: every kind of pair gets its own words, and replicas
// that hold different bytes under the same index and term are never shown
// as identical (they were, when the terms agreed all along).
func TestComparePairLine(t *testing.T) {
	sc := format.NewScheme(format.ColorNever, false, false)
	for _, c := range []struct {
		p    inspect.Divergence
		want string
	}{
		{inspect.Divergence{A: "a", B: "b"}, "the logs do not overlap"},
		{inspect.Divergence{A: "a", B: "b", IdenticalUpTo: 9}, "identical up to 9"},
		{inspect.Divergence{A: "a", B: "b", IdenticalUpTo: 1499, BytesDifferFrom: 1024, BytesDifferTo: 1535}, "DIFFERENT BYTES at indexes 1024..1535 (same terms), identical up to 1499"},
		{inspect.Divergence{A: "a", B: "b", IdenticalUpTo: 10, BytesDifferFrom: 5, BytesDifferTo: 8, Index: 11, TermA: 2, TermB: 3}, "DIFFERENT BYTES at indexes 5..8 (same terms), identical up to 10; diverge at index 11 (terms 2 and 3)"},
		{inspect.Divergence{A: "a", B: "b", IdenticalUpTo: 10, Index: 11, TermA: 2, TermB: 3, CommittedConflict: true}, "COMMITTED ENTRIES DIFFER at index 11"},
		{inspect.Divergence{A: "a", B: "b", IdenticalUpTo: 10, Index: 11, TermA: 2, TermB: 3}, "diverge at index 11 (terms 2 and 3), identical up to 10"},
	} {
		got := comparePairLine(sc, c.p)
		if !strings.Contains(got, c.want) {
			t.Errorf("%+v: got %q, want it to contain %q", c.p, got, c.want)
		}
	}
}
