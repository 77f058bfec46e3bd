package cmd

import (
	"regexp"
	"strings"
	"testing"
)

// TestTablesKeepKeyColumnsWhole: on an 80-column terminal every table
// command fits and shows its identifying column whole (the group name, the
// segment or snapshot file), leaving out low-value columns instead.
func TestTablesKeepKeyColumnsWhole(t *testing.T) {
	const sample = "../testdata/sample"
	group := `^node-\d/group-\d  `
	tests := []struct {
		args    []string
		key     string // every row but the header matches
		dropped []string
	}{
		{[]string{"groups", sample}, group, []string{"SNAPS"}},
		{[]string{"wal", "segments", sample}, group + `[0-9a-f]{16}-[0-9a-f]{16}\.wal  `, []string{"SEQ", "INDEX"}},
		{[]string{"snap", "list", sample}, group + `[0-9a-f]{16}-[0-9a-f]{16}\.snap  `, []string{"TERM", "INDEX"}},
		{[]string{"verify", sample}, group, nil},
		{[]string{"compare", sample + "/node-1", sample + "/node-2"}, `^\.\./testdata/sample/node-\d( \*| \(election rule\))? +(\d|<=)`, nil},
	}
	for _, tt := range tests {
		out := runTTY(t, 80, tt.args...)
		if tt.args[0] != "compare" { // its recovery table needs 110 columns
			checkWidth(t, tt.args, strings.NewReader(out), 80)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		key := regexp.MustCompile(tt.key)
		for _, l := range lines[1:] {
			switch {
			case tt.args[0] == "verify" && !strings.HasPrefix(l, "node-"):
				continue // the findings and the summary follow the table
			case tt.args[0] == "compare" && (!strings.HasPrefix(l, "../") || strings.Contains(l, " ~ ")):
				continue // titles, headers and verdicts between the tables
			}
			if !key.MatchString(l) {
				t.Errorf("%q: row does not show its key whole (%s): %q", tt.args, tt.key, l)
			}
		}
		for _, h := range tt.dropped {
			if regexp.MustCompile(`\b` + h + `\b`).MatchString(lines[0]) {
				t.Errorf("%q: low-value column %s kept at 80 columns: %q", tt.args, h, lines[0])
			}
		}
	}
}
