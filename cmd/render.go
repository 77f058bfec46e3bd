package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

// renderListV renders the rows of a list command: in JSON as one document
// {"schema_version":<version>,"<key>":[...]}, in JSONL one row per line,
// and otherwise as the table that table builds.
func renderListV[T any](g *globals, mode format.Mode, version int, key string, rows []T, table func() *format.Table) error {
	switch mode {
	case format.ModeJSON:
		if rows == nil {
			rows = []T{}
		}
		body, err := marshalNoEscape(rows)
		if err != nil {
			return err
		}
		var doc, out bytes.Buffer
		fmt.Fprintf(&doc, `{"schema_version":%d,`, version)
		k, _ := marshalNoEscape(key)
		doc.Write(k)
		doc.WriteByte(':')
		doc.Write(body)
		doc.WriteByte('}')
		if err := json.Indent(&out, doc.Bytes(), "", "  "); err != nil {
			return err
		}
		out.WriteByte('\n')
		_, err = g.io.Out.Write(out.Bytes())
		return err
	case format.ModeJSONL:
		w := format.NewJSONL(g.io.Out)
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	return table().Render(g.io.Out, mode, format.TableOptions{Width: g.io.Width})
}

// readGroups is the start of every read-only group command: the output
// mode, the groups asked for, and one pass over each group's WAL.
func readGroups(cmd *cobra.Command, g *globals, sel *selector, args []string) (format.Mode, []*inspect.GroupSummary, error) {
	mode, err := g.mode()
	if err != nil {
		return "", nil, err
	}
	groups, err := sel.groups(g, args)
	if err != nil {
		return "", nil, err
	}
	sums, err := summarizeAll(cmd.Context(), groups)
	return mode, sums, err
}
