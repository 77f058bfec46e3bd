package cmd

import (
	"github.com/spf13/cobra"
)

// registerCompletions wires dynamic completion for flags shared by many
// commands.
func registerCompletions(root *cobra.Command, g *globals) {
	_ = root.RegisterFlagCompletionFunc("output", fixedValues("table", "plain", "json", "jsonl"))
	_ = root.RegisterFlagCompletionFunc("color", fixedValues("auto", "always", "never"))
	_ = root.RegisterFlagCompletionFunc("data-dir", dirsOnly)
	_ = root.RegisterFlagCompletionFunc("config", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"yaml", "yml", "json", "toml"}, cobra.ShellCompDirectiveFilterFileExt
	})
}

func fixedValues(vals ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

func dirsOnly(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}
