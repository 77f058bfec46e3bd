package inspect

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// FleetReportSchemaVersion is the version of the FleetReport JSON schema.
const FleetReportSchemaVersion = 1

// FleetInput is one document given to raftctl report: a host's summary
// (raftctl summary) or verify report (raftctl verify -o json or -o jsonl).
type FleetInput struct {
	// Server names the host: the summary's server, or for a verify report
	// the name of the file it came from.
	Server  string
	Summary *HostSummary
	Verify  *Report
}

// FleetReport is the merged verdict over many hosts: one entry per group
// (per cluster, for etcd members), every replica's status, the pairing
// and divergence from the summaries, and the worst status.
type FleetReport struct {
	SchemaVersion int                 `json:"schema_version"`
	Groups        []*FleetReportGroup `json:"groups"`
	Summary       FleetReportSummary  `json:"summary"`
}

// FleetReportSummary counts groups by their worst status.
type FleetReportSummary struct {
	Groups   int `json:"groups"`
	Replicas int `json:"replicas"`
	OK       int `json:"ok"`
	Warning  int `json:"warning"`
	Error    int `json:"error"`
	Unknown  int `json:"unknown"`
}

// FleetReportGroup is the verdict on one group.
type FleetReportGroup struct {
	Name      string `json:"name"`
	ClusterID string `json:"cluster_id,omitempty"`
	// Status is the worst of the replicas' statuses and of the group's
	// own problems (a safety violation, no replica to recover from):
	// ok, warning, error, or unknown when a replica has no verdict.
	Status   string               `json:"status"`
	Replicas []FleetReportReplica `json:"replicas"`
	// Divergence, ProvenCommit, Violations, Recommended and Reason are
	// compare's, over the replicas given as summaries (see Comparison).
	Divergence   []Divergence `json:"divergence"`
	ProvenCommit uint64       `json:"proven_commit"`
	Violations   []string     `json:"violations"`
	Recommended  string       `json:"recommended,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	// Problems say why the status is not ok, one sentence each.
	Problems []string `json:"problems"`
	Notes    []string `json:"notes"`
}

// FleetReportReplica is one replica's state.
type FleetReportReplica struct {
	Server string `json:"server"`
	// Source is "summary" or "verify": what the host sent.
	Source   string `json:"source"`
	MemberID string `json:"member_id,omitempty"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
	// Findings are verify's codes at warning or error.
	Findings []string `json:"findings"`
	// LastIndex, LastTerm and Commit are known from summaries only.
	LastIndex uint64 `json:"last_index,omitempty"`
	LastTerm  uint64 `json:"last_term,omitempty"`
	Commit    uint64 `json:"commit,omitempty"`
}

// statusRank orders statuses for the worst one.
func statusRank(s string) int {
	switch s {
	case StatusOK:
		return 0
	case StatusWarning:
		return 1
	case StatusUnknown:
		return 2
	case StatusError:
		return 3
	}
	return 2
}

func worse(a, b string) string {
	if statusRank(b) > statusRank(a) {
		return b
	}
	return a
}

// BuildFleetReport merges the inputs: the summaries are compared as
// raftctl compare does (paired by cluster ID or group name), the verify
// reports' groups join the group of the same name (or make their own). It
// returns an error only when ctx is cancelled or a summary's group has no
// log to compare.
func BuildFleetReport(ctx context.Context, inputs []FleetInput) (*FleetReport, error) {
	b := &fleetBuilder{rep: &FleetReport{SchemaVersion: FleetReportSchemaVersion, Groups: []*FleetReportGroup{}}, byName: map[string]*FleetReportGroup{}}
	srcs, noLog := fleetSummarySources(inputs)
	if len(srcs) > 0 {
		comps, err := CompareSources(ctx, srcs, VerifyOptions{})
		if err != nil {
			return nil, err
		}
		for _, c := range comps {
			b.addComparison(c)
		}
	}
	for _, r := range noLog {
		g := b.group(r.group)
		g.Replicas = append(g.Replicas, r.replica)
	}
	b.addVerifyReports(inputs)
	rep := b.rep
	for _, g := range rep.Groups {
		judgeFleetGroup(g)
		rep.Summary.add(g)
	}
	sort.SliceStable(rep.Groups, func(i, j int) bool {
		if rep.Groups[i].Name != rep.Groups[j].Name {
			return rep.Groups[i].Name < rep.Groups[j].Name
		}
		return rep.Groups[i].ClusterID < rep.Groups[j].ClusterID
	})
	rep.Summary.Groups = len(rep.Groups)
	return rep, nil
}

// noLogReplica is a summary's group without a log: a replica without a
// verdict, in the group of that name.
type noLogReplica struct {
	group   string
	replica FleetReportReplica
}

// fleetSummarySources splits the summaries' groups: those with a log,
// to compare (a CompareSource per host), and those without, in order.
func fleetSummarySources(inputs []FleetInput) ([]CompareSource, []noLogReplica) {
	var srcs []CompareSource
	var noLog []noLogReplica
	for _, in := range inputs {
		if in.Summary == nil {
			continue
		}
		var gs []*FleetGroup
		for _, g := range in.Summary.Groups {
			if g.NoLog {
				noLog = append(noLog, noLogReplica{group: g.Name, replica: FleetReportReplica{Server: in.Server, Source: "summary", Status: StatusUnknown, Error: g.Err, Findings: codesAtWarning(g.Findings)}})
				continue
			}
			gs = append(gs, g)
		}
		if len(gs) > 0 {
			srcs = append(srcs, CompareSource{Server: in.Server, Summary: in.Summary, SummaryGroups: gs})
		}
	}
	return srcs, noLog
}

// fleetBuilder gathers the report's groups; byName is the first group of
// each name, which replicas without a cluster ID join.
type fleetBuilder struct {
	rep    *FleetReport
	byName map[string]*FleetReportGroup
}

// addComparison adds the group that compare found, its replicas from the
// summaries, and its violations and lack of a replica to recover from as
// problems.
func (b *fleetBuilder) addComparison(c *Comparison) {
	g := &FleetReportGroup{Name: c.Name, ClusterID: c.ClusterID, Replicas: []FleetReportReplica{}, Divergence: c.Pairs,
		ProvenCommit: c.ProvenCommit, Violations: c.Violations, Recommended: c.Recommended, Reason: c.Reason, Notes: c.Notes}
	for _, r := range c.Replicas {
		g.Replicas = append(g.Replicas, FleetReportReplica{Server: r.Server, Source: "summary", MemberID: r.MemberID, Status: r.Status,
			Findings: r.Findings, LastIndex: r.LastIndex, LastTerm: r.LastTerm, Commit: r.HardState.Commit})
	}
	for _, v := range c.Violations {
		g.Problems = append(g.Problems, "safety violation: "+v)
	}
	if !c.Single && c.Recommended == "" && len(c.Violations) == 0 {
		g.Problems = append(g.Problems, "no replica to recover from: "+c.Reason)
	}
	b.rep.Groups = append(b.rep.Groups, g)
	if _, dup := b.byName[c.Name]; !dup {
		b.byName[c.Name] = g
	}
}

// group returns the group named name, added empty when there is none.
func (b *fleetBuilder) group(name string) *FleetReportGroup {
	g, ok := b.byName[name]
	if !ok {
		g = &FleetReportGroup{Name: name, Replicas: []FleetReportReplica{}, Divergence: []Divergence{}, Violations: []string{}, Notes: []string{}}
		b.byName[name] = g
		b.rep.Groups = append(b.rep.Groups, g)
	}
	return g
}

// addVerifyReports adds each verify report's groups as replicas of the
// groups of the same name.
func (b *fleetBuilder) addVerifyReports(inputs []FleetInput) {
	for _, in := range inputs {
		if in.Verify == nil {
			continue
		}
		for _, gr := range in.Verify.Groups {
			if gr == nil {
				continue
			}
			g := b.group(gr.Name)
			g.Replicas = append(g.Replicas, FleetReportReplica{Server: in.Server, Source: "verify", Status: gr.Status, Error: gr.Err, Findings: codesAtWarning(gr.Findings)})
		}
	}
}

// judgeFleetGroup sets a group's status, the worst of its replicas',
// raised to error by a safety violation or no replica to recover from,
// and adds each replica that is not ok to its problems.
func judgeFleetGroup(g *FleetReportGroup) {
	g.Status = StatusOK
	for _, r := range g.Replicas {
		g.Status = worse(g.Status, r.Status)
		if r.Status != StatusOK {
			why := r.Status
			if len(r.Findings) > 0 {
				why += " (" + strings.Join(r.Findings, ", ") + ")"
			}
			if r.Error != "" {
				why += ": " + r.Error
			}
			g.Problems = append(g.Problems, r.Server+": "+why)
		}
	}
	if len(g.Violations) > 0 || (g.Recommended == "" && g.Reason != "") {
		g.Status = worse(g.Status, StatusError)
	}
	if g.Problems == nil {
		g.Problems = []string{}
	}
}

// add counts a judged group's replicas and its status.
func (s *FleetReportSummary) add(g *FleetReportGroup) {
	s.Replicas += len(g.Replicas)
	switch g.Status {
	case StatusOK:
		s.OK++
	case StatusWarning:
		s.Warning++
	case StatusError:
		s.Error++
	default:
		s.Unknown++
	}
}

// Has reports whether a group's status is at least sev (error or
// warning).
func (r *FleetReport) Has(sev Severity) bool {
	for _, g := range r.Groups {
		if (g.Status == StatusError || g.Status == StatusWarning) && Severity(g.Status).AtLeast(sev) {
			return true
		}
	}
	return false
}

// NoVerdict lists the replicas without a verdict, as "server: group".
func (r *FleetReport) NoVerdict() []string {
	var out []string
	for _, g := range r.Groups {
		for _, rp := range g.Replicas {
			if rp.Status == StatusUnknown {
				out = append(out, fmt.Sprintf("%s: group %s: %s", rp.Server, g.Name, rp.Error))
			}
		}
	}
	return out
}

func codesAtWarning(fs []Finding) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, f := range fs {
		if f.Severity.AtLeast(SeverityWarning) && !seen[f.Code] {
			seen[f.Code] = true
			out = append(out, f.Code)
		}
	}
	return out
}
