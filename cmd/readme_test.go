package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEExamples runs every `raftctl ...` line of the README's sh
// blocks that works on the repository's own data (testdata/...), as from
// the repository root on a copy of the sample: each must exit 0 or 1, print
// something, and not select nothing. A pipeline or redirection is cut off
// (what is piped is raftctl's output); mutating commands run only with
// --dry-run; lines about other machines' paths (/var/lib/etcd) are skipped.
func TestREADMEExamples(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	work := exampleWorkDir(t, repo)
	t.Chdir(work)
	streams, _, _ := TestStreams()
	root, _ := NewRoot(streams)
	n := 0
	inSh := false
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
			continue
		case strings.HasPrefix(line, "```"):
			inSh = false
			continue
		}
		if !inSh || !strings.HasPrefix(line, "raftctl ") {
			continue
		}
		ex := line
		if k := strings.IndexAny(ex, "|>#"); k >= 0 && !strings.Contains(ex[:k], "'") {
			ex = ex[:k]
		}
		args, err := splitExample(strings.TrimSpace(ex))
		if err != nil {
			t.Errorf("README example %q: %v", line, err)
			continue
		}
		if !usesRepoData(args) {
			t.Logf("skipping an example about another machine's data: %s", line)
			continue
		}
		if target, _, err := root.Find(args); err == nil && isMutating(target) && !strings.Contains(ex, "--dry-run") {
			t.Logf("skipping a mutating example without --dry-run: %s", line)
			continue
		}
		n++
		code, out, errOut, panicked := runExample(args)
		switch {
		case panicked != "":
			t.Errorf("README example %q panicked: %s", line, panicked)
		case code != ExitOK && code != ExitFindings:
			t.Errorf("README example %q: exit %d, want 0 or 1\nstderr: %s", line, code, errOut)
		case strings.TrimSpace(out) == "":
			t.Errorf("README example %q printed nothing", line)
		case strings.Contains(errOut, "no entry matches"):
			t.Errorf("README example %q selects nothing: %s", line, errOut)
		}
	}
	if n < 10 {
		t.Fatalf("only %d README examples ran", n)
	}
}

// usesRepoData says whether every path-like argument is the repository's
// own data.
func usesRepoData(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "/") && !strings.HasPrefix(a, "/tmp/") {
			return false
		}
	}
	return true
}
