package cmd

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { extraCommands = append(extraCommands, newDocsCmd) }

// manDate is the date in the manual pages' header unless SOURCE_DATE_EPOCH
// says otherwise: a constant, so that the same source gives the same pages.
var manDate = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

func newDocsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Generate manual pages or a Markdown reference for every command",
		Long: `Generate reference documentation for raftctl and every command below it
from their help: manual pages (docs man) or Markdown (docs markdown). The
output depends only on the source, not on the time or the machine, so it can
be generated at build time and compared.

` + exitStatusHelp(),
		Example: `  $ raftctl docs man ./man
  $ raftctl docs markdown ./docs/reference`,
		Args:              cobra.NoArgs,
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return usageErrorf("missing subcommand: man or markdown")
		}),
	}
	cmd.AddCommand(newDocsManCmd(g), newDocsMarkdownCmd(g))
	return cmd
}

func newDocsManCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write a manual page (section 1) for every command into DIR",
		Long: `Write one manual page per command into DIR (created if missing), named after
the command path: raftctl.1, raftctl-groups.1, raftctl-wal-dump.1 and so on.
Existing pages of the same name are overwritten; nothing else in DIR is
touched. The date in the header is SOURCE_DATE_EPOCH when set, otherwise a
fixed date, never the time of generation.

Install them where man looks, for example /usr/local/share/man/man1, or read
one directly with man -l DIR/raftctl.1.

` + exitStatusHelp(),
		Example: `  $ raftctl docs man ./man
  $ man -l ./man/raftctl-wal-dump.1`,
		Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			date := manDate
			if s, ok := g.io.LookupEnv("SOURCE_DATE_EPOCH"); ok && s != "" {
				sec, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usageErrorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", s)
				}
				date = time.Unix(sec, 0).UTC()
			}
			return genDocs(cmd.Root(), args[0], "# EXIT STATUS", func(root *cobra.Command, dir string) error {
				return doc.GenManTree(root, &doc.GenManHeader{
					Section: "1",
					Date:    &date,
					Source:  "raftctl",
					Manual:  "raftctl manual",
				}, dir)
			})
		}),
	}
}

func newDocsMarkdownCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "markdown DIR",
		Short: "Write a Markdown reference page for every command into DIR",
		Long: `Write one Markdown page per command into DIR (created if missing), named after
the command path (raftctl.md, raftctl_groups.md, raftctl_wal_dump.md...) and
linked to each other. Existing pages of the same name are overwritten;
nothing else in DIR is touched.

` + exitStatusHelp(),
		Example: `  $ raftctl docs markdown ./docs/reference`,
		Args:    cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return genDocs(cmd.Root(), args[0], "### Exit status", doc.GenMarkdownTree)
		}),
	}
}

// genDocs creates dir and runs gen on the whole command tree, with cobra's
// "auto generated on DATE" line turned off everywhere and each Long text
// turned into Markdown (both generators read it as Markdown): the EXIT
// STATUS line becomes the heading exitHeading.
func genDocs(root *cobra.Command, dir, exitHeading string, gen func(*cobra.Command, string) error) error {
	walkCommands(root, func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		c.Long = markdownLong(c.Long, exitHeading)
	})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return describeFSError(err)
	}
	if err := gen(root, dir); err != nil {
		return fmt.Errorf("writing documentation to %s: %w", dir, describeFSError(err))
	}
	return nil
}

// markdownEscaper escapes what Markdown would otherwise take for markup
// in help text: RAFTCTL_<FLAG> must not lose <FLAG> as an HTML tag, and
// *.wal must not start emphasis.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "<", `\<`, ">", `\>`, "[", `\[`, "]", `\]`, "#", `\#`,
)

// markdownLong turns help text into Markdown: paragraphs escaped, indented
// lines (tables, shell commands) into code blocks kept as they are, and the
// "EXIT STATUS" line into the heading exitHeading (and "FINDINGS" into a
// heading of the same level).
func markdownLong(long, exitHeading string) string {
	var b strings.Builder
	inBlock := false
	for _, line := range strings.Split(long, "\n") {
		indented := strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")
		switch {
		case strings.TrimSpace(line) == "":
			inBlock = false
			b.WriteString("\n")
		case line == "EXIT STATUS":
			b.WriteString(exitHeading + "\n\n")
		case line == "FINDINGS":
			b.WriteString(strings.TrimSuffix(exitHeading, "Exit status") + "Findings\n\n")
		case indented:
			if !inBlock && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n\n") {
				b.WriteString("\n")
			}
			inBlock = true
			b.WriteString("    " + line + "\n")
		default:
			if inBlock {
				b.WriteString("\n")
				inBlock = false
			}
			b.WriteString(markdownEscaper.Replace(line) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
