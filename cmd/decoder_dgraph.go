package cmd

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/migrate/commitlog"
)

// describeEntry is the --decoder form of an entry: dgraph decodes the
// postings of a migrated commit log (migrate commitlog); raft and etcd are
// inspect's.
func describeEntry(e *inspect.Entry, decoder string) string {
	if decoder == "dgraph" && e.Type == inspect.EntryNormal && len(e.Data) > 0 {
		return describeDgraph(e.Data)
	}
	return inspect.Describe(e, decoder == "etcd")
}

// describeDgraph renders the legacy record (or posting) in an entry's data:
//
//	posting hash=e0ce9314 uid=42 op=set ts=2016-09-01T00:00:00Z
//	posting hash=2d26c3a5 value="alice" op=set source="rdf" ts=...
//	posting uid=42 op=set (payload only: no hash or timestamp)
//
// hash is the farmhash Fingerprint32 of the posting list's key (attribute
// and subject): the log holds nothing else about them.
func describeDgraph(data []byte) string {
	d, err := commitlog.DecodeEntryData(data)
	if err != nil {
		return "not a dgraph posting: " + err.Error()
	}
	return dgraphText(d)
}

// dgraphPosting is the JSON form of --decoder dgraph: the posting's fields
// (64-bit numbers as strings, safe for jq) and the text form.
type dgraphPosting struct {
	Op string `json:"op"`
	// Hash is the farmhash Fingerprint32 of the posting list's key, hex.
	Hash string `json:"hash,omitempty"`
	// UID is the object's uid (decimal string), absent for a value.
	UID string `json:"uid,omitempty"`
	// Value is the value as quoted text or 0x-hex (at most 64 bytes
	// shown), ValueSize its length.
	Value       string `json:"value,omitempty"`
	ValueSize   *int   `json:"value_size,omitempty"`
	PostingOp   string `json:"posting_op"`
	Source      string `json:"source,omitempty"`
	Timestamp   string `json:"ts,omitempty"`
	PayloadOnly bool   `json:"payload_only,omitempty"`
	Error       string `json:"error,omitempty"`
	Text        string `json:"text"`
}

// dgraphJSON decodes an entry's data into its JSON form.
func dgraphJSON(data []byte) dgraphPosting {
	d, err := commitlog.DecodeEntryData(data)
	if err != nil {
		return dgraphPosting{Op: "undecodable", Error: "not a dgraph posting", Text: "not a dgraph posting: " + err.Error()}
	}
	p := d.Posting
	out := dgraphPosting{Op: "posting", PostingOp: p.Op.String(), Source: p.Source, Text: dgraphText(d), PayloadOnly: !d.HasHeader}
	if d.HasHeader {
		out.Hash = fmt.Sprintf("%08x", d.Hash)
		out.Timestamp = time.Unix(0, d.TS).UTC().Format(time.RFC3339Nano)
	}
	if p.UID == commitlog.ValueUID {
		n := len(p.Value)
		out.Value, out.ValueSize = dgraphValue(p.Value), &n
	} else {
		out.UID = strconv.FormatUint(p.UID, 10)
	}
	return out
}

// dgraphText is the text form of a decoded legacy record.
func dgraphText(d commitlog.EntryData) string {
	var b strings.Builder
	b.WriteString("posting")
	if d.HasHeader {
		fmt.Fprintf(&b, " hash=%08x", d.Hash)
	}
	p := d.Posting
	if p.UID == commitlog.ValueUID {
		b.WriteString(" value=" + dgraphValue(p.Value))
	} else {
		b.WriteString(" uid=" + strconv.FormatUint(p.UID, 10))
	}
	b.WriteString(" op=" + p.Op.String())
	if p.Source != "" {
		b.WriteString(" source=" + strconv.Quote(p.Source))
	}
	if d.HasHeader {
		b.WriteString(" ts=" + time.Unix(0, d.TS).UTC().Format(time.RFC3339Nano))
	} else {
		b.WriteString(" (payload only: no hash or timestamp)")
	}
	return b.String()
}

// dgraphValue quotes a value as text when it is printable UTF-8, else as
// hex; at most 64 bytes are shown.
func dgraphValue(v []byte) string {
	const max = 64
	shown, more := v, ""
	if len(v) > max {
		shown, more = v[:max], fmt.Sprintf("...(%d bytes)", len(v))
	}
	if utf8.Valid(shown) && isPrintable(string(shown)) {
		return strconv.Quote(string(shown)) + more
	}
	return "0x" + hex.EncodeToString(shown) + more
}

func isPrintable(s string) bool {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}
