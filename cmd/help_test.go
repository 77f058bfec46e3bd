package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// visibleCommands returns every command users can see, root first.
func visibleCommands(t *testing.T) []*cobra.Command {
	t.Helper()
	streams, _, _ := TestStreams()
	root, _ := NewRoot(streams)
	var cmds []*cobra.Command
	walkCommands(root, func(c *cobra.Command) {
		for p := c; p != nil; p = p.Parent() {
			if p.Hidden {
				return
			}
		}
		cmds = append(cmds, c)
	})
	return cmds
}

func isMutating(c *cobra.Command) bool { return c.Annotations["mutating"] == "true" }

// TestHelpSections: every command has a Short, a Long that ends with the
// EXIT STATUS table, and examples; mutating commands warn.
func TestHelpSections(t *testing.T) {
	status := exitStatusHelp()
	for _, c := range visibleCommands(t) {
		name := c.CommandPath()
		if strings.TrimSpace(c.Short) == "" {
			t.Errorf("%s: no Short", name)
		}
		if strings.TrimSpace(c.Long) == "" {
			t.Errorf("%s: no Long", name)
		}
		if !strings.HasSuffix(c.Long, status) {
			t.Errorf("%s: Long does not end with the EXIT STATUS section (exitStatusHelp())", name)
		} else if strings.TrimSpace(strings.TrimSuffix(c.Long, status)) == "" {
			t.Errorf("%s: Long is only the EXIT STATUS section", name)
		}
		// A command that only groups subcommands shows their examples.
		if strings.TrimSpace(c.Example) == "" && !c.HasSubCommands() {
			t.Errorf("%s: no Example", name)
		}
		if c.Example != "" && len(exampleCommands(c.Example)) == 0 {
			t.Errorf("%s: Example has no \"$ raftctl ...\" line", name)
		}
		if isMutating(c) && !strings.Contains(c.Long, "WARNING") {
			t.Errorf("%s: mutating command without a WARNING paragraph in Long", name)
		}
		if c.Runnable() && !isMutating(c) {
			for _, f := range []string{"dry-run", "backup-dir"} {
				if c.Flags().Lookup(f) != nil {
					t.Errorf("%s: has --%s but is not annotated mutating (Annotations[\"mutating\"] = \"true\")", name, f)
				}
			}
		}
	}
}

// TestHelpOutput: --help prints the Long text with the EXIT STATUS table
// and the examples, exit 0.
func TestHelpOutput(t *testing.T) {
	for _, c := range visibleCommands(t) {
		args := append(strings.Fields(c.CommandPath())[1:], "--help")
		streams, out, errOut := TestStreams()
		if code := Run(context.Background(), streams, args); code != ExitOK {
			t.Errorf("%q: exit %d: %s", args, code, errOut)
			continue
		}
		if !strings.Contains(out.String(), "EXIT STATUS\n") {
			t.Errorf("%q: no EXIT STATUS in help", args)
		}
		if c.Example != "" && !strings.Contains(out.String(), "Examples:") {
			t.Errorf("%q: no examples in help", args)
		}
	}
}

// TestExitStatusTable: one row per code, every code documented.
func TestExitStatusTable(t *testing.T) {
	seen := map[int]string{}
	for _, e := range exitStatus {
		if prev, dup := seen[e.Code]; dup {
			t.Errorf("exit code %d documented twice: %q and %q", e.Code, prev, e.Meaning)
		}
		seen[e.Code] = e.Meaning
		if strings.TrimSpace(e.Meaning) == "" {
			t.Errorf("exit code %d has no meaning", e.Code)
		}
	}
	for _, code := range []int{ExitOK, ExitFindings, ExitUsage, ExitNoVerdict, ExitInterrupted} {
		if _, ok := seen[code]; !ok {
			t.Errorf("exit code %d missing from the EXIT STATUS table", code)
		}
	}
	if got := strings.Count(exitStatusHelp(), "\n"); got != len(exitStatus)+1 {
		t.Errorf("exitStatusHelp() has %d lines, want %d", got, len(exitStatus)+1)
	}
}

// TestHelpExamples runs every "$ raftctl ..." example on a copy of the
// shipped sample data (testdata/sample under the working directory, as
// from the repository root) and requires exit 0 or 1 and no panic.
// Examples of mutating commands run only with --dry-run.
func TestHelpExamples(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	work := exampleWorkDir(t, repo)
	cmds := visibleCommands(t)
	t.Chdir(work)
	n := 0
	for _, c := range cmds {
		path := strings.Fields(c.CommandPath())[1:]
		for _, ex := range exampleCommands(c.Example) {
			args, err := splitExample(ex)
			if err != nil {
				t.Errorf("%s: example %q: %v", c.CommandPath(), ex, err)
				continue
			}
			if len(args) < len(path) || strings.Join(args[:len(path)], " ") != strings.Join(path, " ") {
				t.Errorf("%s: example %q does not run %s", c.CommandPath(), ex, c.CommandPath())
				continue
			}
			if target, _, err := c.Root().Find(args); err == nil && isMutating(target) && !strings.Contains(ex, "--dry-run") {
				t.Logf("skipping example of a mutating command without --dry-run: %s", ex)
				continue
			}
			n++
			code, out, errOut, panicked := runExample(args)
			if panicked != "" {
				t.Errorf("example %q panicked: %s", ex, panicked)
				continue
			}
			if code != ExitOK && code != ExitFindings {
				t.Errorf("example %q: exit %d, want 0 or 1\nstderr: %s", ex, code, errOut)
			}
			if strings.Contains(out, "panic") || strings.Contains(errOut, "panic") {
				t.Errorf("example %q printed a panic:\n%s%s", ex, out, errOut)
			}
			if strings.Contains(errOut, "no entry matches") {
				t.Errorf("example %q shows nothing of what it describes: %s", ex, errOut)
			}
		}
	}
	if n == 0 {
		t.Fatal("no example ran")
	}
}

// exampleWorkDir makes a directory that looks like the repository root to
// the examples: testdata/sample is a copy (examples cannot damage the
// original), the rest of testdata is linked.
func exampleWorkDir(t *testing.T, repo string) string {
	t.Helper()
	work := t.TempDir()
	src := filepath.Join(repo, "testdata")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(work, "testdata"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		from, to := filepath.Join(src, e.Name()), filepath.Join(work, "testdata", e.Name())
		if e.Name() == "sample" {
			if err := fixture.CopyDir(from, to); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.Symlink(from, to); err != nil {
			t.Fatal(err)
		}
	}
	return work
}

func runExample(args []string) (code int, stdout, stderr, panicked string) {
	streams, out, errOut := TestStreams()
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprintf("%v\n%s", r, debug.Stack())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = Run(ctx, streams, args)
	return code, out.String(), errOut.String(), ""
}

// exampleCommands returns the "$ raftctl ..." lines of an Example, with
// backslash-continued lines joined and the "$ " removed.
func exampleCommands(example string) []string {
	var cmds []string
	lines := strings.Split(example, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "$ raftctl ") && l != "$ raftctl" {
			continue
		}
		l = strings.TrimPrefix(l, "$ ")
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSpace(strings.TrimSuffix(l, `\`)) + " " + strings.TrimSpace(lines[i])
		}
		cmds = append(cmds, l)
	}
	return cmds
}

// splitExample splits a shell command line into raftctl's arguments: it
// honours single and double quotes and backslashes, stops at a pipe,
// redirection or command separator, and refuses shell expansions it
// cannot perform.
func splitExample(line string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	flush := func() {
		if inWord {
			args = append(args, cur.String())
		}
		cur.Reset()
		inWord = false
	}
loop:
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case quote == '"':
			switch ch {
			case '"':
				quote = 0
			case '$', '`':
				return nil, fmt.Errorf("shell expansion in %q", line)
			case '\\':
				if i+1 < len(line) {
					i++
					cur.WriteByte(line[i])
				}
			default:
				cur.WriteByte(ch)
			}
		default:
			switch ch {
			case ' ', '\t':
				flush()
			case '\'', '"':
				quote = ch
				inWord = true
			case '\\':
				if i+1 < len(line) {
					i++
					cur.WriteByte(line[i])
					inWord = true
				}
			case '|', '>', '<', ';', '&':
				break loop
			case '$', '`', '*', '?', '~':
				if ch == '~' && inWord {
					cur.WriteByte(ch)
					continue
				}
				return nil, fmt.Errorf("unquoted %c: the test cannot expand it; quote it or leave it out of the example", ch)
			default:
				cur.WriteByte(ch)
				inWord = true
			}
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	flush()
	if len(args) == 0 || args[0] != "raftctl" {
		return nil, fmt.Errorf("%q does not run raftctl", line)
	}
	return args[1:], nil
}

func TestSplitExample(t *testing.T) {
	for line, want := range map[string]string{
		`raftctl groups testdata/sample`:                            "groups|testdata/sample",
		`raftctl groups testdata/sample --group 'node-1/*' -o json`: "groups|testdata/sample|--group|node-1/*|-o|json",
		`raftctl wal dump "a b" -o jsonl | jq .index`:               "wal|dump|a b|-o|jsonl",
		`raftctl completion zsh > "${fpath[1]}/_raftctl"`:           "completion|zsh",
		`raftctl completion bash > ~/.local/share/x`:                "completion|bash",
		`raftctl verify testdata/sample && echo ok`:                 "verify|testdata/sample",
		`raftctl wal dump testdata/sample -g node-1/group-1\ --x`:   "wal|dump|testdata/sample|-g|node-1/group-1 --x",
	} {
		args, err := splitExample(line)
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if got := strings.Join(args, "|"); got != want {
			t.Errorf("%s: got %q, want %q", line, got, want)
		}
	}
	for _, bad := range []string{`raftctl groups $DIR`, `raftctl groups "$DIR"`, `raftctl groups 'x`, `raftctl groups node-*`, `ls`} {
		if _, err := splitExample(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	got := exampleCommands("  $ raftctl groups \\\n      testdata/sample\n  # comment\n  $ ls\n  $ raftctl version")
	if strings.Join(got, "|") != "raftctl groups testdata/sample|raftctl version" {
		t.Errorf("exampleCommands: %q", got)
	}
}

// TestUsageError: an unknown flag is a usage error (exit 2) that prints
// the message and a pointer to the command's --help (not the whole
// usage); with -o json a JSON error object follows on stderr.
func TestUsageError(t *testing.T) {
	streams, out, errOut := TestStreams()
	if code := Run(context.Background(), streams, []string{"groups", "--bogus"}); code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if out.Len() != 0 {
		t.Errorf("stdout not empty: %q", out)
	}
	if want := "raftctl: unknown flag: --bogus\nRun 'raftctl groups --help' for usage.\n"; errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	streams, _, errOut = TestStreams()
	if code := Run(context.Background(), streams, []string{"groups", "-o", "json", "--bogus"}); code != ExitUsage {
		t.Errorf("-o json: exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errOut.String(), `"exit_code": 2`) || !strings.Contains(errOut.String(), `"error": "unknown flag: --bogus"`) {
		t.Errorf("-o json: no JSON error object on stderr:\n%s", errOut)
	}
}

// TestTableFitsTerminal: `groups` in table mode on an 80-column terminal
// has no line wider than 80 columns, also when group names are long.
func TestTableFitsTerminal(t *testing.T) {
	sample, err := filepath.Abs("../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	deep := t.TempDir()
	if err := fixture.CopyDir(sample, filepath.Join(deep, "a-rather-long-directory-name", "and-another-level-below-it")); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{sample, deep} {
		for _, args := range [][]string{{"groups", dir}, {"groups", dir, "-o", "table"}, {"wal", "segments", dir}, {"snap", "list", dir}} {
			var out, errOut bytes.Buffer
			streams := &IOStreams{
				In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut, OutTTY: true, Width: 80,
				Getenv:    func(string) string { return "" },
				LookupEnv: func(string) (string, bool) { return "", false },
			}
			if code := Run(context.Background(), streams, args); code != ExitOK {
				t.Errorf("%q: exit %d: %s", args, code, errOut.String())
				continue
			}
			checkWidth(t, args, &out, 80)
		}
	}
}

func checkWidth(t *testing.T, args []string, r io.Reader, width int) {
	t.Helper()
	b, _ := io.ReadAll(r)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 2 {
		t.Errorf("%q: want a header and rows, got %q", args, b)
	}
	for _, l := range lines {
		if w := format.DisplayWidth(l); w > width {
			t.Errorf("%q: line is %d columns wide, more than %d:\n%s", args, w, width, l)
		}
	}
}

func TestMarkdownLong(t *testing.T) {
	long := "Reads RAFTCTL_<FLAG> and *.wal files.\nSecond line.\n\nExample:\n  raftctl x\n    --y\nAfter.\n\n" + exitStatusHelp()
	want := "Reads RAFTCTL\\_\\<FLAG\\> and \\*.wal files.\nSecond line.\n\nExample:\n\n      raftctl x\n        --y\n\nAfter.\n\n# EXIT STATUS\n\n      0    done"
	if got := markdownLong(long, "# EXIT STATUS"); !strings.HasPrefix(got, want) {
		t.Errorf("markdownLong:\n%s\nwant prefix:\n%s", got, want)
	}
}

// TestREADMEListsEveryCode keeps the README's finding catalogue complete.
func TestREADMEListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range inspect.Catalogue {
		if !strings.Contains(string(b), "| `"+c.Code+"` | "+string(c.Severity)+" |") {
			t.Errorf("README.md does not list finding %s (%s)", c.Code, c.Severity)
		}
	}
}
