package cmd

import (
	"strconv"
	"strings"

	"github.com/raftctl/raftctl/inspect"
)

// JSON and IDs. Member, node and cluster IDs are 64-bit and often above
// 2^53, where jq 1.6 (and every reader that parses JSON numbers as
// doubles) silently rounds them. raftctl therefore writes every ID, in
// JSON as in text, as etcd prints it (types.ID.String): lower-case hex
// without leading zeros, in JSON as a string ("bdae9bbc11dd390d"; "0" for
// no vote). Indexes, terms, sizes and offsets stay numbers: they never
// reach 2^53 in practice.
//
// The JSON documents whose shape changed with this rule carry
// schema_version 2 (groups, wal segments, snap list, wal dump). The
// HardState's vote follows it everywhere through inspect.HardState's own
// JSON form: compare (schema_version 3), summary (inspect's
// HostSummarySchemaVersion 2) and repair's plans and results (repair's
// SchemaVersion 2) changed with it.
const idSchemaVersion = 2

// hexID prints an ID as etcd does, "0" for none.
func hexID(id uint64) string { return strconv.FormatUint(id, 16) }

// hexIDs prints IDs as a JSON-safe list of hex strings (never null).
func hexIDs(v []uint64) []string {
	out := make([]string, len(v))
	for k, x := range v {
		out[k] = hexID(x)
	}
	return out
}

// ids prints IDs for a table cell: hex, comma-separated, "-" for none.
func ids(v []uint64) string {
	if len(v) == 0 {
		return "-"
	}
	return strings.Join(hexIDs(v), ",")
}

// hardStateJSON is a HardState in JSON, its vote a hex ID.
type hardStateJSON struct {
	Term   uint64 `json:"term"`
	Vote   string `json:"vote"`
	Commit uint64 `json:"commit"`
}

func hardStateOf(hs inspect.HardState) hardStateJSON {
	return hardStateJSON{Term: hs.Term, Vote: hexID(hs.Vote), Commit: hs.Commit}
}

// walMeta is the WAL's metadata as etcd writes it: member (node) and
// cluster ID, hex; both empty when the metadata is not etcd's (another
// raft application's bytes, or none).
type walMeta struct {
	MemberID  string `json:"member_id,omitempty"`
	ClusterID string `json:"cluster_id,omitempty"`
}

func walMetaOf(l *inspect.Log) walMeta {
	if l == nil {
		return walMeta{}
	}
	m := inspect.ParseMetadata(l.Metadata)
	if !m.OK {
		return walMeta{}
	}
	return walMeta{MemberID: hexID(m.NodeID), ClusterID: hexID(m.ClusterID)}
}

// cell is s, or "-" when empty.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
