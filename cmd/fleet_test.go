package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestFleetSamplesUpToDate: the sample summaries under testdata/fleet (used
// by the help examples) are what summary writes for the sample today.
// Regenerate them with: go generate ./cmd/
func TestFleetSamplesUpToDate(t *testing.T) {
	t.Chdir("..")
	for _, n := range []string{"1", "2", "3", "4"} {
		streams, out, errOut := TestStreams()
		if code := Run(t.Context(), streams, []string{"summary", "testdata/sample/node-" + n, "-o", "json"}); code != ExitOK {
			t.Fatalf("summary node-%s: exit %d: %s", n, code, errOut)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "fleet", "node-"+n+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("testdata/fleet/node-%s.json is stale: run go generate ./cmd/", n)
		}
	}
}
