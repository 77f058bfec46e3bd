//go:build unix

package repair

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/raftctl/raftctl/inspect"
)

// sources gives servers[k] as its directory, or as its summary (written
// and read back as JSON) where summary[k].
func sources(t *testing.T, servers []string, summary []bool) []inspect.CompareSource {
	t.Helper()
	var out []inspect.CompareSource
	for k, gs := range recoverGroups(t, servers) {
		if !summary[k] {
			out = append(out, inspect.CompareSource{Server: servers[k], Groups: gs})
			continue
		}
		s, err := inspect.SummarizeHost(context.Background(), servers[k], gs, inspect.SummaryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(s)
		back, err := inspect.ReadHostSummary(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, inspect.CompareSource{Server: servers[k], Summary: back, SummaryGroups: back.Groups})
	}
	return out
}

// TestRecoverPlanFromSummaries: the plan made with other replicas given
// as summaries says the same (member, proven commit, donor, new HardState,
// the change to the member's last segment) as the plan from directories,
// and refuses (from-summary): apply needs the directories.
func TestRecoverPlanFromSummaries(t *testing.T) {
	root := t.TempDir()
	a, b, c := filepath.Join(root, "infra1.etcd"), filepath.Join(root, "infra2.etcd"), filepath.Join(root, "infra3.etcd")
	writeMember(t, a, 1, span{2, 60, 2, 40})
	writeMember(t, b, 2, span{2, 45, 2, 40}, span{46, 80, 3, 75})
	writeMember(t, c, 3, span{2, 45, 2, 40}, span{46, 70, 3, 60})
	servers := []string{a, b, c}
	ctx := context.Background()
	want, err := PlanRecoverSources(ctx, sources(t, servers, []bool{false, false, false}), RecoverOptions{Member: a})
	if err != nil || len(want.Refusals) != 0 || want.AppendFrom != 46 {
		t.Fatalf("plan from directories %+v %v", want, err)
	}
	for _, from := range [][]bool{{false, false, true}, {false, true, true}, {true, true, true}} {
		p, err := PlanRecoverSources(ctx, sources(t, servers, from), RecoverOptions{Member: a})
		if err != nil {
			t.Fatal(err)
		}
		if p.Member != want.Member || p.ProvenCommit != want.ProvenCommit || p.Donor != want.Donor || p.AppendFrom != want.AppendFrom ||
			p.AppendTo != want.AppendTo || p.NewHardState != want.NewHardState || p.Keep != want.Keep || p.Loses != want.Loses {
			t.Errorf("%v: plan %+v, want %+v", from, p, want)
		}
		if !from[0] && (len(p.Actions) != 1 || p.Actions[0] != want.Actions[0]) {
			t.Errorf("%v: actions %+v, want %+v", from, p.Actions, want.Actions)
		}
		var codes []string
		for _, r := range p.Refusals {
			codes = append(codes, r.Code)
		}
		if len(codes) == 0 || codes[0] != CodeFromSummary {
			t.Errorf("%v: refusals %v", from, codes)
		}
		if _, err := ApplyRecover(ctx, p, ApplyOptions{BackupDir: filepath.Join(root, "backup")}); !errors.Is(err, ErrRefused) {
			t.Errorf("%v: apply: %v", from, err)
		}
	}
}
