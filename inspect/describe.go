package inspect

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Decoded is an entry's payload decoded for people and for jq: what
// `wal dump --decoder` shows. Its String form is the text of tables; its
// JSON form (explicit tags, IDs as hex strings, sizes as numbers) is part of
// `wal dump`'s documented output. Fields not relevant to an Op are empty.
type Decoded struct {
	// Op names what the entry does: conf-change, conf-change-v2, empty
	// (the leader's no-op after an election), put, delete-range, range,
	// txn, compaction, lease-grant, lease-revoke, lease-checkpoint, alarm,
	// cluster-version-set, cluster-member-attr-set, downgrade-info-set,
	// auth-* (the request's field name), member-attributes and
	// cluster-version (etcd 3.4/3.5 v2 requests), v2-request (another v2
	// request), undecodable.
	Op string `json:"op"`
	// RequestType is the entry's class as etcd-dump-logs names it
	// (ConfigChange, Normal, Request, IRRPut, IRRTxn, ...): what
	// --entry-type selects.
	RequestType string `json:"request_type"`
	// Error says why the payload did not decode (a fixed sentence, never
	// a library's message).
	Error string `json:"error,omitempty"`

	// Conf changes: each change with its node (hex), the v2 transition,
	// and the context's size.
	Changes     []ConfChangeItem `json:"changes,omitempty"`
	Transition  string           `json:"transition,omitempty"`
	Context     string           `json:"context,omitempty"`
	ContextSize int              `json:"context_size,omitempty"`
	context     []byte

	// etcd requests: the request ID (hex), the key and range end, the
	// value's size (not the value: it may be large or secret), the lease
	// (hex).
	ID        string `json:"id,omitempty"`
	Key       string `json:"key,omitempty"`
	RangeEnd  string `json:"range_end,omitempty"`
	ValueSize *int   `json:"value_size,omitempty"`
	Lease     string `json:"lease,omitempty"`
	value     []byte

	// Txn: the number of comparisons and the operations of each branch.
	Compare *int      `json:"compare,omitempty"`
	Success []Decoded `json:"success,omitempty"`
	Failure []Decoded `json:"failure,omitempty"`

	// Compaction, lease grant, alarm, lease checkpoint.
	Revision *int64 `json:"revision,omitempty"`
	Physical *bool  `json:"physical,omitempty"`
	TTL      *int64 `json:"ttl,omitempty"`
	Action   string `json:"action,omitempty"`
	Alarm    string `json:"alarm,omitempty"`
	Leases   *int   `json:"leases,omitempty"`

	// Membership: the member (hex), its name and URLs; the cluster version.
	MemberID   string   `json:"member_id,omitempty"`
	Name       string   `json:"name,omitempty"`
	ClientURLs []string `json:"client_urls,omitempty"`
	PeerURLs   []string `json:"peer_urls,omitempty"`
	Version    string   `json:"version,omitempty"`

	// v2 requests: method and path.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
}

// ConfChangeItem is one change of a conf change: its type (add-node,
// remove-node, update-node, add-learner) and node ID in hex.
type ConfChangeItem struct {
	Type   string `json:"type"`
	NodeID string `json:"node_id"`
}

// The fixed sentences of payloads that do not decode: protobuf-go's error
// text varies between builds on purpose, so it is never shown.
const (
	msgBadConfChange   = "undecodable conf change (not a raftpb.ConfChange)"
	msgBadConfChangeV2 = "undecodable conf change v2 (not a raftpb.ConfChangeV2)"
	msgNotEtcd         = "not an etcd request (neither an InternalRaftRequest nor a v2 Request)"
)

// EntryTypes lists the classes --entry-type accepts, as etcd-dump-logs
// names them.
var EntryTypes = []string{"ConfigChange", "Normal", "Request", "InternalRaftRequest", "IRRRange", "IRRPut",
	"IRRDeleteRange", "IRRTxn", "IRRCompaction", "IRRLeaseGrant", "IRRLeaseRevoke", "IRRLeaseCheckpoint",
	"IRRAlarm", "IRRClusterVersionSet", "IRRClusterMemberAttrSet", "IRRDowngradeInfoSet", "IRRAuth"}

// ParseEtcdEntryType returns the canonical name of an --entry-type value
// (matched without regard to case).
func ParseEtcdEntryType(s string) (string, error) {
	for _, t := range EntryTypes {
		if strings.EqualFold(t, s) {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown entry type %q (want one of %s)", s, strings.Join(EntryTypes, ", "))
}

// MatchesEntryType says whether an entry belongs to an etcd-dump-logs class:
// ConfigChange for conf changes (v1 and v2), Normal for every normal entry,
// Request for etcd's v2 requests, InternalRaftRequest for every v3 request
// and IRR<Op> for one operation (IRRAuth for every auth request).
func MatchesEntryType(e *Entry, class string) bool {
	switch class {
	case "ConfigChange":
		return e.Type == EntryConfChange || e.Type == EntryConfChangeV2
	case "Normal":
		return e.Type == EntryNormal
	}
	if e.Type != EntryNormal || len(e.Data) == 0 {
		return false
	}
	d := Decode(e, true)
	switch class {
	case "InternalRaftRequest":
		return strings.HasPrefix(d.RequestType, "IRR")
	case "IRRAuth":
		return strings.HasPrefix(d.RequestType, "IRRAuth")
	}
	return d.RequestType == class
}

// Describe renders an entry's payload for people: conf changes always (as
// raft defines them), and with etcd set, etcd's payloads of normal entries
// (InternalRaftRequest, and the v2 requests etcd 3.4 and 3.5 write for
// member attributes and the cluster version). It never fails: undecodable
// payloads are described as such. It is Decode(e, etcd).String(), "" for a
// normal entry that is not decoded.
func Describe(e *Entry, etcd bool) string {
	d := Decode(e, etcd)
	if d == nil {
		return ""
	}
	return d.String()
}

// Decode decodes an entry's payload: conf changes always, etcd's requests
// with etcd set. It returns nil for a normal entry with a payload when etcd
// is not set. It never fails.
func Decode(e *Entry, etcd bool) *Decoded {
	switch e.Type {
	case EntryConfChange:
		d := &Decoded{Op: "conf-change", RequestType: "ConfigChange"}
		var cc raftpb.ConfChange
		if err := proto.Unmarshal(e.Data, &cc); err != nil {
			d.Error = msgBadConfChange
			return d
		}
		d.Changes = []ConfChangeItem{{Type: confChangeType(cc.GetType()), NodeID: hexID(cc.GetNodeId())}}
		d.context, d.Context, d.ContextSize = cc.GetContext(), string(cc.GetContext()), len(cc.GetContext())
		return d
	case EntryConfChangeV2:
		d := &Decoded{Op: "conf-change-v2", RequestType: "ConfigChange"}
		var cc raftpb.ConfChangeV2
		if err := proto.Unmarshal(e.Data, &cc); err != nil {
			d.Error = msgBadConfChangeV2
			return d
		}
		if t := cc.GetTransition(); t != raftpb.ConfChangeTransitionAuto {
			d.Transition = strings.ToLower(strings.TrimPrefix(t.String(), "ConfChangeTransition"))
		}
		for _, c := range cc.GetChanges() {
			d.Changes = append(d.Changes, ConfChangeItem{Type: confChangeType(c.GetType()), NodeID: hexID(c.GetNodeId())})
		}
		d.context, d.Context, d.ContextSize = cc.GetContext(), string(cc.GetContext()), len(cc.GetContext())
		return d
	}
	if len(e.Data) == 0 {
		return &Decoded{Op: "empty", RequestType: "Normal"}
	}
	if !etcd {
		return nil
	}
	if d, ok := decodeV2Request(e.Data); ok {
		return d
	}
	var r pb.InternalRaftRequest
	if err := proto.Unmarshal(e.Data, &r); err != nil {
		return &Decoded{Op: "undecodable", RequestType: "Normal", Error: msgNotEtcd}
	}
	return decodeEtcd(&r)
}

// DecodeEncrypted describes an entry of an encrypted WAL (SwarmKit's
// wal-v3-encrypted): its payload is ciphertext, so only its class and
// size are known; an empty entry stays empty.
func DecodeEncrypted(e *Entry) *Decoded {
	if len(e.Data) == 0 {
		return &Decoded{Op: "empty", RequestType: "Normal"}
	}
	d := &Decoded{Op: "encrypted", RequestType: "Normal", ValueSize: ptr(len(e.Data))}
	if e.Type != EntryNormal {
		d.RequestType = "ConfigChange"
	}
	return d
}

func hexID(id uint64) string { return strconv.FormatUint(id, 16) }

// String is the one-line text form of tables and plain output.
func (d *Decoded) String() string {
	if d.Error != "" {
		return d.Error
	}
	var b strings.Builder
	switch d.Op {
	case "conf-change", "conf-change-v2":
		b.WriteString(d.Op)
		if d.Transition != "" {
			b.WriteString(" transition=" + d.Transition)
		}
		for _, c := range d.Changes {
			b.WriteString(" " + c.Type + " node=" + c.NodeID)
		}
		if len(d.context) > 0 {
			b.WriteString(" context=" + quote(d.context, 64))
		}
		return b.String()
	case "empty":
		return "empty (leader's no-op after an election)"
	case "encrypted":
		return fmt.Sprintf("encrypted (%d bytes)", deref(d.ValueSize))
	case "member-attributes":
		fmt.Fprintf(&b, "member-attributes member=%s name=%q client-urls=%s", d.MemberID, d.Name, strings.Join(d.ClientURLs, ","))
	case "cluster-version":
		b.WriteString("cluster-version " + d.Version)
	case "member-raft-attributes":
		fmt.Fprintf(&b, "member-raft-attributes member=%s peer-urls=%s", d.MemberID, strings.Join(d.PeerURLs, ","))
	case "v2-request":
		fmt.Fprintf(&b, "v2-request %s %s", d.Method, d.Path)
	default:
		b.WriteString(d.text())
	}
	if d.ID != "" {
		b.WriteString(" id=" + d.ID)
	}
	return b.String()
}

// text is the form of an etcd v3 operation, without its ID.
func (d *Decoded) text() string {
	switch d.Op {
	case "put":
		s := "put key=" + quote([]byte(d.Key), 128) + " value=" + quote(d.value, 128)
		if d.Lease != "" {
			s += " lease=" + d.Lease
		}
		return s
	case "delete-range", "range":
		s := d.Op + " key=" + quote([]byte(d.Key), 128)
		if d.RangeEnd != "" {
			s += " range-end=" + quote([]byte(d.RangeEnd), 128)
		}
		return s
	case "txn":
		if d.Compare == nil {
			return "txn"
		}
		return fmt.Sprintf("txn compare=%d success=[%s] failure=[%s]", deref(d.Compare), ops(d.Success), ops(d.Failure))
	case "compaction":
		return fmt.Sprintf("compaction revision=%d physical=%v", deref(d.Revision), deref(d.Physical))
	case "lease-grant":
		return fmt.Sprintf("lease-grant lease=%s ttl=%d", d.Lease, deref(d.TTL))
	case "lease-revoke":
		return "lease-revoke lease=" + d.Lease
	case "lease-checkpoint":
		return fmt.Sprintf("lease-checkpoint leases=%d", deref(d.Leases))
	case "alarm":
		return fmt.Sprintf("alarm %s %s member=%s", d.Action, d.Alarm, d.MemberID)
	case "cluster-version-set":
		return "cluster-version-set " + d.Version
	case "cluster-member-attr-set":
		return fmt.Sprintf("cluster-member-attr-set member=%s name=%q", d.MemberID, d.Name)
	case "":
		return "etcd request with no operation"
	}
	return d.Op
}

func ops(list []Decoded) string {
	s := make([]string, len(list))
	for k := range list {
		s[k] = list[k].text()
	}
	return strings.Join(s, "; ")
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func confChangeType(t raftpb.ConfChangeType) string {
	switch t {
	case raftpb.ConfChangeAddNode:
		return "add-node"
	case raftpb.ConfChangeRemoveNode:
		return "remove-node"
	case raftpb.ConfChangeUpdateNode:
		return "update-node"
	case raftpb.ConfChangeAddLearnerNode:
		return "add-learner"
	}
	return "type-" + strconv.Itoa(int(t))
}

func quote(b []byte, max int) string {
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

func decodeEtcd(r *pb.InternalRaftRequest) *Decoded {
	d := &Decoded{RequestType: "InternalRaftRequest"}
	if h := r.GetHeader(); h != nil && h.GetID() != 0 {
		d.ID = hexID(h.GetID())
	} else if r.GetID() != 0 {
		d.ID = hexID(r.GetID())
	}
	switch {
	case r.Put != nil:
		d.RequestType = "IRRPut"
		putInto(d, r.Put)
	case r.DeleteRange != nil:
		d.RequestType, d.Op = "IRRDeleteRange", "delete-range"
		d.Key, d.RangeEnd = string(r.DeleteRange.GetKey()), string(r.DeleteRange.GetRangeEnd())
	case r.Range != nil:
		d.RequestType, d.Op = "IRRRange", "range"
		d.Key, d.RangeEnd = string(r.Range.GetKey()), string(r.Range.GetRangeEnd())
	case r.Txn != nil:
		d.RequestType, d.Op = "IRRTxn", "txn"
		d.Compare = ptr(len(r.Txn.GetCompare()))
		for _, op := range r.Txn.GetSuccess() {
			d.Success = append(d.Success, decodeOp(op))
		}
		for _, op := range r.Txn.GetFailure() {
			d.Failure = append(d.Failure, decodeOp(op))
		}
	case r.Compaction != nil:
		d.RequestType, d.Op = "IRRCompaction", "compaction"
		d.Revision, d.Physical = ptr(r.Compaction.GetRevision()), ptr(r.Compaction.GetPhysical())
	case r.LeaseGrant != nil:
		d.RequestType, d.Op = "IRRLeaseGrant", "lease-grant"
		d.Lease, d.TTL = hexID(uint64(r.LeaseGrant.GetID())), ptr(r.LeaseGrant.GetTTL())
	case r.LeaseRevoke != nil:
		d.RequestType, d.Op = "IRRLeaseRevoke", "lease-revoke"
		d.Lease = hexID(uint64(r.LeaseRevoke.GetID()))
	case r.LeaseCheckpoint != nil:
		d.RequestType, d.Op = "IRRLeaseCheckpoint", "lease-checkpoint"
		d.Leases = ptr(len(r.LeaseCheckpoint.GetCheckpoints()))
	case r.Alarm != nil:
		d.RequestType, d.Op = "IRRAlarm", "alarm"
		d.Action, d.Alarm, d.MemberID = r.Alarm.GetAction().String(), r.Alarm.GetAlarm().String(), hexID(r.Alarm.GetMemberID())
	case r.ClusterVersionSet != nil:
		d.RequestType, d.Op = "IRRClusterVersionSet", "cluster-version-set"
		d.Version = r.ClusterVersionSet.GetVer()
	case r.ClusterMemberAttrSet != nil:
		d.RequestType, d.Op = "IRRClusterMemberAttrSet", "cluster-member-attr-set"
		a := r.ClusterMemberAttrSet
		d.MemberID, d.Name, d.ClientURLs = hexID(a.GetMember_ID()), a.GetMemberAttributes().GetName(), a.GetMemberAttributes().GetClientUrls()
	case r.DowngradeInfoSet != nil:
		d.RequestType, d.Op = "IRRDowngradeInfoSet", "downgrade-info-set"
		d.Version = r.DowngradeInfoSet.GetVer()
	default:
		// Auth and other requests: name the field that is set; never
		// show passwords.
		var names []string
		r.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if fd.Kind() == protoreflect.MessageKind && fd.Name() != "header" {
				names = append(names, string(fd.Name()))
			}
			return true
		})
		sort.Strings(names)
		if len(names) > 0 {
			d.Op = strings.ReplaceAll(strings.Join(names, ","), "_", "-")
			if strings.HasPrefix(names[0], "auth") {
				d.RequestType = "IRR" + camel(names[0])
			}
		}
	}
	return d
}

// camel turns auth_user_add into AuthUserAdd.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for k, p := range parts {
		if p != "" {
			parts[k] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

func putInto(d *Decoded, p *pb.PutRequest) {
	d.Op = "put"
	d.Key, d.value, d.ValueSize = string(p.GetKey()), p.GetValue(), ptr(len(p.GetValue()))
	if p.GetLease() != 0 {
		d.Lease = hexID(uint64(p.GetLease()))
	}
}

func decodeOp(op *pb.RequestOp) Decoded {
	var d Decoded
	switch {
	case op.GetRequestPut() != nil:
		putInto(&d, op.GetRequestPut())
	case op.GetRequestDeleteRange() != nil:
		r := op.GetRequestDeleteRange()
		d.Op, d.Key, d.RangeEnd = "delete-range", string(r.GetKey()), string(r.GetRangeEnd())
	case op.GetRequestRange() != nil:
		r := op.GetRequestRange()
		d.Op, d.Key, d.RangeEnd = "range", string(r.GetKey()), string(r.GetRangeEnd())
	case op.GetRequestTxn() != nil:
		d.Op = "txn"
	default:
		d.Op = "op"
	}
	return d
}

// v2Methods are the methods of etcd's v2 requests (etcdserverpb.Request,
// gone from etcd's API since 3.6 but still in the WALs of 3.4 and 3.5).
var v2Methods = map[string]bool{"PUT": true, "POST": true, "DELETE": true, "QGET": true, "GET": true, "SYNC": true}

// decodeV2Request decodes the v2 request etcd 3.4 and 3.5 propose as a bare
// etcdserverpb.Request (publishing a member's attributes, setting the
// cluster version), or wrapped in an InternalRaftRequest's field 2:
//
//	etcdserverpb.Request (v2)
//	+------------+----------------+--------------+-------------+-----
//	| 1: ID u64  | 2: Method str  | 3: Path str  | 4: Val str  | ...
//	+------------+----------------+--------------+-------------+-----
//
// ok is false when b is not such a request.
func decodeV2Request(b []byte) (*Decoded, bool) {
	r, ok := parseV2Request(b)
	if !ok {
		return nil, false
	}
	if !v2Methods[r.method] || !strings.HasPrefix(r.path, "/") {
		if r.wrapped != nil && r.method != "" {
			// InternalRaftRequest.V2 (field 2) in etcd 3.4 and 3.5.
			if d, ok := decodeV2Request(r.wrapped); ok {
				if d.ID == "" && r.id != 0 {
					d.ID = hexID(r.id)
				}
				return d, true
			}
		}
		return nil, false
	}
	d := &Decoded{Op: "v2-request", RequestType: "Request", Method: r.method, Path: r.path}
	if r.id != 0 {
		d.ID = hexID(r.id)
	}
	describeV2Write(d, r.method, r.path, r.val)
	return d, true
}

// v2Request is what decodeV2Request reads of a message: the fields of
// etcdserverpb.Request {1: ID, 2: Method, 3: Path, 4: Val}; wrapped is
// field 2's bytes, for the InternalRaftRequest that holds a Request
// there.
type v2Request struct {
	id                uint64
	method, path, val string
	wrapped           []byte
}

// parseV2Request reads fields 1 to 4 of b (the last of each wins) and
// skips every other; ok is false when b does not parse as protobuf.
func parseV2Request(b []byte) (r v2Request, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, false
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, k := protowire.ConsumeVarint(b)
			if k < 0 {
				return r, false
			}
			r.id, b = v, b[k:]
			continue
		case (num == 2 || num == 3 || num == 4) && typ == protowire.BytesType:
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return r, false
			}
			switch num {
			case 2:
				r.method, r.wrapped = string(v), v
			case 3:
				r.path = string(v)
			case 4:
				r.val = string(v)
			}
			b = b[k:]
			continue
		}
		k := protowire.ConsumeFieldValue(num, typ, b)
		if k < 0 {
			return r, false
		}
		b = b[k:]
	}
	return r, true
}

// describeV2Write names what a v2 write does: the cluster version, a
// member's attributes or raft attributes (decoded from the JSON value),
// or any other write (the value's size).
func describeV2Write(d *Decoded, method, path, val string) {
	switch {
	case method == "PUT" && path == "/0/version":
		d.Op, d.Version = "cluster-version", val
	case method == "PUT" && strings.HasPrefix(path, "/0/members/") && strings.HasSuffix(path, "/attributes"):
		d.Op = "member-attributes"
		d.MemberID = strings.TrimSuffix(strings.TrimPrefix(path, "/0/members/"), "/attributes")
		var attr struct {
			Name       string   `json:"name"`
			ClientURLs []string `json:"clientURLs"`
		}
		if json.Unmarshal([]byte(val), &attr) == nil {
			d.Name, d.ClientURLs = attr.Name, attr.ClientURLs
		}
	case method == "PUT" && strings.HasPrefix(path, "/0/members/") && strings.HasSuffix(path, "/raftAttributes"):
		d.Op = "member-raft-attributes"
		d.MemberID = strings.TrimSuffix(strings.TrimPrefix(path, "/0/members/"), "/raftAttributes")
		var attr struct {
			PeerURLs []string `json:"peerURLs"`
		}
		if json.Unmarshal([]byte(val), &attr) == nil {
			d.PeerURLs = attr.PeerURLs
		}
	default:
		d.ValueSize = ptr(len(val))
	}
}
