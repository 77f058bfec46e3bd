package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newCompletionCmd) }

// completionShells are the shells `raftctl completion` writes scripts for,
// with the name of the script committed under completions/.
var completionShells = []struct{ Name, File, Desc string }{
	{"bash", "raftctl.bash", "bash 4.1 or later, with the bash-completion package"},
	{"zsh", "_raftctl", "zsh"},
	{"fish", "raftctl.fish", "fish"},
	{"powershell", "raftctl.ps1", "PowerShell 5 or later"},
}

type completionOptions struct {
	output string
}

func newCompletionCmd(g *globals) *cobra.Command {
	o := &completionOptions{}
	var valid []string
	for _, s := range completionShells {
		valid = append(valid, s.Name+"\t"+s.Desc)
	}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `Print the script that makes the shell complete raftctl's commands, flags and
values: group names for --group (found under the PATH arguments already
typed, or --data-dir), directories for PATH arguments and the values of -o,
--color, --type, --data, --decoder and --fail-on. --output FILE writes the
script to FILE instead of standard output.

Packagers can install the scripts committed under completions/ in the source
tree instead; they are what this command prints.

Bash (needs bash 4.1 or later and the bash-completion package):

  # this shell only
  source <(raftctl completion bash)
  # every new shell, for you
  mkdir -p ~/.local/share/bash-completion/completions
  raftctl completion bash --output ~/.local/share/bash-completion/completions/raftctl
  # every new shell, for every user (Linux)
  raftctl completion bash --output /etc/bash_completion.d/raftctl

Zsh (completion must be on: "autoload -U compinit; compinit" in ~/.zshrc):

  # this shell only
  source <(raftctl completion zsh)
  # every new shell: any directory of $fpath, then start a new shell
  raftctl completion zsh --output "${fpath[1]}/_raftctl"

Fish:

  # this shell only
  raftctl completion fish | source
  # every new shell
  mkdir -p ~/.config/fish/completions
  raftctl completion fish --output ~/.config/fish/completions/raftctl.fish

PowerShell:

  # this shell only
  raftctl completion powershell | Out-String | Invoke-Expression
  # every new shell: add the line above to your profile ($PROFILE)

The script reads no configuration: a broken config file or RAFTCTL_*
variable never breaks completion.

` + exitStatusHelp(),
		Example: `  $ raftctl completion bash > ~/.local/share/bash-completion/completions/raftctl
  $ raftctl completion zsh > "${fpath[1]}/_raftctl"
  $ raftctl completion fish > ~/.config/fish/completions/raftctl.fish
  $ raftctl completion powershell > raftctl.ps1`,
		ValidArgs:             valid,
		Args:                  cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		DisableFlagsInUseLine: true,
		// The script must not depend on the configuration: a config
		// file (or RAFTCTL_OUTPUT) must neither break nor redirect it.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: run(func(cmd *cobra.Command, args []string) error {
			// Only an --output given on the command line counts.
			out := ""
			if cmd.Flags().Changed("output") {
				out = o.output
			}
			return writeCompletion(cmd.Root(), args[0], out, g.io.Out)
		}),
	}
	cmd.Flags().StringVar(&o.output, "output", "", "write the script to this file instead of standard output")
	return cmd
}

// genCompletion writes the completion script for shell.
func genCompletion(root *cobra.Command, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		var buf bytes.Buffer
		if err := root.GenFishCompletion(&buf, true); err != nil {
			return err
		}
		script, err := fishDirs(buf.String())
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, script)
		return err
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(w)
	}
	return usageErrorf("unknown shell %q: want bash, zsh, fish or powershell", shell)
}

// fishFilterDirs is where cobra's fish script gives up on directory
// filtering (it completes every file instead); fishDirs replaces it.
const fishFilterDirs = `    if test $filefilter -eq 1; or test $dirfilter -eq 1
        __%[1]s_debug "File extension filtering or directory filtering not supported"
        # Do full file completion instead
        return 1
    end
`

// fishDirs makes cobra's fish script complete directories only where
// raftctl asks for them (ShellCompDirectiveFilterDirs: every PATH and
// directory flag), as the bash and zsh scripts do, with fish's own
// __fish_complete_directories. File extension filtering (--config) still
// completes every file.
func fishDirs(script string) (string, error) {
	old := fmt.Sprintf(fishFilterDirs, "raftctl")
	if !strings.Contains(script, old) {
		return "", errors.New("completion fish: cobra's script changed: directory filtering not found (see fishDirs)")
	}
	repl := `    if test $dirfilter -eq 1
        __raftctl_debug "Directory filtering with __fish_complete_directories"
        set --global __raftctl_comp_results (__fish_complete_directories (commandline -ct) "")
        return 0
    end
    if test $filefilter -eq 1
        __raftctl_debug "File extension filtering not supported"
        # Do full file completion instead
        return 1
    end
`
	return strings.Replace(script, old, repl, 1), nil
}

// writeCompletion writes the script to path, or to w when path is "".
func writeCompletion(root *cobra.Command, shell, path string, w io.Writer) error {
	var buf bytes.Buffer
	if err := genCompletion(root, shell, &buf); err != nil {
		return err
	}
	if path == "" {
		_, err := w.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--output: %w", describeFSError(err))
	}
	return nil
}
