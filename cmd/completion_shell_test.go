package cmd_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The committed completion scripts (completions/, kept equal to what
// `raftctl completion SHELL` prints by TestCompletionScriptsUpToDate) run
// in the real shells: bash (with the bash-completion package the script
// needs), zsh and fish. Each shell asks the raftctl on PATH (testscript.Main
// puts the test binary there under that name) for candidates, exactly as a
// user's shell does, and the test reads what the shell would offer:
//
//   - bash: COMPREPLY after the script's completion function ran with
//     COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT as bash sets them;
//   - zsh: an interactive zsh in a pseudo-terminal (zpty) with compinit
//     and the script loaded, each line typed and completed with TAB, every
//     match the completion system adds recorded;
//   - fish: `complete -C LINE`, fish's own completion engine.
//
// A missing shell skips its test, except under CI=true (CI installs them:
// .ci/run), where it fails.

// shellCase is one command line (a trailing space completes a new word)
// and the candidates it must and must not offer.
type shellCase struct {
	line string
	want []string
	not  []string
}

func shellCases(t *testing.T) []shellCase {
	sample, err := filepath.Abs("../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	return []shellCase{
		{line: "raftctl wal d", want: []string{"dump"}, not: []string{"segments"}},
		{line: "raftctl ", want: []string{"groups", "wal", "snap", "verify", "repair", "compare", "recover", "completion"}, not: []string{"no-help", "__complete"}},
		{line: "raftctl groups --gr", want: []string{"--group"}},
		{line: "raftctl compare --wal-", want: []string{"--wal-dir"}},
		{line: "raftctl groups " + sample + " -g node-2/", want: []string{"node-2/group-1", "node-2/group-2", "node-2/group-3"}, not: []string{"node-1/group-1"}},
		{line: "raftctl wal dump --data-dir " + sample + " -g node-4/group-", want: []string{"node-4/group-1", "node-4/group-2", "node-4/group-3"}},
		{line: "raftctl groups -o ", want: []string{"table", "plain", "json", "jsonl"}, not: []string{"junit"}},
		{line: "raftctl verify -o j", want: []string{"json", "jsonl", "junit"}, not: []string{"table"}},
		{line: "raftctl wal dump --entry-type IRRP", want: []string{"IRRPut"}},
		{line: "raftctl completion ", want: []string{"bash", "zsh", "fish", "powershell"}},
	}
}

// needShell returns the shell's path, or skips (fails under CI).
func needShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI must test completion in it (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed (apt-get install %s): completion in %s not tested", name, name, name)
	}
	return p
}

// raftctlOnPath checks that the raftctl the shells will run is this test
// binary (installed in PATH by testscript.Main), not another one.
func raftctlOnPath(t *testing.T) {
	t.Helper()
	p, err := exec.LookPath("raftctl")
	if err != nil || !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(p))), "testscript-main") {
		t.Fatalf("raftctl on PATH is %q (%v), not the test binary testscript.Main installs", p, err)
	}
}

// shellEnv is a clean environment: PATH, and a HOME and XDG directories
// of the test's own (no user configuration, of raftctl or of the shell).
func shellEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TERM=dumb", "LC_ALL=C.UTF-8", "NO_COLOR=1",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
	}
}

// runShell runs script in the shell with the cases' lines as arguments;
// the script prints "=== LINE" before each line's candidates, one a line.
func runShell(t *testing.T, env []string, name string, args ...string) map[string][]string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Env = env
	c.Dir = t.TempDir()
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", name, err, out.String(), errOut.String())
		}
	case <-time.After(2 * time.Minute):
		_ = c.Process.Kill()
		t.Fatalf("%s: no answer in 2 minutes\nstdout:\n%s\nstderr:\n%s", name, out.String(), errOut.String())
	}
	got := map[string][]string{}
	var cur string
	for _, l := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(l, "=== "); ok {
			cur = rest
			got[cur] = []string{}
			continue
		}
		if cur != "" && l != "" {
			got[cur] = append(got[cur], l)
		}
	}
	if t.Failed() || len(got) == 0 {
		t.Logf("stderr:\n%s", errOut.String())
	}
	return got
}

// checkCases compares what the shell offered with the cases; cand turns a
// line of the shell's output into the candidate (dropping descriptions).
func checkCases(t *testing.T, shell string, cases []shellCase, got map[string][]string, cand func(string) string) {
	t.Helper()
	for _, tc := range cases {
		lines, ok := got[tc.line]
		if !ok {
			t.Errorf("%s: %q: no answer", shell, tc.line)
			continue
		}
		var cands []string
		for _, l := range lines {
			cands = append(cands, cand(l))
		}
		for _, w := range tc.want {
			if !slices.Contains(cands, w) {
				t.Errorf("%s: %q offers %q, not %q", shell, tc.line, cands, w)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(cands, n) {
				t.Errorf("%s: %q offers %q, which it must not", shell, tc.line, n)
			}
		}
	}
}

// lines returns the cases' command lines.
func lines(cases []shellCase) []string {
	var out []string
	for _, c := range cases {
		out = append(out, c.line)
	}
	return out
}

// dirCase is a directory tree where a PATH argument must complete to the
// directory, never to the file beside it.
func dirCase(t *testing.T) (prefix, dir, file string) {
	root := t.TempDir()
	dir, file = filepath.Join(root, "data"), filepath.Join(root, "dfile")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "d"), dir, file
}

const bashDriver = `
. /usr/share/bash-completion/bash_completion
. "$1"; shift
for line in "$@"; do
    echo "=== $line"
    read -r -a COMP_WORDS <<< "$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMP_LINE=$line COMP_POINT=${#line} COMP_TYPE=9 COMP_KEY=9
    COMPREPLY=()
    __start_raftctl raftctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}"
done
`

func TestCompletionBash(t *testing.T) {
	bash := needShell(t, "bash")
	if _, err := os.Stat("/usr/share/bash-completion/bash_completion"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bash-completion is not installed: raftctl's bash script needs it (.ci/run installs it)")
		}
		t.Skip("bash-completion is not installed (apt-get install bash-completion): completion in bash not tested")
	}
	raftctlOnPath(t)
	cases := shellCases(t)
	prefix, dir, file := dirCase(t)
	cases = append(cases, shellCase{line: "raftctl groups " + prefix, want: []string{dir}, not: []string{file}})
	script, err := filepath.Abs("../completions/raftctl.bash")
	if err != nil {
		t.Fatal(err)
	}
	got := runShell(t, shellEnv(t), bash, append([]string{"--norc", "--noprofile", "-c", bashDriver, "bash", script}, lines(cases)...)...)
	// bash offers the candidate, or the candidate and its description
	// padded to the terminal (when there are several).
	checkCases(t, "bash", cases, got, func(l string) string { return strings.Fields(l + " x")[0] })
}

// zshDriver runs an interactive zsh in a pseudo-terminal (zsh's zpty
// module), with the completion system (compinit) and the script loaded,
// types each line followed by TAB and collects every match the completion
// system adds: compadd is wrapped to print each one ("@@HIT:" and the
// match) before adding it, so _describe, _arguments and _files run as they
// do for a user. TAB runs complete-word, then prints "@@END": the driver
// waits for it before it clears the line (^U) and types the next.
const zshDriver = `
zmodload zsh/zpty || { print -u2 "zsh has no zpty module"; exit 3 }
script=$1; shift
zpty z zsh -f -i
zpty -w z "PS1='> '; autoload -Uz compinit; compinit -u -d \$HOME/.zcompdump"
zpty -w z "source ${(q)script}"
zpty -w z 'compadd() { if (( ${argv[(I)-[OAD]*]} )); then builtin compadd "$@"; return; fi; local -a h; builtin compadd -A h "$@"; local x; for x in $h; do print -r -- "${:-@@}HIT:$x"; done; builtin compadd "$@"; }'
zpty -w z 'tab() { zle complete-word; print -r -- "${:-@@}END"; }; zle -N tab; bindkey "^I" tab'
zpty -w z "zstyle ':completion:*' menu no; LISTMAX=100000; print -r -- \${:-@@}END"
# upto prints the matches up to the next end marker.
upto() {
    local out
    while zpty -r z out; do
        out=${out//$'\r'/}
        [[ $out == *@@END* ]] && return
        [[ $out == *@@HIT:* ]] && print -r -- "${out#*@@HIT:}"
    done
}
upto >/dev/null
for line in "$@"; do
    print -r -- "=== $line"
    zpty -n -w z "$line"$'\t'
    upto
    zpty -n -w z $'\C-u'
done
zpty -d z
`

func TestCompletionZsh(t *testing.T) {
	zsh := needShell(t, "zsh")
	raftctlOnPath(t)
	cases := shellCases(t)
	// A PATH completes directories only; a plan file any file. zsh's
	// _files adds the names below the directory typed.
	prefix, _, _ := dirCase(t)
	cases = append(cases, shellCase{line: "raftctl groups " + prefix, want: []string{"data"}, not: []string{"dfile"}},
		shellCase{line: "raftctl recover apply " + prefix, want: []string{"data", "dfile"}})
	script, err := filepath.Abs("../completions/_raftctl")
	if err != nil {
		t.Fatal(err)
	}
	got := runShell(t, shellEnv(t), zsh, append([]string{"-f", "-c", zshDriver, "zsh", script}, lines(cases)...)...)
	// zsh quotes the matches it shows as it would insert them (node-2/\*).
	checkCases(t, "zsh", cases, got, func(l string) string { return strings.ReplaceAll(strings.TrimSpace(l), `\`, "") })
}

const fishDriver = `
source $argv[1]
for line in $argv[2..-1]
    echo "=== $line"
    complete -C "$line"
end
`

func TestCompletionFish(t *testing.T) {
	fish := needShell(t, "fish")
	raftctlOnPath(t)
	cases := shellCases(t)
	prefix, dir, file := dirCase(t)
	cases = append(cases, shellCase{line: "raftctl groups " + prefix, want: []string{dir + "/"}, not: []string{file}})
	script, err := filepath.Abs("../completions/raftctl.fish")
	if err != nil {
		t.Fatal(err)
	}
	got := runShell(t, shellEnv(t), fish, append([]string{"--no-config", "-c", fishDriver, script}, lines(cases)...)...)
	// fish prints "candidate<TAB>description".
	checkCases(t, "fish", cases, got, func(l string) string { return strings.SplitN(l, "\t", 2)[0] })
}
