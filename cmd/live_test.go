//go:build linux

package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/raftctl/raftctl/cmd"
	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// RAFTCTL_LIVE_KEEP=DIR copies the member's data directory there after
// the server stopped.
//
// liveStrict set to 0 relaxes TestVerifyLiveEtcd for exploration: error
// and warning findings are then counted and logged, and only a panic, a
// verdict "unknown" or an unexpected exit status fails the test. By
// default (and in CI) any error or warning fails it.
const liveStrict = "RAFTCTL_LIVE_STRICT"

// The shape of TestVerifyLiveEtcd's run.
const (
	liveMinRuns    = 50               // of each of verify and verify --deep
	liveMinTime    = 40 * time.Second // etcd purges every 30s: see one
	liveMaxTime    = 75 * time.Second // stop verifying after this
	liveWriters    = 3
	liveMaxPuts    = 400_000 // bound on the whole write load
	liveSegment    = 32 << 10
	liveSnapCount  = 200
	liveCatchUp    = 50
	liveMaxWALs    = 3
	liveMaxSnaps   = 2
	liveBinaryEach = 8 // every 8th run goes through the real binary
)

// liveRun is one verification beside the live member.
type liveRun struct {
	how      string // "verify", "verify --deep", "binary", "binary --deep", "Run"
	status   string
	err      string
	findings []inspect.Finding
	exit     int
	// why explains each error or warning finding (same order as
	// findings; "" for the others), and the missing verdict: what the
	// files look like right after the run.
	why   []string
	noWhy string
	// noLock says, for a run without the in-use finding, which files of
	// the WAL directory are locked right after it.
	noLock string
}

// TestVerifyLiveEtcd runs verify and verify --deep again and again on the
// data directory of an embedded etcd member while clients write to it as
// fast as they can (small segments, frequent snapshots and purges), as the
// README promises read-only commands may run beside a live server. Every
// run must reach a verdict, and (unless RAFTCTL_LIVE_STRICT=0) report no
// error and no warning: the member is healthy throughout.
func TestVerifyLiveEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an etcd server under load for a minute")
	}
	strict := os.Getenv(liveStrict) != "0"
	bin, binErr := exec.LookPath("raftctl") // the test binary as raftctl (TestMain)
	if binErr != nil {
		t.Logf("no raftctl binary in PATH (%v): the binary runs are done with cmd.Run", binErr)
	}
	dir := t.TempDir()
	var (
		runs []liveRun
		puts atomic.Int64
	)
	start := time.Now()
	err := fixture.EmbeddedEtcd(dir, map[string]string{"/live/start": "1"},
		fixture.WithEtcdSegmentSize(liveSegment),
		fixture.WithSnapshotCount(liveSnapCount),
		fixture.WithSnapshotCatchUpEntries(liveCatchUp),
		fixture.WithMaxFiles(liveMaxWALs, liveMaxSnaps),
		fixture.WithEtcdTimeout(liveMaxTime+60*time.Second),
		fixture.WithWhileRunning(func(ctx context.Context, cli *clientv3.Client) error {
			loadCtx, stopLoad := context.WithCancel(ctx)
			defer stopLoad()
			loadErr := make(chan error, 1)
			go func() { loadErr <- liveLoad(loadCtx, cli, &puts) }()
			// Let the load write a few segments and snapshots first.
			for puts.Load() < 2*liveSnapCount && time.Since(start) < 20*time.Second {
				time.Sleep(10 * time.Millisecond)
			}
			runs = liveVerifyLoop(t, dir, bin)
			stopLoad()
			if err := <-loadErr; err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if keep := os.Getenv("RAFTCTL_LIVE_KEEP"); keep != "" {
		// The member's data directory as the stopped server left it.
		if err := fixture.CopyDir(dir, keep); err != nil {
			t.Fatal(err)
		}
	}

	// Counts by how the run was made, by code, and by explanation.
	byHow := map[string]int{}
	byCode := map[string]int{}
	runsWith := map[string]int{}
	whys := map[string]int{}
	example := map[string]string{}
	noInUse := map[string]int{}
	lockedNow := map[string]int{}
	for _, r := range runs {
		byHow[r.how]++
		seen := map[string]bool{}
		inUse := false
		for k, f := range r.findings {
			byCode[f.Code]++
			inUse = inUse || f.Code == inspect.CodeInUse
			if !f.Severity.AtLeast(inspect.SeverityWarning) {
				continue
			}
			if !seen[f.Code] {
				runsWith[f.Code]++
				seen[f.Code] = true
			}
			why, detail, _ := strings.Cut(r.why[k], "|")
			key := f.Code + ": " + why
			if whys[key]++; whys[key] == 1 {
				example[key] = fmt.Sprintf("%s: %s %s @%d (index %d): %s", r.how, filepath.Base(f.File), f.Code, f.Offset, f.Index, f.Message)
				if detail != "" {
					example[key] += " [" + detail + "]"
				}
			}
		}
		if r.noWhy != "" {
			key := "no verdict: " + r.noWhy
			if whys[key]++; whys[key] == 1 {
				example[key] = fmt.Sprintf("%s: %s", r.how, r.err)
			}
		}
		if !inUse && r.status != inspect.StatusUnknown {
			noInUse[r.how]++
			lockedNow[r.noLock]++
		}
	}
	t.Logf("%d puts, %d runs in %v (%v)", puts.Load(), len(runs), elapsed.Round(time.Second), liveSorted(byHow))
	t.Logf("findings by code (all runs): %v", liveSorted(byCode))
	t.Logf("runs with a warning or error, by code: %v", liveSorted(runsWith))
	if len(noInUse) > 0 {
		t.Logf("runs with a verdict but without the in-use finding: %v; the locks on the WAL directory's files right after them: %v", liveSorted(noInUse), liveSorted(lockedNow))
	}
	var explained []string
	for key, n := range whys {
		explained = append(explained, fmt.Sprintf("%4d x %s\n       e.g. %s", n, key, example[key]))
	}
	sort.Strings(explained)
	if len(explained) > 0 {
		t.Logf("errors, warnings and missing verdicts, by what the files showed right after the run:\n%s", strings.Join(explained, "\n"))
	}
	if byHow["verify"] < liveMinRuns || byHow["verify --deep"] < liveMinRuns {
		t.Errorf("only %d verify and %d verify --deep runs, want %d of each", byHow["verify"], byHow["verify --deep"], liveMinRuns)
	}
	unknown := 0
	for _, r := range runs {
		if strings.HasPrefix(r.status, "panic") {
			t.Errorf("%s: %s", r.how, r.status)
		} else if r.status == inspect.StatusUnknown || r.err != "" {
			unknown++
		}
	}
	if unknown > 0 {
		t.Errorf("%d of %d runs reached no verdict on a healthy live member", unknown, len(runs))
	}
	if len(runsWith) == 0 {
		return
	}
	if strict {
		t.Errorf("a healthy live member was reported with errors or warnings (runs by code: %v)", liveSorted(runsWith))
	} else {
		t.Logf("%s=0: not failing on these errors and warnings", liveStrict)
	}
}

// liveLoad puts values of varied sizes from liveWriters goroutines until
// ctx is cancelled or liveMaxPuts puts were made, with a delete now and
// then.
func liveLoad(ctx context.Context, cli *clientv3.Client, puts *atomic.Int64) error {
	var wg sync.WaitGroup
	errs := make(chan error, liveWriters)
	for w := range liveWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for ctx.Err() == nil && puts.Load() < liveMaxPuts {
				n := puts.Add(1)
				key := fmt.Sprintf("/live/w%d/key-%03d", w, rng.IntN(200))
				var err error
				if n%97 == 0 {
					_, err = cli.Delete(ctx, key)
				} else {
					val := bytes.Repeat([]byte{byte('a' + w)}, 16+rng.IntN(1500))
					_, err = cli.Put(ctx, key, string(val))
				}
				if err != nil && ctx.Err() == nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// liveVerifyLoop verifies the member's group until there were liveMinRuns
// runs of each kind and liveMinTime passed, or liveMaxTime passed. Every
// liveBinaryEach-th run goes through the real binary (or cmd.Run) with
// -o json instead of inspect.Verify.
func liveVerifyLoop(t *testing.T, dir, bin string) []liveRun {
	groups, err := inspect.Discover([]string{dir}, inspect.DiscoverOptions{})
	if err != nil || len(groups) != 1 {
		t.Errorf("discover the live member: %v %v", groups, err)
		return nil
	}
	g := groups[0]
	var runs []liveRun
	deepRuns, plainRuns := 0, 0
	begin := time.Now()
	for k := 0; ; k++ {
		d := time.Since(begin)
		if d > liveMaxTime || (d > liveMinTime && deepRuns >= liveMinRuns && plainRuns >= liveMinRuns) {
			break
		}
		deep := k%2 == 1
		var r liveRun
		began := time.Now()
		if k%liveBinaryEach == liveBinaryEach-1 || k%liveBinaryEach == liveBinaryEach-2 {
			r = liveVerifyCommand(t, dir, bin, deep)
		} else {
			r = liveVerifyLibrary(g, deep)
			if deep {
				deepRuns++
			} else {
				plainRuns++
			}
		}
		liveExplainRun(g, &r, began)
		runs = append(runs, r)
	}
	return runs
}

// liveVerifyLibrary runs inspect.Verify, turning a panic into a status.
func liveVerifyLibrary(g inspect.Group, deep bool) (r liveRun) {
	r.how = "verify"
	if deep {
		r.how = "verify --deep"
	}
	defer func() {
		if p := recover(); p != nil {
			r.status = fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	rep, err := inspect.Verify(context.Background(), g, inspect.VerifyOptions{Deep: deep})
	if err != nil {
		r.err = err.Error()
		return r
	}
	r.status, r.err, r.findings = rep.Status, rep.Err, rep.Findings
	return r
}

// liveVerifyCommand runs `raftctl verify --fail-on warning -o json` (with
// --deep if asked), through the binary when there is one, else through
// cmd.Run, and checks that the exit status agrees with the report.
func liveVerifyCommand(t *testing.T, dir, bin string, deep bool) liveRun {
	args := []string{"verify", "--fail-on", "warning", "-o", "json"}
	if deep {
		args = append(args, "--deep")
	}
	args = append(args, dir)
	r := liveRun{how: "Run"}
	var stdout, stderr bytes.Buffer
	if bin != "" {
		r.how = "binary"
		c := exec.Command(bin, args...)
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			r.exit = ee.ExitCode()
		default:
			r.err = err.Error()
			return r
		}
	} else {
		streams, out, errOut := cmd.TestStreams()
		r.exit = cmd.Run(context.Background(), streams, args)
		stdout, stderr = *out, *errOut
	}
	if deep {
		r.how += " --deep"
	}
	var rep inspect.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || len(rep.Groups) != 1 {
		r.err = fmt.Sprintf("exit %d, stdout is not a one-group report (%v): %.200q; stderr %.300q", r.exit, err, stdout.String(), stderr.String())
		return r
	}
	gr := rep.Groups[0]
	r.status, r.err, r.findings = gr.Status, gr.Err, gr.Findings
	want := cmd.ExitOK
	switch gr.Status {
	case inspect.StatusError, inspect.StatusWarning:
		want = cmd.ExitFindings
	case inspect.StatusUnknown:
		want = cmd.ExitNoVerdict
	}
	if r.exit != want {
		t.Errorf("%s: exit %d with status %s, want %d; stderr %.300q", r.how, r.exit, gr.Status, want, stderr.String())
	}
	return r
}

// liveSorted formats a count map in key order.
func liveSorted(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// liveSnapName matches the .snap file a finding's message names.
var liveSnapName = regexp.MustCompile(`[0-9a-f]{16}-[0-9a-f]{16}\.snap`)

// liveExplainRun looks at the files right after a run and says, for each
// error or warning and for a missing verdict, what changed since the run
// began: the evidence that the finding was a race with the writer.
func liveExplainRun(g inspect.Group, r *liveRun, began time.Time) {
	r.why = make([]string, len(r.findings))
	for k, f := range r.findings {
		if f.Severity.AtLeast(inspect.SeverityWarning) {
			r.why[k] = liveExplain(g, f, began)
		}
	}
	inUse := false
	for _, f := range r.findings {
		inUse = inUse || f.Code == inspect.CodeInUse
	}
	if !inUse && r.status != inspect.StatusUnknown {
		r.noLock = liveLockedNow(g)
	}
	if r.status == inspect.StatusUnknown || r.err != "" {
		r.noWhy = "other"
		if p := liveMissingPath(r.err); p != "" {
			if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
				r.noWhy = "a listed file is gone (purged between listing and reading)"
			} else {
				r.noWhy = "a listed file went missing and is back"
			}
		}
	}
}

// liveLockedNow lists which entries of the WAL directory a process holds a
// lock on now, according to /proc/locks.
func liveLockedNow(g inspect.Group) string {
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return "no /proc/locks"
	}
	type devIno struct{ major, minor, ino uint64 }
	locked := map[devIno]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] == "->" {
			continue
		}
		var d devIno
		if _, err := fmt.Sscanf(f[5], "%x:%x:%d", &d.major, &d.minor, &d.ino); err == nil {
			locked[d] = true
		}
	}
	entries, err := os.ReadDir(g.WALDir)
	if err != nil {
		return "unreadable WAL directory"
	}
	var wal, tmp int
	for _, e := range entries {
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join(g.WALDir, e.Name()), &st) != nil {
			continue
		}
		if !locked[devIno{uint64(unix.Major(st.Dev)), uint64(unix.Minor(st.Dev)), st.Ino}] {
			continue
		}
		if strings.HasSuffix(e.Name(), ".tmp") {
			tmp++
			continue
		}
		wal++
	}
	if wal == 0 {
		return fmt.Sprintf("%d-locked-tmp-and-no-segment", tmp)
	}
	return fmt.Sprintf("%d-locked-tmp,%d-locked-segments", tmp, wal)
}

// liveMissingPath extracts the path of a "no such file" error.
func liveMissingPath(msg string) string {
	if !strings.Contains(msg, "no such file") {
		return ""
	}
	for _, w := range strings.Fields(msg) {
		w = strings.TrimSuffix(w, ":")
		if strings.HasSuffix(w, ".wal") || strings.HasSuffix(w, ".snap") {
			return w
		}
	}
	return ""
}

// liveRecordAt scans segment path now and returns the type of the record
// that starts at off, "" if none.
func liveRecordAt(path string, off int64) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	segs := []inspect.Segment{{Path: path, Name: filepath.Base(path), Size: fi.Size()}}
	l, err := inspect.ReadLog(context.Background(), segs)
	if err != nil {
		return ""
	}
	kind := ""
	stop := errors.New("stop")
	_ = inspect.WalkRaw(context.Background(), segs, l, func(r *inspect.RawRecord) error {
		if r.Offset == off {
			kind = r.Kind.String()
		}
		if r.Offset >= off {
			return stop
		}
		return nil
	})
	return kind
}

// liveIsLast tells whether path is still the newest segment.
func liveIsLast(g inspect.Group, path string) bool {
	segs, _, err := inspect.ListSegments(g.WALDir)
	return err == nil && len(segs) > 0 && segs[len(segs)-1].Path == path
}

func liveExplain(g inspect.Group, f inspect.Finding, began time.Time) string {
	switch f.Code {
	case inspect.CodeZeroedRegion, inspect.CodeTornTail, inspect.CodeRecordMalformed, inspect.CodeCRCMismatch, inspect.CodeSegmentTruncated:
		if !strings.HasSuffix(f.File, ".wal") || f.Offset < 0 {
			return "other"
		}
		fi, err := os.Stat(f.File)
		if err != nil {
			return "segment gone since"
		}
		cut := ""
		if !liveIsLast(g, f.File) {
			cut = ", and the segment has been cut since"
		}
		grew := ""
		if strings.Contains(f.Message, "bytes left in the file") && fi.Size() > f.Offset {
			grew = ", past the size the scanner saw when it opened the file"
		}
		if typ := liveRecordAt(f.File, f.Offset); typ != "" {
			return fmt.Sprintf("a complete record starts at the reported offset now: the writer appended at the log's end between the reads%s%s|%s record", cut, grew, typ)
		}
		return "no record at the reported offset now" + cut
	case inspect.CodeSnapshotFileMissing:
		name := liveSnapName.FindString(f.Message)
		if name == "" {
			return "other"
		}
		fi, err := os.Stat(filepath.Join(g.SnapDir, name))
		switch {
		case err != nil:
			return "the .snap file is still missing"
		case fi.ModTime().After(began):
			return "the .snap file exists now, written after the run began: snap/ was listed before the WAL record (written after the file) was read"
		}
		return "the .snap file exists now, written before the run began"
	case inspect.CodeSnapshotOrphan, inspect.CodeLogTailMissing:
		fi, err := os.Stat(f.File)
		if err != nil {
			return "the .snap file is gone since (purged)"
		}
		when := "before the run began"
		if fi.ModTime().After(began) {
			when = "after the run began"
		}
		segs, _, err := inspect.ListSegments(g.WALDir)
		if err != nil {
			return "other"
		}
		l, err := inspect.ReadLog(context.Background(), segs)
		if err != nil {
			return "other"
		}
		for _, s := range l.Snapshots {
			if s.Index == f.Index {
				return fmt.Sprintf("the .snap file (written %s) has its WAL record now: the record was written after the WAL was listed or read", when)
			}
		}
		var near []uint64
		for _, s := range l.Snapshots {
			near = append(near, s.Index)
		}
		if len(near) > 4 {
			near = near[len(near)-4:]
		}
		return fmt.Sprintf("the .snap file (written %s) still has no WAL record|now: segments %s..%s, last index %d, stop %v, last snapshot records %v", when, segs[0].Name, segs[len(segs)-1].Name, l.LastIndex, l.Stop, near)
	case inspect.CodeSnapshotCorrupt:
		fi, err := os.Stat(f.File)
		switch {
		case err != nil && strings.Contains(f.Message, "no such file"):
			return "the .snap file was listed, then purged before it was read"
		case err != nil:
			return "the .snap file is gone since (purged), it could not be read: " + liveShort(f.Message)
		}
		if _, err := snap.Read(zap.NewNop(), f.File); err == nil {
			when := "before"
			if fi.ModTime().After(began) {
				when = "after"
			}
			return fmt.Sprintf("the .snap file reads fine now (last written %s the run began): it was read while etcd wrote it in place (%s)", when, liveShort(f.Message))
		}
		return "the .snap file is still unreadable"
	}
	return "not explained"
}

// liveShort keeps the part of a message after its last colon.
func liveShort(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
