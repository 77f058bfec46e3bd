package inspect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Describe renders an entry's payload for people: conf changes always (as
// raft defines them), and with etcd set, etcd's InternalRaftRequest
// payloads of normal entries. It never fails: undecodable payloads are
// described as such.
func Describe(e *Entry, etcd bool) string {
	switch e.Type {
	case EntryConfChange:
		var cc raftpb.ConfChange
		if err := proto.Unmarshal(e.Data, &cc); err != nil {
			return "undecodable conf change: " + err.Error()
		}
		s := fmt.Sprintf("conf-change %s node=%d", confChangeType(cc.GetType()), cc.GetNodeId())
		if len(cc.Context) > 0 {
			s += " context=" + quote(cc.Context, 64)
		}
		return s
	case EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := proto.Unmarshal(e.Data, &cc); err != nil {
			return "undecodable conf change v2: " + err.Error()
		}
		parts := []string{"conf-change-v2"}
		if t := cc.GetTransition(); t != raftpb.ConfChangeTransitionAuto {
			parts = append(parts, "transition="+strings.ToLower(strings.TrimPrefix(t.String(), "ConfChangeTransition")))
		}
		for _, c := range cc.GetChanges() {
			parts = append(parts, fmt.Sprintf("%s node=%d", confChangeType(c.GetType()), c.GetNodeId()))
		}
		if len(cc.Context) > 0 {
			parts = append(parts, "context="+quote(cc.Context, 64))
		}
		return strings.Join(parts, " ")
	}
	if len(e.Data) == 0 {
		return "empty (leader's no-op after an election)"
	}
	if !etcd {
		return ""
	}
	var r pb.InternalRaftRequest
	if err := proto.Unmarshal(e.Data, &r); err != nil {
		return "not an etcd request: " + err.Error()
	}
	return describeEtcd(&r)
}

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

func describeEtcd(r *pb.InternalRaftRequest) string {
	id := ""
	if h := r.GetHeader(); h != nil && h.GetID() != 0 {
		id = fmt.Sprintf(" id=%x", h.GetID())
	} else if r.GetID() != 0 {
		id = fmt.Sprintf(" id=%x", r.GetID())
	}
	switch {
	case r.Put != nil:
		return "put " + describePut(r.Put) + id
	case r.DeleteRange != nil:
		return "delete-range " + describeRange(r.DeleteRange.GetKey(), r.DeleteRange.GetRangeEnd()) + id
	case r.Range != nil:
		return "range " + describeRange(r.Range.GetKey(), r.Range.GetRangeEnd()) + id
	case r.Txn != nil:
		t := r.Txn
		var ops []string
		for _, op := range t.GetSuccess() {
			ops = append(ops, describeOp(op))
		}
		s := fmt.Sprintf("txn compare=%d success=[%s]", len(t.GetCompare()), strings.Join(ops, "; "))
		ops = ops[:0]
		for _, op := range t.GetFailure() {
			ops = append(ops, describeOp(op))
		}
		return s + fmt.Sprintf(" failure=[%s]", strings.Join(ops, "; ")) + id
	case r.Compaction != nil:
		return fmt.Sprintf("compaction revision=%d physical=%v", r.Compaction.GetRevision(), r.Compaction.GetPhysical()) + id
	case r.LeaseGrant != nil:
		return fmt.Sprintf("lease-grant lease=%x ttl=%d", r.LeaseGrant.GetID(), r.LeaseGrant.GetTTL()) + id
	case r.LeaseRevoke != nil:
		return fmt.Sprintf("lease-revoke lease=%x", r.LeaseRevoke.GetID()) + id
	case r.LeaseCheckpoint != nil:
		return fmt.Sprintf("lease-checkpoint leases=%d", len(r.LeaseCheckpoint.GetCheckpoints())) + id
	case r.Alarm != nil:
		return fmt.Sprintf("alarm %s %s member=%x", r.Alarm.GetAction(), r.Alarm.GetAlarm(), r.Alarm.GetMemberID()) + id
	case r.ClusterVersionSet != nil:
		return "cluster-version-set " + r.ClusterVersionSet.GetVer() + id
	case r.ClusterMemberAttrSet != nil:
		return fmt.Sprintf("cluster-member-attr-set member=%x name=%q", r.ClusterMemberAttrSet.GetMember_ID(), r.ClusterMemberAttrSet.GetMemberAttributes().GetName()) + id
	}
	// Auth and other requests: name the field that is set; never print
	// passwords.
	var names []string
	r.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if fd.Kind() == protoreflect.MessageKind && fd.Name() != "header" {
			names = append(names, strings.ReplaceAll(string(fd.Name()), "_", "-"))
		}
		return true
	})
	sort.Strings(names)
	if len(names) == 0 {
		return "etcd request with no operation" + id
	}
	return strings.Join(names, ",") + id
}

func describePut(p *pb.PutRequest) string {
	s := fmt.Sprintf("key=%s value=%s", quote(p.GetKey(), 128), quote(p.GetValue(), 128))
	if p.GetLease() != 0 {
		s += fmt.Sprintf(" lease=%x", p.GetLease())
	}
	return s
}

func describeRange(key, end []byte) string {
	if len(end) == 0 {
		return "key=" + quote(key, 128)
	}
	return "key=" + quote(key, 128) + " range-end=" + quote(end, 128)
}

func describeOp(op *pb.RequestOp) string {
	switch {
	case op.GetRequestPut() != nil:
		return "put " + describePut(op.GetRequestPut())
	case op.GetRequestDeleteRange() != nil:
		d := op.GetRequestDeleteRange()
		return "delete-range " + describeRange(d.GetKey(), d.GetRangeEnd())
	case op.GetRequestRange() != nil:
		d := op.GetRequestRange()
		return "range " + describeRange(d.GetKey(), d.GetRangeEnd())
	case op.GetRequestTxn() != nil:
		return "txn"
	}
	return "op"
}
