package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/cmd"
)

// TestJSONLShape pins the JSONL contract of every command with both -o json
// and -o jsonl (wal dump, a stream of its own, has its own test): each
// line is one compact JSON object, and the lines are exactly, byte for
// byte once the document is compacted, the elements of the JSON
// document's list (key), or the document itself for a command that
// returns one object. One contract, one encoder: a second encoder (HTML
// escaping, field order, omitempty, hand-built bytes) breaks the equality.
func TestJSONLShape(t *testing.T) {
	const s = "../testdata/sample"
	for _, c := range []struct {
		name string
		args []string
		key  string // "": the document is the one line
	}{
		{"groups", []string{"groups", s}, "groups"},
		{"wal segments", []string{"wal", "segments", s + "/node-1"}, "segments"},
		{"snap list", []string{"snap", "list", s + "/node-1"}, "snapshots"},
		{"verify", []string{"verify", s + "/node-4"}, "groups"},
		{"compare", []string{"compare", s + "/node-1", s + "/node-2", s + "/node-4"}, "groups"},
		{"report", []string{"report", "../testdata/fleet/node-1.json", "../testdata/fleet/node-4.json"}, "groups"},
		{"summary", []string{"summary", s + "/node-1", "--server", "host-a"}, ""},
		{"recover plan", []string{"recover", "plan", s + "/node-1/group-1", s + "/node-2/group-1"}, ""},
		{"version", []string{"version"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, code := runJSON(t, append(c.args, "-o", "json"))
			lines, lcode := runJSON(t, append(c.args, "-o", "jsonl"))
			if code != lcode {
				t.Fatalf("exit %d with -o json, %d with -o jsonl", code, lcode)
			}
			var want []json.RawMessage
			if c.key == "" {
				want = []json.RawMessage{doc}
			} else {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(doc, &m); err != nil {
					t.Fatalf("-o json: %v", err)
				}
				if err := json.Unmarshal(m[c.key], &want); err != nil || len(want) == 0 {
					t.Fatalf("-o json: %q is not a non-empty list (%v)", c.key, err)
				}
			}
			if len(lines) == 0 || lines[len(lines)-1] != '\n' {
				t.Fatalf("-o jsonl does not end with a newline: %.80q", lines)
			}
			got := strings.Split(strings.TrimSuffix(string(lines), "\n"), "\n")
			if len(got) != len(want) {
				t.Fatalf("-o jsonl: %d lines, the JSON document has %d", len(got), len(want))
			}
			for k, line := range got {
				var compact bytes.Buffer
				if err := json.Compact(&compact, want[k]); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(line, "{") || !json.Valid([]byte(line)) {
					t.Errorf("line %d is not one JSON object: %.80q", k+1, line)
				}
				if line != compact.String() {
					t.Errorf("line %d differs from the JSON document's element:\njsonl: %.200s\njson:  %.200s", k+1, line, compact.String())
				}
			}
		})
	}
}

// runJSON runs raftctl and returns its stdout and exit code; exit codes
// other than 0 and 1 fail the test.
func runJSON(t *testing.T, args []string) ([]byte, int) {
	t.Helper()
	streams, out, errOut := cmd.TestStreams()
	code := cmd.Run(context.Background(), streams, args)
	if code != cmd.ExitOK && code != cmd.ExitFindings {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out.Bytes(), code
}
