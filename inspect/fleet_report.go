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
	rep := &FleetReport{SchemaVersion: FleetReportSchemaVersion, Groups: []*FleetReportGroup{}}
	var srcs []CompareSource
	byName := map[string]*FleetReportGroup{}
	var noLog []FleetReportReplica
	var noLogNames []string
	for _, in := range inputs {
		if in.Summary == nil {
			continue
		}
		var gs []*FleetGroup
		for _, g := range in.Summary.Groups {
			if g.NoLog {
				noLog = append(noLog, FleetReportReplica{Server: in.Server, Source: "summary", Status: StatusUnknown, Error: g.Err, Findings: codesAtWarning(g.Findings)})
				noLogNames = append(noLogNames, g.Name)
				continue
			}
			gs = append(gs, g)
		}
		if len(gs) > 0 {
			srcs = append(srcs, CompareSource{Server: in.Server, Summary: in.Summary, SummaryGroups: gs})
		}
	}
	if len(srcs) > 0 {
		comps, err := CompareSources(ctx, srcs, VerifyOptions{})
		if err != nil {
			return nil, err
		}
		for _, c := range comps {
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
			rep.Groups = append(rep.Groups, g)
			if _, dup := byName[c.Name]; !dup {
				byName[c.Name] = g
			}
		}
	}
	group := func(name string) *FleetReportGroup {
		g, ok := byName[name]
		if !ok {
			g = &FleetReportGroup{Name: name, Replicas: []FleetReportReplica{}, Divergence: []Divergence{}, Violations: []string{}, Notes: []string{}}
			byName[name] = g
			rep.Groups = append(rep.Groups, g)
		}
		return g
	}
	for k, r := range noLog {
		g := group(noLogNames[k])
		g.Replicas = append(g.Replicas, r)
	}
	for _, in := range inputs {
		if in.Verify == nil {
			continue
		}
		for _, gr := range in.Verify.Groups {
			if gr == nil {
				continue
			}
			g := group(gr.Name)
			g.Replicas = append(g.Replicas, FleetReportReplica{Server: in.Server, Source: "verify", Status: gr.Status, Error: gr.Err, Findings: codesAtWarning(gr.Findings)})
		}
	}
	for _, g := range rep.Groups {
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
		rep.Summary.Replicas += len(g.Replicas)
		switch g.Status {
		case StatusOK:
			rep.Summary.OK++
		case StatusWarning:
			rep.Summary.Warning++
		case StatusError:
			rep.Summary.Error++
		default:
			rep.Summary.Unknown++
		}
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
