package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

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
		return writeJSONL(g.io.Out, rows)
	}
	return table().Render(g.io.Out, mode, format.TableOptions{Width: g.io.Width})
}

// renderDoc renders a command's result: in JSON the document doc, in
// JSONL each of lines (doc's groups) on a line of its own, the same
// struct through the same encoder; any other mode is other's.
func renderDoc[T any](g *globals, mode format.Mode, doc any, lines []T, other func() error) error {
	switch mode {
	case format.ModeJSON:
		return format.WriteJSON(g.io.Out, doc)
	case format.ModeJSONL:
		return writeJSONL(g.io.Out, lines)
	}
	return other()
}

// writeJSONL writes rows to out, one JSON object a line, and stops at the
// first row that does not encode (what came before it is written).
func writeJSONL[T any](out io.Writer, rows []T) error {
	w := format.NewJSONL(out)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			_ = w.Flush() // the lines before r; err says what went wrong
			return err
		}
	}
	return w.Flush()
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
