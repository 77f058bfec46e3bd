package cmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestCompletionScriptsUpToDate fails when the scripts committed under
// completions/ differ from what `raftctl completion` prints; run
// `go generate ./cmd/` to refresh them.
func TestCompletionScriptsUpToDate(t *testing.T) {
	for _, sh := range completionShells {
		t.Run(sh.Name, func(t *testing.T) {
			streams, out, errOut := TestStreams()
			if code := Run(context.Background(), streams, []string{"completion", sh.Name}); code != ExitOK {
				t.Fatalf("raftctl completion %s: exit %d: %s", sh.Name, code, errOut)
			}
			committed, err := os.ReadFile(filepath.Join("..", "completions", sh.File))
			if err != nil {
				t.Fatalf("%v (run go generate ./cmd/)", err)
			}
			if out.String() != string(committed) {
				t.Errorf("completions/%s is stale: run go generate ./cmd/ and commit the result", sh.File)
			}
		})
	}
}

// TestCompletionDeterministic: two runs give the same bytes (the scripts
// are committed and compared in CI).
func TestCompletionDeterministic(t *testing.T) {
	for _, sh := range completionShells {
		var outs []string
		for range 2 {
			streams, out, _ := TestStreams()
			Run(context.Background(), streams, []string{"completion", sh.Name})
			outs = append(outs, out.String())
		}
		if outs[0] != outs[1] || outs[0] == "" {
			t.Errorf("completion %s: output differs between runs or is empty", sh.Name)
		}
	}
}

// complete runs `raftctl __complete args...` and returns the candidates
// (descriptions dropped) and the directive line.
func complete(t *testing.T, env map[string]string, args ...string) ([]string, string) {
	t.Helper()
	streams, out, errOut := TestStreams()
	streams.Getenv = func(k string) string { return env[k] }
	streams.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Run(context.Background(), streams, append([]string{cobra.ShellCompRequestCmd}, args...))
	if code != ExitOK {
		t.Fatalf("__complete %q: exit %d: %s", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("__complete %q: no directive in %q", args, out)
	}
	var comps []string
	for _, l := range lines[:len(lines)-1] {
		comps = append(comps, strings.SplitN(l, "\t", 2)[0])
	}
	return comps, lines[len(lines)-1]
}

const (
	dirNoFile  = ":4"  // ShellCompDirectiveNoFileComp
	dirDirs    = ":16" // ShellCompDirectiveFilterDirs
	dirFileExt = ":8"  // ShellCompDirectiveFilterFileExt
)

func TestCompleteDynamic(t *testing.T) {
	sample, err := filepath.Abs("../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	allGroups := []string{
		"node-1/group-1", "node-1/group-2", "node-1/group-3",
		"node-2/group-1", "node-2/group-2", "node-2/group-3",
		"node-3/group-1", "node-3/group-2", "node-3/group-3",
		"node-4/group-1", "node-4/group-2", "node-4/group-3",
		"node-1/*", "node-2/*", "node-3/*", "node-4/*",
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "config.yaml"), []byte("data-dir: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "raftctl.yaml")
	if err := os.WriteFile(good, []byte("data-dir: "+sample+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // nil: no candidates
		dir  string
	}{
		{"group under PATH", nil, []string{"groups", sample, "--group", ""}, allGroups, dirNoFile},
		{"group short flag", nil, []string{"wal", "dump", sample, "-g", "node-2/"}, []string{"node-2/group-1", "node-2/group-2", "node-2/group-3", "node-2/*"}, dirNoFile},
		{"group glob", nil, []string{"snap", "list", sample, "-g", "node-*/group-3"}, []string{"node-1/group-3", "node-2/group-3", "node-3/group-3", "node-4/group-3"}, dirNoFile},
		{"group not repeated", nil, []string{"groups", sample, "-g", "node-1/group-1", "-g", "node-1/"}, []string{"node-1/group-2", "node-1/group-3", "node-1/*"}, dirNoFile},
		{"group from --data-dir", nil, []string{"groups", "--data-dir", sample, "-g", "node-4/group-"}, []string{"node-4/group-1", "node-4/group-2", "node-4/group-3"}, dirNoFile},
		{"group from env", map[string]string{"RAFTCTL_DATA_DIR": sample}, []string{"groups", "-g", "node-3/group-1"}, []string{"node-3/group-1"}, dirNoFile},
		{"group from config", map[string]string{"RAFTCTL_CONFIG": good}, []string{"groups", "-g", "node-3/group-2"}, []string{"node-3/group-2"}, dirNoFile},
		{"group nowhere", nil, []string{"groups", "-g", ""}, nil, dirNoFile},
		{"group under a bad PATH", nil, []string{"groups", "/does/not/exist", "-g", ""}, nil, dirNoFile},
		{"broken config", map[string]string{"XDG_CONFIG_HOME": broken, "RAFTCTL_COLOR": "purple"}, []string{"groups", sample, "-g", "node-1/group-1"}, []string{"node-1/group-1"}, dirNoFile},
		{"missing config", map[string]string{"RAFTCTL_CONFIG": "/does/not/exist.yaml"}, []string{"groups", "--config", "/nor/this.yaml", sample, "-g", "node-1/group-1"}, []string{"node-1/group-1"}, dirNoFile},
		{"PATH argument", nil, []string{"groups", ""}, nil, dirDirs},
		{"PATH of a subcommand", nil, []string{"wal", "dump", sample, ""}, nil, dirDirs},
		{"--data-dir", nil, []string{"groups", "--data-dir", ""}, nil, dirDirs},
		{"--config", nil, []string{"groups", "--config", ""}, []string{"yaml", "yml", "json", "toml"}, dirFileExt},
		{"-o", nil, []string{"groups", "-o", ""}, []string{"table", "plain", "json", "jsonl"}, dirNoFile},
		{"-o prefix", nil, []string{"snap", "list", "-o", "js"}, []string{"json", "jsonl"}, dirNoFile},
		{"--color", nil, []string{"groups", "--color", ""}, []string{"auto", "always", "never"}, dirNoFile},
		{"--type", nil, []string{"wal", "dump", "--type", ""}, []string{"normal", "conf-change", "conf-change-v2"}, dirNoFile},
		{"--type list", nil, []string{"wal", "dump", "--type", "normal,conf"}, []string{"normal,conf-change", "normal,conf-change-v2"}, dirNoFile},
		{"--data", nil, []string{"wal", "dump", "--data", ""}, []string{"hex", "base64", "text", "len", "none"}, dirNoFile},
		{"--decoder", nil, []string{"wal", "dump", "--decoder", ""}, []string{"none", "raft", "etcd", "dgraph"}, dirNoFile},
		{"no files for version", nil, []string{"version", ""}, nil, dirNoFile},
		{"shells", nil, []string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}, dirNoFile},
		{"docs subcommands", nil, []string{"docs", ""}, []string{"man", "markdown"}, dirNoFile},
		{"docs DIR", nil, []string{"docs", "man", ""}, nil, dirDirs},
		{"subcommands of wal", nil, []string{"wal", ""}, []string{"dump", "segments"}, dirNoFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dir := complete(t, tt.env, tt.args...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("candidates = %q, want %q", got, tt.want)
			}
			if dir != tt.dir {
				t.Errorf("directive = %s, want %s", dir, tt.dir)
			}
		})
	}
}

// TestCompleteEveryCommand: every command completes without error, and
// its flags that take a fixed set of values or directories have a
// completion function (so a command added later is covered by name).
func TestCompleteEveryCommand(t *testing.T) {
	streams, _, _ := TestStreams()
	root, _ := NewRoot(streams)
	walkCommands(root, func(c *cobra.Command) {
		if c.Hidden || c == root {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		if c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 && !c.HasSubCommands() && argKind(c.Use) != argsFiles {
			t.Errorf("%s: no completion for arguments", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			switch f.Name {
			case "group", "type", "data", "decoder", "fail-on", "out", "backup-dir":
				if _, ok := c.GetFlagCompletionFunc(f.Name); !ok {
					t.Errorf("%s --%s: no completion function", c.CommandPath(), f.Name)
				}
			}
		})
		_, d := complete(t, nil, append(path, "")...)
		if d == "" {
			t.Errorf("%s: no directive", c.CommandPath())
		}
	})
}

func TestArgKind(t *testing.T) {
	for use, want := range map[string]argsCompletion{
		"version":                             argsNone,
		"groups [PATH...]":                    argsDirs,
		"man DIR":                             argsDirs,
		"wal [flags]":                         argsNone,
		"migrate SRC-FILE":                    argsFiles,
		"completion bash|zsh|fish|powershell": argsFiles,
	} {
		if got := argKind(use); got != want {
			t.Errorf("argKind(%q) = %d, want %d", use, got, want)
		}
	}
}

func TestUsageValues(t *testing.T) {
	for usage, want := range map[string][]string{
		"lowest severity that fails: info, warning or error": {"info", "warning", "error"},
		"decode payloads: none, raft (conf changes) or etcd": {"none", "raft", "etcd"},
		"payload display: hex, base64, text, len or none":    {"hex", "base64", "text", "len", "none"},
		"where to look for groups":                           nil,
		"fail at: error":                                     nil,
		"the time: 10:00 in the morning":                     nil,
	} {
		if got := usageValues(usage); !slices.Equal(got, want) {
			t.Errorf("usageValues(%q) = %q, want %q", usage, got, want)
		}
	}
}

// TestCompleteFailOn covers --fail-on before verify exists: values from
// the flag's usage, or from the raftctl_values annotation.
func TestCompleteFailOn(t *testing.T) {
	streams, _, _ := TestStreams()
	g := &globals{io: streams}
	c := &cobra.Command{Use: "check"}
	c.Flags().String("fail-on", "error", "lowest severity that fails: info, warning or error")
	c.Flags().String("level", "", "a level")
	_ = c.Flags().SetAnnotation("level", flagValuesAnnotation, []string{"low", "high"})
	for name, want := range map[string][]string{"fail-on": {"info", "warning", "error"}, "level": {"low", "high"}} {
		fn := flagCompletion(g, c, c.Flags().Lookup(name))
		if fn == nil {
			t.Fatalf("--%s: no completion", name)
		}
		got, d := fn(c, nil, "")
		if !slices.Equal(got, want) || d != cobra.ShellCompDirectiveNoFileComp {
			t.Errorf("--%s: %q %v, want %q", name, got, d, want)
		}
	}
}
