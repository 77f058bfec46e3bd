package cmd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

func init() { extraCommands = append(extraCommands, newVerifyCmd) }

// failOnNever turns --fail-on off.
const failOnNever = "never"

// modeJUnit is verify's extra output mode.
const modeJUnit = "junit"

type verifyOptions struct {
	sel      selector
	parallel int
	deep     bool
	failOn   string
}

func newVerifyCmd(g *globals) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [PATH...]",
		Short: "Check every group's WAL and snapshots: what is wrong, how badly, and what fixes it",
		Long: `Check every Raft group found under each PATH and report each problem as a
finding with a code, a severity, the file, byte offset and raft index
concerned, a message and, where a raftctl command fixes it, a hint naming it.

raftctl reads every record of every segment, not only those after the newest
snapshot, with etcd's own decoding rules, and after a damaged record resumes
at the next segment so that all damage is found. It checks segment names and
sequence numbers; CRCs and the CRC chain; what lies beyond the end of the log
in each segment (preallocated zeros, a torn write, or zeroed bytes with valid
records after them); the effective log (index gaps, term regressions,
overwritten entries); the HardState against the log; the .snap files against
the WAL's snapshot records and the log, and whether etcd could restart from
them; and whether a live process holds the WAL's locks.

Severities: error (etcd cannot restart from this storage as it is, or would
restart with a different log than it acknowledged), warning (it restarts, but
something is off, usually mendable with raftctl repair), info (facts such as
overwritten entries or a WAL in use). A group's status is its worst finding,
info not counting, or "unknown" when an I/O or permission error stopped the
checks. The codes never change meaning; -o json lists them with their
severities, messages and hints.

--deep also restarts each group in memory with the raft library (snapshot,
HardState and every entry after the snapshot in a raft.MemoryStorage, then
raft.NewRawNode) and reports raft's refusal as raft-restart; it holds each
group's entries in memory, the default mode does not.

-o table (on a terminal) shows one row per group, then each finding; -o plain
one tab-separated line per finding (group, severity, code, file, offset,
index, message, hint) and one per clean group; -o json the whole report
(schema_version 1), -o jsonl one group per line; -o junit a JUnit XML report
with one test case per group, failed by the findings at or above --fail-on.
A progress line goes to stderr, only on a terminal and not with -q: groups
and bytes done, the read rate and the time taken so far.

Exit status: 0 when no finding is at or above --fail-on (error by default;
never: always 0 once every group has a verdict); 1 when some finding is; 3
when some group could not be verified (stderr names them and why), whatever
the others hold; 130 when interrupted.

` + dirsHelp + `

Read-only: never changes a byte and takes no lock (locks are read from
/proc/locks, or probed with F_OFD_GETLK, which takes none). raftctl help
findings prints the catalogue below on its own.

` + findingCatalogue() + exitStatusHelp(),
		Example: `  $ raftctl verify testdata/sample
  $ raftctl verify testdata/sample --group 'node-1/*' --deep
  $ raftctl verify testdata/sample --fail-on warning -o json
  $ raftctl verify testdata/sample -o junit --fail-on never`,
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	o.sel.addFlags(cmd)
	o.sel.addDirFlags(cmd)
	f := cmd.Flags()
	f.IntVar(&o.parallel, "parallel", 0, "groups checked at once (default: the number of CPUs)")
	f.BoolVar(&o.deep, "deep", false, "also restart each group in memory with the raft library (memory grows with the log)")
	f.StringVar(&o.failOn, "fail-on", string(inspect.SeverityError), "exit 1 when a finding is at or above this severity: error, warning or never")
	return cmd
}

func (o *verifyOptions) validate() (inspect.Severity, error) {
	if o.parallel < 0 {
		return "", usageErrorf("--parallel %d: want 0 (one per CPU) or more", o.parallel)
	}
	return parseFailOn(o.failOn)
}

// parseFailOn reads --fail-on: error, warning, or never ("").
func parseFailOn(s string) (inspect.Severity, error) {
	switch s {
	case string(inspect.SeverityError), string(inspect.SeverityWarning):
		return inspect.Severity(s), nil
	case failOnNever:
		return "", nil
	}
	return "", usageErrorf("--fail-on %q: want error, warning or never", s)
}

func (o *verifyOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode(modeJUnit)
	if err != nil {
		return err
	}
	failOn, err := o.validate()
	if err != nil {
		return err
	}
	groups, err := o.sel.groups(g, args)
	if err != nil {
		return err
	}
	opts := inspect.VerifyOptions{Deep: o.deep, Parallel: o.parallel}
	var prog *verifyProgress
	if g.io.ErrTTY && !g.quiet {
		prog = newVerifyProgress(g.io.ErrOut)
		opts.Progress = prog.update
	}
	rep, err := inspect.VerifyAll(cmd.Context(), groups, opts)
	prog.clear()
	if err != nil {
		return err
	}
	err = renderDoc(g, mode, rep, rep.Groups, func() error {
		switch mode {
		case modeJUnit:
			return writeJUnit(g.io.Out, rep, failOn)
		case format.ModePlain:
			return renderVerifyPlain(g, rep)
		}
		return renderVerifyTable(g, mode, rep)
	})
	if err != nil {
		return err
	}
	var nvErr error
	if nv := rep.NoVerdict(); len(nv) > 0 {
		names := make([]string, len(nv))
		for k, gr := range nv {
			names[k] = gr.Name
			if k > 0 {
				fmt.Fprintf(g.io.ErrOut, "raftctl: group %s: could not reach a verdict: %s\n", gr.Name, gr.Err)
			}
		}
		nvErr = fmt.Errorf("could not reach a verdict for %d group(s): %s (group %s: %s)", len(nv), strings.Join(names, ", "), nv[0].Name, nv[0].Err)
	}
	return verdictError(nvErr, failOn != "" && rep.Has(failOn))
}

// verifyProgress keeps one line on stderr up to date.
// verifyProgress is the progress line of verify on a terminal: groups
// and bytes done, the rate and the time taken, redrawn every
// progressTick so that it moves while a long group is read.
type verifyProgress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	last  inspect.Progress
	width int
	stop  chan struct{}
	done  chan struct{}
}

const progressTick = 250 * time.Millisecond

func newVerifyProgress(w io.Writer) *verifyProgress {
	p := &verifyProgress{w: w, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *verifyProgress) update(pr inspect.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = pr
	p.draw()
}

// draw writes the line; p.mu is held.
func (p *verifyProgress) draw() {
	pr := p.last
	el := time.Since(p.start)
	rate := ""
	if s := el.Seconds(); s >= 0.5 && pr.BytesRead > 0 {
		rate = fmt.Sprintf(", %s/s", format.Bytes(int64(float64(pr.BytesRead)/s)))
	}
	line := fmt.Sprintf("verify: %d/%d groups, %s of %s%s, %s", pr.GroupsDone, pr.Groups, format.Bytes(pr.BytesRead),
		format.Bytes(pr.BytesTotal), rate, el.Truncate(time.Second))
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

func (p *verifyProgress) clear() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
	if p.width == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
}

func severityCell(sc *format.Scheme, s string) string {
	switch s {
	case string(inspect.SeverityError):
		return sc.Err(s)
	case string(inspect.SeverityWarning):
		return sc.Warn(s)
	case string(inspect.SeverityInfo):
		return sc.Info(s)
	case inspect.StatusOK:
		return sc.OK(s)
	}
	return sc.Err(s)
}

func findingWhere(f inspect.Finding) string {
	if f.File == "" {
		return "-"
	}
	w := filepath.Base(f.File)
	if f.Offset >= 0 {
		w += " offset " + strconv.FormatInt(f.Offset, 10)
	}
	return w
}

// renderVerifyTable shows one row per group, then every finding with its
// message and hint, then the summary (renderTableReport).
func renderVerifyTable(g *globals, mode format.Mode, rep *inspect.Report) error {
	sc := g.scheme(mode)
	t := &format.Table{Headers: []string{"group", "status", "findings"}, Truncatable: []bool{true, false, true}, Key: []bool{true}}
	for _, gr := range rep.Groups {
		var codes []string
		seen := map[string]bool{}
		for _, f := range gr.Findings {
			if !seen[f.Code] {
				seen[f.Code] = true
				codes = append(codes, f.Code)
			}
		}
		if gr.Err != "" {
			codes = append(codes, "no verdict")
		}
		t.Rows = append(t.Rows, []string{gr.Name, severityCell(sc, gr.Status), strings.Join(codes, " ")})
	}
	details := func(buf *bytes.Buffer) {
		for _, gr := range rep.Groups {
			if gr.Status == inspect.StatusOK {
				// Only info: the codes in the table say enough.
				continue
			}
			writeGroupHeading(buf, sc, gr.Name, gr.Status)
			if gr.Err != "" {
				fmt.Fprintf(buf, "  %s could not reach a verdict: %s\n", sc.Err("unknown"), gr.Err)
			}
			for _, f := range gr.Findings {
				writeFindingDetail(buf, sc, f)
			}
		}
	}
	s := rep.Summary
	return renderTableReport(g, mode, t, details, fmt.Sprintf("%d group(s): %d ok, %d warning, %d error", s.Groups, s.OK, s.Warning, s.Error), s.Unknown)
}

// writeFindingDetail writes a finding in the detail section of the
// table: severity, code, where, then its message and hint.
func writeFindingDetail(buf *bytes.Buffer, sc *format.Scheme, f inspect.Finding) {
	fmt.Fprintf(buf, "  %s %s  %s", severityCell(sc, string(f.Severity)), sc.Bold(f.Code), findingWhere(f))
	if f.Index != 0 {
		fmt.Fprintf(buf, " index %d", f.Index)
	}
	fmt.Fprintf(buf, "\n    %s\n", f.Message)
	if f.Hint != "" {
		fmt.Fprintf(buf, "    %s %s\n", sc.Dim("fix:"), f.Hint)
	}
}

// renderTableReport is the -o table layout of verify and report: the
// table of groups, then details (each group with something to say, under
// writeGroupHeading), then a blank line and the summary line, with the
// count of groups or replicas without a verdict when there are any.
func renderTableReport(g *globals, mode format.Mode, t *format.Table, details func(*bytes.Buffer), summary string, unknown int) error {
	var buf bytes.Buffer
	if err := t.Render(&buf, mode, format.TableOptions{Width: g.io.Width}); err != nil {
		return err
	}
	details(&buf)
	buf.WriteString("\n" + summary)
	if unknown > 0 {
		fmt.Fprintf(&buf, ", %d without a verdict", unknown)
	}
	buf.WriteString("\n")
	_, err := g.io.Out.Write(buf.Bytes())
	return err
}

// writeGroupHeading opens a group's details: a blank line, then its name
// in bold and its status.
func writeGroupHeading(buf *bytes.Buffer, sc *format.Scheme, name, status string) {
	fmt.Fprintf(buf, "\n%s: %s\n", sc.Bold(name), severityCell(sc, status))
}

// renderVerifyPlain writes one tab-separated line per finding (group,
// severity, code, file, offset, index, message, hint) and one per group
// without findings (group, status).
func renderVerifyPlain(g *globals, rep *inspect.Report) error {
	t := &format.Table{}
	for _, gr := range rep.Groups {
		if gr.Err != "" {
			t.Rows = append(t.Rows, []string{gr.Name, inspect.StatusUnknown, "", "", "", "", gr.Err, ""})
		}
		if len(gr.Findings) == 0 && gr.Err == "" {
			t.Rows = append(t.Rows, []string{gr.Name, gr.Status, "", "", "", "", "", ""})
		}
		for _, f := range gr.Findings {
			t.Rows = append(t.Rows, []string{gr.Name, string(f.Severity), f.Code, f.File, strconv.FormatInt(f.Offset, 10), u64(f.Index), f.Message, f.Hint})
		}
	}
	return t.Render(g.io.Out, format.ModePlain, format.TableOptions{})
}

// JUnit XML, as Jenkins, GitLab and GitHub read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func junitFinding(f inspect.Finding) string {
	s := fmt.Sprintf("%s %s at %s", f.Severity, f.Code, findingWhere(f))
	if f.Index != 0 {
		s += fmt.Sprintf(" index %d", f.Index)
	}
	s += ": " + f.Message
	if f.Hint != "" {
		s += "\n  fix: " + f.Hint
	}
	return s
}

// writeJUnit writes one test case per group: failed by its findings at or
// above failOn (all of them listed in the failure, one per line), in
// error when it has no verdict; findings below failOn go to system-out.
func writeJUnit(w io.Writer, rep *inspect.Report, failOn inspect.Severity) error {
	suite := junitSuite{Name: "raftctl verify", Tests: len(rep.Groups)}
	for _, gr := range rep.Groups {
		c := junitCase{Name: gr.Name, ClassName: "raftctl.verify"}
		var failing, other []string
		var codes []string
		for _, f := range gr.Findings {
			if failOn != "" && f.Severity.AtLeast(failOn) {
				failing = append(failing, junitFinding(f))
				codes = append(codes, f.Code)
			} else {
				other = append(other, junitFinding(f))
			}
		}
		switch {
		case gr.Err != "":
			c.Error = &junitProblem{Message: "could not reach a verdict: " + gr.Err, Type: inspect.StatusUnknown, Text: strings.Join(append(failing, other...), "\n")}
			suite.Errors++
		case len(failing) > 0:
			c.Failure = &junitProblem{Message: fmt.Sprintf("%s: %s", gr.Status, strings.Join(codes, ", ")), Type: string(gr.Worst()), Text: strings.Join(failing, "\n")}
			suite.Failures++
			if len(other) > 0 {
				c.SystemOut = strings.Join(other, "\n")
			}
		default:
			c.SystemOut = strings.Join(other, "\n")
		}
		suite.Cases = append(suite.Cases, c)
	}
	return writeJUnitSuite(w, suite)
}

// writeJUnitSuite writes suite as a JUnit XML document (an XML header,
// <testsuites> holding the one suite, with its counts), indented.
func writeJUnitSuite(w io.Writer, suite junitSuite) error {
	doc := junitSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
