package inspect

import (
	"encoding/json"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func v2Req(method, path, val string) []byte {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 0x1234)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, method)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, path)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	return protowire.AppendString(b, val)
}

// TestDecode: text and structure of each kind of payload; undecodable
// payloads give raftctl's fixed sentences, never protobuf-go's text.
func TestDecode(t *testing.T) {
	big := uint64(0xbdae9bbc11dd390d)
	cc := mustMarshal(t, &raftpb.ConfChange{Type: raftpb.ConfChangeAddLearnerNode.Enum(), NodeId: proto.Uint64(big)})
	cc2 := mustMarshal(t, &raftpb.ConfChangeV2{Transition: raftpb.ConfChangeTransitionJointExplicit.Enum(),
		Changes: []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: proto.Uint64(3)}}})
	put := mustMarshal(t, &pb.InternalRaftRequest{Header: &pb.RequestHeader{ID: 0x2a},
		Put: &pb.PutRequest{Key: []byte("/k"), Value: []byte("12345"), Lease: 0x77}})
	txn := mustMarshal(t, &pb.InternalRaftRequest{Txn: &pb.TxnRequest{
		Compare: []*pb.Compare{{Key: []byte("a")}},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte("b")}}}},
	}})
	// etcd 3.5 wraps v2 requests in InternalRaftRequest field 2 too.
	wrapped := protowire.AppendTag(nil, 2, protowire.BytesType)
	wrapped = protowire.AppendBytes(wrapped, v2Req("PUT", "/0/version", "3.4.0"))
	tests := []struct {
		name  string
		e     Entry
		etcd  bool
		text  string
		class string
		json  string // a substring of the JSON form
	}{
		{"conf change", Entry{Type: EntryConfChange, Data: cc}, false, "conf-change add-learner node=bdae9bbc11dd390d", "ConfigChange", `"changes":[{"type":"add-learner","node_id":"bdae9bbc11dd390d"}]`},
		{"conf change v2", Entry{Type: EntryConfChangeV2, Data: cc2}, false, "conf-change-v2 transition=jointexplicit remove-node node=3", "ConfigChange", `"transition":"jointexplicit"`},
		{"bad conf change", Entry{Type: EntryConfChange, Data: []byte{0xff, 0xff}}, false, msgBadConfChange, "ConfigChange", `"error":"undecodable conf change`},
		{"bad conf change v2", Entry{Type: EntryConfChangeV2, Data: []byte{0x0a, 0x05}}, false, msgBadConfChangeV2, "ConfigChange", `"op":"conf-change-v2"`},
		{"empty", Entry{Type: EntryNormal}, false, "empty (leader's no-op after an election)", "Normal", `"op":"empty"`},
		{"put", Entry{Type: EntryNormal, Data: put}, true, `put key="/k" value="12345" lease=77 id=2a`, "IRRPut", `"key":"/k","value_size":5,"lease":"77"`},
		{"txn", Entry{Type: EntryNormal, Data: txn}, true, `txn compare=1 success=[delete-range key="a" range-end="b"] failure=[]`, "IRRTxn", `"compare":1,"success":[{"op":"delete-range"`},
		{"member attributes", Entry{Type: EntryNormal, Data: v2Req("PUT", "/0/members/bdae9bbc11dd390d/attributes", `{"name":"infra1","clientURLs":["http://a:2379"]}`)}, true,
			`member-attributes member=bdae9bbc11dd390d name="infra1" client-urls=http://a:2379 id=1234`, "Request", `"client_urls":["http://a:2379"]`},
		{"cluster version", Entry{Type: EntryNormal, Data: v2Req("PUT", "/0/version", "3.5.0")}, true, "cluster-version 3.5.0 id=1234", "Request", `"version":"3.5.0"`},
		{"wrapped v2", Entry{Type: EntryNormal, Data: wrapped}, true, "cluster-version 3.4.0 id=1234", "Request", `"op":"cluster-version"`},
		{"other v2", Entry{Type: EntryNormal, Data: v2Req("DELETE", "/1/foo", "")}, true, "v2-request DELETE /1/foo id=1234", "Request", `"method":"DELETE"`},
		{"not etcd", Entry{Type: EntryNormal, Data: []byte("g1/0010=hello")}, true, msgNotEtcd, "Normal", `"op":"undecodable"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decode(&tt.e, tt.etcd)
			if d == nil {
				t.Fatal("nil")
			}
			if got := d.String(); got != tt.text {
				t.Errorf("text %q, want %q", got, tt.text)
			}
			if got := Describe(&tt.e, tt.etcd); got != tt.text {
				t.Errorf("Describe %q, want %q", got, tt.text)
			}
			if d.RequestType != tt.class {
				t.Errorf("request_type %q, want %q", d.RequestType, tt.class)
			}
			if !MatchesEntryType(&tt.e, tt.class) {
				t.Errorf("not in its own class %s", tt.class)
			}
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.json) {
				t.Errorf("JSON %s lacks %s", b, tt.json)
			}
			if strings.Contains(d.String(), "proto") && d.Error == "" {
				t.Errorf("protobuf text leaked: %q", d.String())
			}
		})
	}
	if d := Decode(&Entry{Type: EntryNormal, Data: put}, false); d != nil {
		t.Errorf("a normal entry decoded without etcd: %+v", d)
	}
	if !MatchesEntryType(&Entry{Type: EntryNormal, Data: put}, "InternalRaftRequest") || MatchesEntryType(&Entry{Type: EntryNormal, Data: put}, "IRRTxn") {
		t.Error("InternalRaftRequest/IRRTxn classes")
	}
	if _, err := ParseEtcdEntryType("irrput"); err != nil {
		t.Error(err)
	}
}
