package cmd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/raftctl/raftctl/inspect"
)

// newHelpCmd is `raftctl help [COMMAND...]`, and `raftctl help findings`,
// the catalogue of verify's finding codes.
func newHelpCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND... | findings]",
		Short: "Show help for a command, or the catalogue of verify's findings (help findings)",
		Long: `Show the help of a command (raftctl help wal dump is raftctl wal dump
--help), or with the topic findings the catalogue of every finding code
raftctl verify may report: its severity, what it means, what a restart of
the real server does with such storage, and the default remedy.

` + exitStatusHelp(),
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			parent := c.Root()
			if len(args) > 0 {
				found, rest, err := parent.Find(args)
				if err != nil || len(rest) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				parent = found
			}
			var out []cobra.Completion
			if len(args) == 0 && strings.HasPrefix("findings", toComplete) {
				out = append(out, cobra.CompletionWithDesc("findings", "the catalogue of verify's finding codes"))
			}
			for _, sub := range parent.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: run(func(c *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == "findings" {
				_, err := fmt.Fprint(g.io.Out, findingCatalogue())
				return err
			}
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 || (target == c.Root() && len(args) > 0) || target.Hidden {
				return usageErrorf("unknown help topic %q (want a command, or findings)", strings.Join(args, " "))
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		}),
	}
}

// findingCatalogue is the FINDINGS section: inspect.Catalogue as text, each
// code with its severity, meaning, the real server's behaviour on restart
// and the default remedy.
func findingCatalogue() string {
	var b strings.Builder
	b.WriteString("FINDINGS\n")
	b.WriteString("  Every code raftctl verify may report (severity: what a restart by the real\n  server does with such storage).\n\n")
	for _, c := range inspect.Catalogue {
		fmt.Fprintf(&b, "  %s (%s)\n", c.Code, c.Severity)
		wrap(&b, c.Summary, "      ", 78)
		wrap(&b, "On restart: "+c.Restart, "      ", 78)
		if c.Hint != "" {
			wrap(&b, "Remedy: "+c.Hint, "      ", 78)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// wrap writes s in lines of at most width columns, each with indent.
func wrap(b *strings.Builder, s, indent string, width int) {
	line := indent
	for _, w := range strings.Fields(s) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	if len(line) > len(indent) {
		b.WriteString(line + "\n")
	}
}

// warnUnknownKeys warns, on standard error, about keys of the config file
// that name no flag (a typo would otherwise be silently ignored).
func (g *globals) warnUnknownKeys(root *cobra.Command) {
	known := map[string]bool{}
	walkCommands(root, func(c *cobra.Command) {
		add := func(f *pflag.Flag) {
			known[strings.ToLower(f.Name)] = true
			known[strings.ToLower(c.Name()+"."+f.Name)] = true
		}
		c.LocalFlags().VisitAll(add)
		c.InheritedFlags().VisitAll(add)
	})
	var unknown []string
	for _, k := range g.v.AllKeys() {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		fmt.Fprintf(g.io.ErrOut, "%sconfig file %s: unknown key %q ignored (keys are flag names, optionally under a command's name: dump.data)\n",
			g.errScheme().Warn("warning: "), g.v.ConfigFileUsed(), k)
	}
}
