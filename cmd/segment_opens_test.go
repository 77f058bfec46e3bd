package cmd_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestSegmentOpens runs the built binary (the test binary as raftctl, see
// TestMain) under strace for repair, repair --dry-run, compact, compact
// --dry-run and compact --rewrite, on copies of a sample group (healthy) and
// of the same group with a torn last record (which repair mends), and
// checks that no command opens any *.wal path more than twice, counted in
// each phase of its run and over the whole run:
//
//   - before the change: every open until the first successful rename or
//     unlink inside the group (the backup directory excepted). The group is
//     read once, under the lock: lockGroup opens each segment, and verify
//     (its tail scans included), the planner, the plan's pins, the backup
//     and the truncation's copy all read through those descriptors.
//   - after the change: the verify after it necessarily reopens what
//     changed: it locks the group afresh and reads through that lock.
//
// A path opened in both phases is, for a path the change replaced, two
// different files (the old one and the new one under the same name);
// the total per path is checked too. A WAL rewrite also writes its new
// segments in a staging directory (.raftctl-wal-*), counted apart: each is
// created by etcd's writer under a first name, renamed, read back by
// etcd's wal.Verify, and opened once by raftctl, which locks it, reads it
// back, fixes its mode and hashes it through that descriptor. A dry run
// and a command with nothing to do have one phase. strace is required
// under CI=true; elsewhere the test skips without it.
func TestSegmentOpens(t *testing.T) {
	strace, bin := straceAndBinary(t)
	sample, err := filepath.Abs("../testdata/sample/node-1/group-1")
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]func(t *testing.T, dir string){
		"healthy": func(*testing.T, string) {},
		"torn":    tearLast,
	}
	commands := [][]string{{"repair"}, {"repair", "--dry-run"}, {"compact"}, {"compact", "--dry-run"}, {"compact", "--rewrite"}}
	var report []string
	for _, name := range []string{"healthy", "torn"} {
		for _, args := range commands {
			t.Run(name+"/"+strings.Join(args, "_"), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "g")
				if err := os.CopyFS(dir, os.DirFS(sample)); err != nil {
					t.Fatal(err)
				}
				groups[name](t, dir)
				trace := filepath.Join(t.TempDir(), "trace")
				cmd := exec.Command(strace, append([]string{"-f", "-qq", "-o", trace, "-e", "trace=openat,open,rename,renameat,renameat2,unlink,unlinkat", bin}, append(args, dir)...)...)
				cmd.Env = append(os.Environ(), "NO_COLOR=1", "XDG_CONFIG_HOME="+t.TempDir())
				out, err := cmd.CombinedOutput()
				if code := cmd.ProcessState.ExitCode(); code != 0 && code != 1 {
					t.Fatalf("raftctl %v: exit %d (%v)\n%s", args, code, err, out)
				}
				before, after, stage, changed := countOpens(t, trace, dir)
				if name == "torn" && args[0] == "repair" && len(args) == 1 && !changed {
					t.Fatalf("repair changed nothing in the torn group:\n%s", out)
				}
				check := func(phase string, counts map[string]int, most int) int {
					top := 0
					for p, n := range counts {
						top = max(top, n)
						if n > most {
							t.Errorf("%s: %s opened %d times %s (at most %d)", strings.Join(args, " "), p, n, phase, most)
						}
					}
					return top
				}
				b := check("before the change", before, 2)
				a := check("after the change", after, 2)
				s := check("in the staging directory", stage, 2)
				total := map[string]int{}
				for _, m := range []map[string]int{before, after} {
					for p, n := range m {
						total[p] += n
					}
				}
				check("in all", total, 2)
				report = append(report, fmt.Sprintf("%-8s %-20s most opens of one segment: before %d, after %d, staged %d", name, strings.Join(args, " "), b, a, s))
			})
		}
	}
	sort.Strings(report)
	t.Logf("\n%s", strings.Join(report, "\n"))
}

// tearLast zeroes the last sector of the last record of the group's last
// segment: a torn write that repair mends by truncation.
func tearLast(t *testing.T, dir string) {
	t.Helper()
	segs, err := fixture.WALSegments(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(dir, "wal", filepath.Base(segs[len(segs)-1]))
	recs, err := fixture.RecordOffsets(last)
	if err != nil {
		t.Fatal(err)
	}
	r := recs[len(recs)-1]
	end := r.Offset + r.FrameLen
	from := max(r.DataOffset(), (end-1)/512*512)
	if err := fixture.ZeroRange(last, from, end-from); err != nil {
		t.Fatal(err)
	}
}

var (
	straceCall    = regexp.MustCompile(`^(\d+)\s+(openat|open|rename|renameat|renameat2|unlink|unlinkat)\((.*)$`)
	straceResumed = regexp.MustCompile(`^(\d+)\s+<\.\.\. (\w+) resumed>(.*)$`)
	straceString  = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
)

// countOpens reads an strace -f log and counts, per *.wal path, the opens
// before the first successful rename or unlink inside dir (outside its
// backup directory), those after it, and those of the WAL rewrite's staging
// directory; changed reports whether there was such a change.
func countOpens(t *testing.T, trace, dir string) (before, after, stage map[string]int, changed bool) {
	t.Helper()
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, after, stage = map[string]int{}, map[string]int{}, map[string]int{}
	type call struct {
		name  string
		paths []string
	}
	pending := map[string]call{}
	inGroup := func(p string) bool {
		return strings.HasPrefix(p, dir+string(filepath.Separator)) && !strings.Contains(p, "/.raftctl-backup/")
	}
	finish := func(c call, rest string) {
		ok := !strings.Contains(rest, "= -1 ")
		if strings.HasPrefix(c.name, "open") {
			for _, p := range c.paths {
				if !strings.HasSuffix(p, ".wal") {
					continue
				}
				switch {
				case strings.Contains(p, "/.raftctl-wal-"):
					stage[p]++
				case changed:
					after[p]++
				default:
					before[p]++
				}
			}
			return
		}
		if ok {
			for _, p := range c.paths {
				if inGroup(p) && !strings.Contains(p, "/.raftctl-wal-") {
					changed = true
				}
			}
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := straceResumed.FindStringSubmatch(line); m != nil {
			if c, ok := pending[m[1]]; ok {
				delete(pending, m[1])
				finish(c, m[3])
			}
			continue
		}
		m := straceCall.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		c := call{name: m[2]}
		for _, s := range straceString.FindAllStringSubmatch(m[3], -1) {
			c.paths = append(c.paths, s[1])
		}
		if strings.HasSuffix(line, "<unfinished ...>") {
			pending[m[1]] = c
			continue
		}
		finish(c, m[3])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return before, after, stage, changed
}
