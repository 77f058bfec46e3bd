package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSegmentOpensReadOnly runs every read-only command under strace on a
// copy of the sample (four servers, three groups each) and checks that no
// *.wal path is opened more than twice. The listing opens each segment once
// and every pass reads through that descriptor (verify's tail scans and its
// lock probe included): verify, verify --deep, summary, compare and the
// list commands open each segment once; wal dump reads the log in two
// passes (the effective log's bounds, then the entries) over one listing
// per pass, so twice. strace is required under CI=true.
func TestSegmentOpensReadOnly(t *testing.T) {
	strace, bin := straceAndBinary(t)
	sample, err := filepath.Abs("../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sample")
	if err := os.CopyFS(dir, os.DirFS(sample)); err != nil {
		t.Fatal(err)
	}
	n1, n2 := filepath.Join(dir, "node-1"), filepath.Join(dir, "node-2")
	wal := regexp.MustCompile(`open(?:at)?\([^"]*"([^"]+\.wal)"[^)]*\)\s*=\s*\d+`)
	for _, c := range []struct {
		args []string
		most int
	}{
		{[]string{"groups", dir}, 1},
		{[]string{"wal", "segments", dir}, 1},
		{[]string{"snap", "list", dir}, 1},
		{[]string{"verify", dir}, 1},
		{[]string{"verify", "--deep", dir}, 1},
		{[]string{"summary", "-o", "json", dir}, 1},
		{[]string{"compare", n1, n2}, 1},
		{[]string{"recover", "plan", "--group", "group-1", n1, n2}, 1},
		{[]string{"wal", "dump", dir}, 2},
		{[]string{"wal", "dump", "--raw", dir}, 2},
	} {
		name := strings.Join(c.args[:min(3, len(c.args))], " ")
		name = strings.ReplaceAll(name, dir+string(filepath.Separator), "")
		name = strings.ReplaceAll(name, dir, "sample")
		t.Run(name, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "trace")
			cmd := exec.Command(strace, append([]string{"-f", "-qq", "-o", trace, "-e", "trace=openat,open", bin}, c.args...)...)
			cmd.Env = append(os.Environ(), "NO_COLOR=1", "XDG_CONFIG_HOME="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code > 1 {
				t.Fatalf("raftctl %v: exit %d (%v)\n%s", c.args, code, err, out)
			}
			b, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, m := range wal.FindAllStringSubmatch(string(b), -1) {
				counts[m[1]]++
			}
			if len(counts) == 0 {
				t.Fatalf("raftctl %v opened no segment (the trace is not what this test reads)", c.args)
			}
			for p, n := range counts {
				if n > c.most {
					t.Errorf("raftctl %v opened %s %d times (at most %d)", c.args, p, n, c.most)
				}
			}
		})
	}
}
