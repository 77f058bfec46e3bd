package cmd

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

// flagValuesAnnotation lets a command declare the values of a flag for
// completion (cmd.Flags().SetAnnotation(name, flagValuesAnnotation,
// values)); it wins over the tables below.
const flagValuesAnnotation = "raftctl_values"

// registerCompletions wires dynamic completion for `raftctl __complete`.
// NewRoot calls it once every command is added, so it walks the whole
// tree and registers, by flag name, a completion function for every flag
// that has none yet (a command's own registration wins), and for
// arguments: directories where the Use line names PATH or DIR, nothing
// for commands that take no arguments.
//
// Completion functions never print and never fail: whatever they cannot
// read they leave out. Configuration is not loaded for __complete (see
// NewRoot's PersistentPreRunE), so a broken config file cannot break it.
func registerCompletions(root *cobra.Command, g *globals) {
	_ = root.RegisterFlagCompletionFunc("output", func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		vals := format.Modes()
		if c.Name() == "verify" {
			vals = append(vals, modeJUnit)
		}
		return fixedValues(vals...)(c, args, toComplete)
	})
	_ = root.RegisterFlagCompletionFunc("color", fixedValues(format.ColorModes()...))
	_ = root.RegisterFlagCompletionFunc("data-dir", dirsOnly)
	_ = root.RegisterFlagCompletionFunc("config", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"yaml", "yml", "json", "toml"}, cobra.ShellCompDirectiveFilterFileExt
	})
	walkCommands(root, func(c *cobra.Command) {
		if c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 {
			switch argKind(c.Use) {
			case argsDirs:
				c.ValidArgsFunction = dirsOnly
			case argsNone:
				c.ValidArgsFunction = cobra.NoFileCompletions
			}
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if fn := flagCompletion(g, c, f); fn != nil {
				// An error means the command registered its own.
				_ = c.RegisterFlagCompletionFunc(f.Name, fn)
			}
		})
	})
}

// walkCommands calls fn for c and every command below it.
func walkCommands(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, fn)
	}
}

type argsCompletion int

const (
	argsFiles argsCompletion = iota // some other placeholder: the shell's default
	argsDirs                        // PATH or DIR
	argsNone                        // no positional arguments
)

// argKind reads what a command's positional arguments are from its Use
// line: "groups [PATH...]" takes directories, "version" takes nothing.
func argKind(use string) argsCompletion {
	fields := strings.Fields(use)
	if len(fields) <= 1 {
		return argsNone
	}
	kind := argsNone
	for _, f := range fields[1:] {
		f = strings.Trim(f, "[]<>.|")
		switch {
		case f == "flags" || f == "":
		case strings.Contains(f, "PATH") || strings.Contains(f, "DIR"):
			return argsDirs
		default:
			kind = argsFiles
		}
	}
	return kind
}

// flagCompletion returns the completion function for f on c, or nil to
// leave the shell's default (files).
func flagCompletion(g *globals, c *cobra.Command, f *pflag.Flag) cobra.CompletionFunc {
	if vals := f.Annotations[flagValuesAnnotation]; len(vals) > 0 {
		return listValues(f, vals)
	}
	switch f.Name {
	case "group":
		return g.completeGroups
	case "type":
		return listValues(f, []string{
			inspect.EntryNormal.String(), inspect.EntryConfChange.String(), inspect.EntryConfChangeV2.String(),
		})
	case "data":
		return listValues(f, format.PayloadModes())
	case "decoder":
		return listValues(f, decoders)
	case "entry-type":
		return listValues(f, inspect.EntryTypes)
	case "fail-on":
		if vals := usageValues(f.Usage); len(vals) > 0 {
			return listValues(f, vals)
		}
		return cobra.NoFileCompletions
	case "out", "backup-dir", "data-dir", "from":
		return dirsOnly
	}
	if strings.HasSuffix(f.Name, "-dir") {
		return dirsOnly
	}
	return nil
}

// usageValues reads the values a flag's usage lists after its last colon,
// as in "lowest severity that fails: info, warning or error"; nil unless
// it finds at least two single-word values.
func usageValues(usage string) []string {
	i := strings.LastIndex(usage, ":")
	if i < 0 {
		return nil
	}
	s := usage[i+1:]
	// Drop parenthesised remarks: "none, raft (conf changes) or etcd".
	for {
		open := strings.Index(s, "(")
		if open < 0 {
			break
		}
		end := strings.Index(s[open:], ")")
		if end < 0 {
			s = s[:open]
			break
		}
		s = s[:open] + s[open+end+1:]
	}
	s = strings.NewReplacer(" or ", ",", " and ", ",", ";", ",").Replace(s)
	var vals []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		for _, r := range v {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return nil
			}
		}
		vals = append(vals, v)
	}
	if len(vals) < 2 {
		return nil
	}
	return vals
}

// fixedValues completes one of vals.
func fixedValues(vals ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, v := range vals {
			if strings.HasPrefix(v, toComplete) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// listValues completes one of vals; for a flag that takes a
// comma-separated list (a slice flag) it completes the last element.
func listValues(f *pflag.Flag, vals []string) cobra.CompletionFunc {
	if !strings.Contains(f.Value.Type(), "Slice") {
		return fixedValues(vals...)
	}
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		done, cur := "", toComplete
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			done, cur = toComplete[:i+1], toComplete[i+1:]
		}
		have := map[string]bool{}
		for _, v := range strings.Split(done, ",") {
			have[v] = true
		}
		var out []cobra.Completion
		for _, v := range vals {
			if !have[v] && strings.HasPrefix(v, cur) {
				out = append(out, done+v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func dirsOnly(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// completeGroups offers the names of the groups under the PATH arguments
// already typed (or --data-dir, RAFTCTL_DATA_DIR, data-dir in the config
// file), and a glob per directory that holds several ("node-1/*"). A word
// that is already a glob completes to the groups it matches. Names given
// by an earlier --group are not offered again.
func (g *globals) completeGroups(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var paths []string
	for _, a := range args {
		for _, p := range g.expandPath(a) {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				paths = append(paths, p)
			}
		}
	}
	if len(paths) == 0 {
		if d := g.completionDataDir(cmd); d != "" {
			paths = g.expandPath(d)
		}
	}
	var groups []inspect.Group
	for _, p := range paths {
		found, err := inspect.Discover([]string{p}, inspect.DiscoverOptions{})
		if err == nil {
			groups = append(groups, found...)
		}
	}
	given := map[string]bool{}
	if prev, err := cmd.Flags().GetStringArray("group"); err == nil {
		for _, p := range prev {
			given[p] = true
		}
	}
	isGlob := strings.ContainsAny(toComplete, `*?[\`)
	match := func(name string) bool {
		if isGlob {
			ok, _ := path.Match(toComplete, name)
			return ok
		}
		return strings.HasPrefix(name, toComplete)
	}
	seen := map[string]bool{}
	perDir := map[string]int{}
	var names []string
	for _, grp := range groups {
		if seen[grp.Name] {
			continue
		}
		seen[grp.Name] = true
		if dir := path.Dir(grp.Name); dir != "." {
			perDir[dir]++
		}
		if !given[grp.Name] && match(grp.Name) {
			names = append(names, grp.Name)
		}
	}
	sort.Strings(names)
	comps := make([]cobra.Completion, 0, len(names)+len(perDir))
	comps = append(comps, names...)
	if !isGlob {
		var dirs []string
		for d, n := range perDir {
			if n > 1 && !given[d+"/*"] && strings.HasPrefix(d+"/*", toComplete) {
				dirs = append(dirs, d)
			}
		}
		sort.Strings(dirs)
		for _, d := range dirs {
			comps = append(comps, cobra.CompletionWithDesc(d+"/*", "every group under "+d))
		}
	}
	return comps, cobra.ShellCompDirectiveNoFileComp
}

// expandPath expands a leading ~/ and glob characters in a word the
// shell passed unexpanded (zsh and fish pass words as typed).
func (g *globals) expandPath(p string) []string {
	if strings.HasPrefix(p, "~/") {
		if home := g.io.Getenv("HOME"); home != "" {
			p = filepath.Join(home, p[2:])
		}
	}
	if !strings.ContainsAny(p, `*?[`) {
		return []string{p}
	}
	m, _ := filepath.Glob(p)
	return m
}

// completionDataDir is --data-dir, else RAFTCTL_DATA_DIR, else data-dir
// from the config file; "" when none is set or the config cannot be read
// (completion never reports errors).
func (g *globals) completionDataDir(cmd *cobra.Command) string {
	if g.dataDir != "" {
		return g.dataDir
	}
	if d, ok := g.io.LookupEnv("RAFTCTL_DATA_DIR"); ok && d != "" {
		return d
	}
	file := g.configFile
	if file == "" {
		if p, ok := g.io.LookupEnv("RAFTCTL_CONFIG"); ok && p != "" {
			file = p
		} else {
			file = g.defaultConfigFile()
		}
	}
	if file == "" {
		return ""
	}
	v := viper.New()
	v.SetConfigFile(file)
	if filepath.Ext(file) == "" {
		v.SetConfigType("yaml")
	}
	if err := v.ReadInConfig(); err != nil {
		return ""
	}
	for _, key := range []string{cmd.Name() + ".data-dir", "data-dir"} {
		if v.IsSet(key) {
			return v.GetString(key)
		}
	}
	return ""
}
