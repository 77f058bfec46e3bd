// Package cmd is raftctl's command layer: it parses flags and
// configuration, calls one library function per command and renders the
// result. It is the only package that imports cobra and viper.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/raftctl/raftctl/format"
)

// globals holds what every command shares: streams, configuration and
// the global flags.
type globals struct {
	io         *IOStreams
	v          *viper.Viper
	output     string
	color      string
	configFile string
	dataDir    string
	quiet      bool

	// origin says where a flag's value came from when it was not given
	// on the command line ("RAFTCTL_OUTPUT", "config file F: key"), so a
	// bad value names its source.
	origin map[string]string

	// cleanups run when the command ends (bundles extracted to read them).
	cleanups []func()
}

// Main runs raftctl with the process's arguments and returns the exit
// code; main.go passes it to os.Exit.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, System(), os.Args[1:])
}

// Run runs raftctl with args on the given streams and returns the exit
// code.
func Run(ctx context.Context, streams *IOStreams, args []string) int {
	root, g := NewRoot(streams)
	root.SetArgs(args)
	defer func() {
		for _, c := range g.cleanups {
			c()
		}
	}()
	cmd, err := root.ExecuteContextC(ctx)
	if err = runError(ctx, err); err == nil {
		return ExitOK
	}
	code := exitCode(err)
	var ee *exitError
	errors.As(err, &ee)
	if !ee.silent {
		fmt.Fprintf(streams.ErrOut, "raftctl: %s\n", oneLine(err.Error()))
		if ee.usage && cmd != nil {
			// One line that matters, then where to read more (not the
			// whole usage, which buries the message).
			fmt.Fprintf(streams.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		if g.output == string(format.ModeJSON) || g.output == string(format.ModeJSONL) {
			_ = format.WriteJSON(streams.ErrOut, map[string]any{"error": oneLine(err.Error()), "exit_code": code})
		}
	}
	return code
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// NewRoot builds the command tree.
func NewRoot(streams *IOStreams) (*cobra.Command, *globals) {
	g := &globals{io: streams, v: viper.New()}
	root := &cobra.Command{
		Use:   "raftctl",
		Short: "Inspect, verify, repair, compact and migrate Raft storage offline",
		Long: `raftctl opens the storage of Raft groups written by etcd's wal and snap
packages (etcd itself, or any application driving go.etcd.io/raft) while the
server is stopped, or beside it for read-only commands, and answers: what is
in it, is it consistent, can it be mended, can it be shrunk, and can old data
be brought into it.

A PATH is searched recursively for groups, following symbolic links: a
directory with wal/ (or snap/*.snap), etcd's DIR/member/{wal,snap} (k3s:
server/db/etcd/member), Hyperledger Fabric's etcdraft/wal/<channel> with
etcdraft/snapshot/<channel>, Docker SwarmKit's raft/wal-v3-encrypted with
raft/snap-v3-encrypted, or a directory of *.wal segments. Without PATH,
--data-dir (or RAFTCTL_DATA_DIR, or data-dir in the config file) is used.
IDs are printed in hex as etcd prints them; raftctl help findings lists
verify's finding codes.

Read-only commands (groups, wal, snap, verify) never change a byte and take
no lock, so they can run beside a live server.

Configuration: a changed flag wins over RAFTCTL_<FLAG> in the environment
(dashes become underscores: RAFTCTL_DATA_DIR), which wins over the config
file (--config, default $XDG_CONFIG_HOME/raftctl/config.yaml; keys are flag
names, optionally under a command's name), which wins over the default.

` + exitStatusHelp(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		DisableAutoGenTag: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if isCompletion(cmd) {
				return nil
			}
			return g.loadConfig(cmd)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVarP(&g.output, "output", "o", "", "output format: table, plain, json or jsonl (default: table on a terminal, plain in a pipe)")
	pf.StringVarP(&g.output, "write-out", "w", "", "alias of --output (etcdctl's spelling)")
	pf.StringVar(&g.color, "color", "auto", "colour: auto, always or never (NO_COLOR turns auto off)")
	pf.StringVar(&g.configFile, "config", "", "config file (default $XDG_CONFIG_HOME/raftctl/config.yaml)")
	pf.StringVar(&g.dataDir, "data-dir", "", "where to look for groups when no PATH is given")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "no progress line on standard error")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(err)
	})
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetHelpCommand(newHelpCmd(g))

	root.AddCommand(newGroupsCmd(g), newWALCmd(g), newSnapCmd(g))
	for _, c := range extraCommands {
		root.AddCommand(c(g))
	}
	registerCompletions(root, g)
	return root, g
}

// extraCommands lets files of this package add commands without editing
// NewRoot.
var extraCommands []func(*globals) *cobra.Command

func isCompletion(cmd *cobra.Command) bool {
	return cmd.Name() == cobra.ShellCompRequestCmd || cmd.Name() == cobra.ShellCompNoDescRequestCmd
}

// defaultConfigFile is $XDG_CONFIG_HOME/raftctl/config.yaml, or
// ~/.config/raftctl/config.yaml.
func (g *globals) defaultConfigFile() string {
	base := g.io.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		home := g.io.Getenv("HOME")
		if home == "" {
			return ""
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "raftctl", "config.yaml")
}

// loadConfig applies, to every flag the user did not set, the value from
// the environment or else from the config file. The environment variable
// is RAFTCTL_<COMMAND>_<FLAG> (e.g. RAFTCTL_WAL_DUMP_DATA) or, for a flag
// that means the same in every command, RAFTCTL_<FLAG>; the config key is
// "<command>.<flag>" or, likewise, "<flag>". A flag name that means
// different things in different commands (--term filters a dump but sets
// the term of a migration) takes only the scoped forms.
func (g *globals) loadConfig(cmd *cobra.Command) error {
	path, explicit := g.configFile, cmd.Flags().Changed("config")
	if !explicit {
		if p, ok := g.io.LookupEnv("RAFTCTL_CONFIG"); ok && p != "" {
			path, explicit = p, true
		} else {
			path = g.defaultConfigFile()
		}
	}
	if path != "" {
		g.v.SetConfigFile(path)
		if filepath.Ext(path) == "" {
			g.v.SetConfigType("yaml")
		}
		if err := g.v.ReadInConfig(); err != nil {
			var nf viper.ConfigFileNotFoundError
			// The default path may be missing or unreadable (another
			// user's HOME): both mean no config file. A file named with
			// --config or RAFTCTL_CONFIG must be read.
			missing := errors.As(err, &nf) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission)
			if explicit || !missing {
				return usageErrorf("config file %s: %v", path, err)
			}
		} else {
			g.warnUnknownKeys(cmd.Root())
		}
	}
	ambiguous := ambiguousFlags(cmd.Root())
	scope := strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), " ", "_")
	envName := func(parts ...string) string {
		return "RAFTCTL_" + strings.ToUpper(strings.ReplaceAll(strings.Join(parts, "_"), "-", "_"))
	}
	var ferr error
	g.origin = map[string]string{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if ferr != nil || f.Changed || f.Name == "config" || f.Name == "help" || f.Name == "write-out" {
			return
		}
		if f.Name == "output" && cmd.Flags().Changed("write-out") {
			return
		}
		envs := []string{envName(scope, f.Name)}
		keys := []string{cmd.Name() + "." + f.Name}
		if !ambiguous[f.Name] {
			envs = append(envs, envName(f.Name))
			keys = append(keys, f.Name)
		}
		for _, env := range envs {
			if val, ok := g.io.LookupEnv(env); ok {
				if err := setFlag(f, val, strings.Split(val, ",")); err != nil {
					ferr = usageErrorf("%s=%q: %v", env, val, err)
				}
				g.origin[f.Name] = env
				return
			}
		}
		for _, key := range keys {
			if g.v.IsSet(key) {
				if err := setFlag(f, g.v.GetString(key), g.v.GetStringSlice(key)); err != nil {
					ferr = usageErrorf("config file %s: %s: %v", g.v.ConfigFileUsed(), key, err)
				}
				g.origin[f.Name] = fmt.Sprintf("config file %s: %s", g.v.ConfigFileUsed(), key)
				return
			}
		}
	})
	if ferr != nil {
		return ferr
	}
	return g.validate()
}

// ambiguousFlags lists the flag names that more than one command defines
// with different meanings (different usage text).
func ambiguousFlags(root *cobra.Command) map[string]bool {
	usage := map[string]string{}
	amb := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if u, ok := usage[f.Name]; ok && u != f.Usage {
				amb[f.Name] = true
			}
			usage[f.Name] = f.Usage
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return amb
}

// setFlag sets a flag from the environment or the config file: a list for
// slice flags, the value as it is otherwise.
func setFlag(f *pflag.Flag, val string, vals []string) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.Replace(vals)
	}
	return f.Value.Set(val)
}

func (g *globals) validate() error {
	if _, err := format.ParseColorMode(g.color); err != nil {
		return usageErrorf("%s: %v", g.source("color", "--color"), err)
	}
	return nil
}

// source names where a flag's value came from: the flag itself, the
// environment variable or the config file key.
func (g *globals) source(name, flag string) string {
	if o := g.origin[name]; o != "" {
		return o
	}
	return flag
}

// mode resolves -o for a command that accepts the given extra modes.
func (g *globals) mode(extra ...string) (format.Mode, error) {
	for _, e := range extra {
		if g.output == e {
			return format.Mode(e), nil
		}
	}
	m, err := format.ParseMode(g.output)
	if err != nil {
		want := append(format.Modes(), extra...)
		return "", usageErrorf("%s %q: want one of %s", g.source("output", "-o"), g.output, strings.Join(want, ", "))
	}
	return format.Resolve(m, g.io.OutTTY), nil
}

// scheme is the colour scheme for a mode.
func (g *globals) scheme(m format.Mode) *format.Scheme {
	cm, _ := format.ParseColorMode(g.color)
	_, noColor := g.io.LookupEnv("NO_COLOR")
	return format.NewScheme(cm, g.io.OutTTY, noColor).For(m)
}

// errScheme colours messages on stderr.
func (g *globals) errScheme() *format.Scheme {
	cm, _ := format.ParseColorMode(g.color)
	_, noColor := g.io.LookupEnv("NO_COLOR")
	return format.NewScheme(cm, g.io.ErrTTY, noColor)
}

// run wraps a command's work so that every error it returns carries an
// exit code (unknown errors could not reach a verdict).
func run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return commandError(cmd.Context(), fn(cmd, args))
	}
}

func defaultParallel() int { return runtime.NumCPU() }
