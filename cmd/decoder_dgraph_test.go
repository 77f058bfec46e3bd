package cmd

import (
	"testing"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

func TestDescribeDgraph(t *testing.T) {
	golden := legacytest.GoldenRecord()
	value := legacytest.EncodeRecord(legacytest.GoldenTS+1, legacytest.Hash(legacytest.EdgeKey("name", 1)),
		legacytest.EncodePosting(commitlog.Posting{UID: commitlog.ValueUID, Value: []byte("alice"), Source: "rdf", Op: commitlog.OpDel}))
	binary := legacytest.EncodePosting(commitlog.Posting{UID: commitlog.ValueUID, Value: []byte{0, 1, 0xff}, Op: commitlog.OpSet})
	for _, c := range []struct {
		e    inspect.Entry
		want string
	}{
		{inspect.Entry{Type: inspect.EntryNormal, Data: golden}, "posting hash=e0ce9314 uid=42 op=set ts=2016-09-01T00:00:00Z"},
		{inspect.Entry{Type: inspect.EntryNormal, Data: value}, `posting hash=2d26c3a5 value="alice" op=del source="rdf" ts=2016-09-01T00:00:00.000000001Z`},
		{inspect.Entry{Type: inspect.EntryNormal, Data: golden[commitlog.HeaderSize:]}, "posting uid=42 op=set (payload only: no hash or timestamp)"},
		{inspect.Entry{Type: inspect.EntryNormal, Data: binary}, "posting value=0x0001ff op=set (payload only: no hash or timestamp)"},
		{inspect.Entry{Type: inspect.EntryNormal, Data: []byte("new")}, "not a dgraph posting: "},
		{inspect.Entry{Type: inspect.EntryNormal}, "empty (leader's no-op after an election)"},
	} {
		got := describeEntry(&c.e, "dgraph")
		if len(got) < len(c.want) || got[:len(c.want)] != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
