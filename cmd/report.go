package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
	"github.com/raftctl/raftctl/inspect"
)

func init() { extraCommands = append(extraCommands, newReportCmd) }

// modeMarkdown is report's extra output mode.
const modeMarkdown = "markdown"

type reportOptions struct {
	failOn string
}

func newReportCmd(g *globals) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report FILE...",
		Short: "Merge many hosts' summaries and verify reports into one verdict per group",
		Long: `Merge the outputs of raftctl summary -o json and raftctl verify -o json (or
-o jsonl) collected from many hosts into one verdict per group: every
replica's status and findings, how the replicas pair and diverge (from the
summaries: compare's analysis, without the WALs), and the group's worst
status. A group's status is the worst of its replicas' statuses, raised to
error by a safety violation (replicas disagree on committed entries, or hold
different bytes under the same index and term) or when no replica can be
recovered from.

Summaries name their host themselves (raftctl summary --server); a verify
report is named after its file (host-1.json is host-1). Summaries pair
replicas by etcd cluster ID or by group path, as compare does; verify
reports' groups join the group of the same name.

-o table shows one row per group, then the problems; -o plain one
tab-separated line per replica; -o json the merged report (schema_version 1),
-o jsonl one group per line; -o junit one test case per group, failed at or
above --fail-on; -o markdown a table for a CI job summary (for example
>> "$GITHUB_STEP_SUMMARY").

Exit status: 0 when no group's status is at or above --fail-on (error by
default; never: always 0 once every replica has a verdict); 1 when some is;
2 when a FILE is not a summary or verify report; 3 when some replica has no
verdict (its host could not read it).

` + exitStatusHelp(),
		Example: `  $ raftctl report testdata/fleet/node-1.json testdata/fleet/node-2.json testdata/fleet/node-3.json
  $ raftctl report testdata/fleet/node-1.json testdata/fleet/node-4.json --fail-on warning -o junit > report.xml
  $ raftctl report testdata/fleet/node-1.json testdata/fleet/node-2.json -o markdown`,
		Args: cobra.MinimumNArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, args) }),
	}
	cmd.Flags().StringVar(&o.failOn, "fail-on", string(inspect.SeverityError), "exit 1 when a group's status is at or above this: error, warning or never")
	return cmd
}

func (o *reportOptions) run(cmd *cobra.Command, g *globals, args []string) error {
	mode, err := g.mode(modeJUnit, modeMarkdown)
	if err != nil {
		return err
	}
	failOn, err := parseFailOn(o.failOn)
	if err != nil {
		return err
	}
	var inputs []inspect.FleetInput
	for _, p := range args {
		in, err := readFleetFile(p)
		if err != nil {
			return err
		}
		inputs = append(inputs, in...)
	}
	seen := map[string]string{}
	for _, in := range inputs {
		if prev, ok := seen[in.Server]; ok {
			return usageErrorf("host %s appears twice (%s and %s): name hosts apart (raftctl summary --server, or distinct verify report file names)", in.Server, prev, in.Server)
		}
		seen[in.Server] = in.Server
	}
	rep, err := inspect.BuildFleetReport(cmd.Context(), inputs)
	if err != nil {
		return err
	}
	err = renderDoc(g, mode, rep, rep.Groups, func() error {
		switch mode {
		case modeJUnit:
			return writeReportJUnit(g.io.Out, rep, failOn)
		case modeMarkdown:
			return writeReportMarkdown(g.io.Out, rep)
		case format.ModePlain:
			return renderReportPlain(g, rep)
		}
		return renderReportTable(g, mode, rep)
	})
	if err != nil {
		return err
	}
	var nvErr error
	if nv := rep.NoVerdict(); len(nv) > 0 {
		nvErr = fmt.Errorf("%d replica(s) without a verdict: %s", len(nv), strings.Join(nv, "; "))
	}
	return verdictError(nvErr, failOn != "" && rep.Has(failOn))
}

// readFleetFile reads every summary and verify report in a file: JSON
// documents one after the other, or one per line (a verify -o jsonl file
// is one report).
func readFleetFile(p string) ([]inspect.FleetInput, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, notFound(p)
		}
		return nil, describeFSError(err)
	}
	host := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []inspect.FleetInput
	var lines *inspect.Report
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, usageErrorf("%s: not a raftctl summary or verify report: %v", p, err)
		}
		var probe struct {
			Kind    string          `json:"kind"`
			Groups  json.RawMessage `json:"groups"`
			Summary json.RawMessage `json:"summary"`
			WALDir  *string         `json:"wal_dir"`
			Status  *string         `json:"status"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, usageErrorf("%s: not a raftctl summary or verify report: %v", p, err)
		}
		switch {
		case probe.Kind == inspect.HostSummaryKind:
			s, err := inspect.ReadHostSummary(bytes.NewReader(raw))
			if err != nil {
				return nil, usageErrorf("%s: %v", p, err)
			}
			out = append(out, inspect.FleetInput{Server: s.Server, Summary: s})
		case probe.Groups != nil && probe.Summary != nil:
			var r inspect.Report
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, usageErrorf("%s: not a verify report: %v", p, err)
			}
			out = append(out, inspect.FleetInput{Server: host, Verify: &r})
		case probe.WALDir != nil && probe.Status != nil:
			var gr inspect.GroupReport
			if err := json.Unmarshal(raw, &gr); err != nil {
				return nil, usageErrorf("%s: not a verify report line: %v", p, err)
			}
			if lines == nil {
				lines = &inspect.Report{}
				out = append(out, inspect.FleetInput{Server: host, Verify: lines})
			}
			lines.Groups = append(lines.Groups, &gr)
		default:
			return nil, usageErrorf("%s: not a raftctl summary (summary -o json) or verify report (verify -o json)", p)
		}
	}
	if len(out) == 0 {
		return nil, usageErrorf("%s: empty", p)
	}
	// Several verify reports in one file are one host's.
	return out, nil
}

// renderReportTable shows one row per group (its replicas' statuses),
// then each group's problems and divergences, then the summary
// (renderTableReport, as verify's table).
func renderReportTable(g *globals, mode format.Mode, rep *inspect.FleetReport) error {
	sc := g.scheme(mode)
	t := &format.Table{Headers: []string{"group", "cluster", "replicas", "status", "recommended"},
		Truncatable: []bool{true, false, false, false, true}, Key: []bool{true}, Drop: []int{4, 1}}
	for _, gr := range rep.Groups {
		var reps []string
		for _, r := range gr.Replicas {
			reps = append(reps, r.Status)
		}
		t.Rows = append(t.Rows, []string{gr.Name, orDash(gr.ClusterID), fmt.Sprintf("%d (%s)", len(gr.Replicas), strings.Join(reps, " ")), severityCell(sc, gr.Status), orDash(gr.Recommended)})
	}
	details := func(buf *bytes.Buffer) {
		for _, gr := range rep.Groups {
			if len(gr.Problems) == 0 {
				continue
			}
			writeGroupHeading(buf, sc, gr.Name, gr.Status)
			for _, p := range gr.Problems {
				fmt.Fprintf(buf, "  %s\n", p)
			}
			for _, d := range gr.Divergence {
				if d.Index != 0 {
					fmt.Fprintf(buf, "  %s ~ %s: diverge at index %d (terms %d and %d)\n", d.A, d.B, d.Index, d.TermA, d.TermB)
				}
			}
		}
	}
	s := rep.Summary
	return renderTableReport(g, mode, t, details, fmt.Sprintf("%d group(s), %d replica(s): %d ok, %d warning, %d error", s.Groups, s.Replicas, s.OK, s.Warning, s.Error), s.Unknown)
}

// renderReportPlain writes one tab-separated line per replica: group,
// cluster, server, source, status, findings, group status.
func renderReportPlain(g *globals, rep *inspect.FleetReport) error {
	t := &format.Table{}
	for _, gr := range rep.Groups {
		for _, r := range gr.Replicas {
			t.Rows = append(t.Rows, []string{gr.Name, orDash(gr.ClusterID), r.Server, r.Source, r.Status, strings.Join(r.Findings, ","), gr.Status})
		}
	}
	return t.Render(g.io.Out, format.ModePlain, format.TableOptions{})
}

// writeReportJUnit writes one test case per group, failed when its status
// is at or above failOn, in error when a replica has no verdict.
func writeReportJUnit(w io.Writer, rep *inspect.FleetReport, failOn inspect.Severity) error {
	suite := junitSuite{Name: "raftctl report", Tests: len(rep.Groups)}
	for _, gr := range rep.Groups {
		name := gr.Name
		if gr.ClusterID != "" && !strings.Contains(name, gr.ClusterID) {
			name += " (cluster " + gr.ClusterID + ")"
		}
		c := junitCase{Name: name, ClassName: "raftctl.report"}
		var lines []string
		for _, r := range gr.Replicas {
			lines = append(lines, strings.TrimSpace(fmt.Sprintf("%s: %s %s", r.Server, r.Status, strings.Join(r.Findings, ","))))
		}
		text := strings.Join(append(append([]string{}, gr.Problems...), lines...), "\n")
		failing := failOn != "" && (gr.Status == inspect.StatusError || gr.Status == inspect.StatusWarning) && inspect.Severity(gr.Status).AtLeast(failOn)
		switch {
		case gr.Status == inspect.StatusUnknown:
			c.Error = &junitProblem{Message: "a replica has no verdict", Type: inspect.StatusUnknown, Text: text}
			suite.Errors++
		case failing:
			c.Failure = &junitProblem{Message: gr.Status + ": " + strings.Join(gr.Problems, "; "), Type: gr.Status, Text: text}
			suite.Failures++
		default:
			c.SystemOut = text
		}
		suite.Cases = append(suite.Cases, c)
	}
	return writeJUnitSuite(w, suite)
}

// mdCell escapes a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// writeReportMarkdown writes a summary line, one table row per group and
// the problems, for a CI job summary.
func writeReportMarkdown(w io.Writer, rep *inspect.FleetReport) error {
	var b bytes.Buffer
	s := rep.Summary
	fmt.Fprintf(&b, "## raftctl report\n\n%d group(s), %d replica(s): %d ok, %d warning, %d error, %d without a verdict\n\n", s.Groups, s.Replicas, s.OK, s.Warning, s.Error, s.Unknown)
	b.WriteString("| group | cluster | status | replicas | recommended |\n|---|---|---|---|---|\n")
	for _, gr := range rep.Groups {
		var reps []string
		for _, r := range gr.Replicas {
			cell := r.Server + ": " + r.Status
			if len(r.Findings) > 0 {
				cell += " (" + strings.Join(r.Findings, ", ") + ")"
			}
			reps = append(reps, cell)
		}
		fmt.Fprintf(&b, "| %s | %s | **%s** | %s | %s |\n", mdCell(gr.Name), mdCell(orDash(gr.ClusterID)), gr.Status, mdCell(strings.Join(reps, "<br>")), mdCell(orDash(gr.Recommended)))
	}
	for _, gr := range rep.Groups {
		if len(gr.Problems) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s: %s\n\n", mdCell(gr.Name), gr.Status)
		for _, p := range gr.Problems {
			fmt.Fprintf(&b, "- %s\n", mdCell(p))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
