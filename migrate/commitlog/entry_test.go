package commitlog_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/raftctl/raftctl/migrate/commitlog"
	"github.com/raftctl/raftctl/migrate/commitlog/legacytest"
)

// The spec's golden record decodes with its header; its payload alone
// decodes without; anything else is an error.
func TestDecodeEntryData(t *testing.T) {
	rec := specGolden(t)
	d, err := commitlog.DecodeEntryData(rec)
	if err != nil || !d.HasHeader || d.TS != legacytest.GoldenTS || d.Hash != 0xe0ce9314 ||
		d.Posting.UID != 42 || d.Posting.Op != commitlog.OpSet || d.Posting.TS != legacytest.GoldenTS-500 {
		t.Fatalf("%+v %v", d, err)
	}
	d, err = commitlog.DecodeEntryData(rec[commitlog.HeaderSize:])
	if err != nil || d.HasHeader || d.TS != 0 || d.Posting.UID != 42 {
		t.Fatalf("payload: %+v %v", d, err)
	}
	val := legacytest.EncodeRecord(1, 2, legacytest.EncodePosting(commitlog.Posting{UID: commitlog.ValueUID, Value: []byte("alice"), Source: "rdf", Op: commitlog.OpDel}))
	d, err = commitlog.DecodeEntryData(val)
	if err != nil || !d.HasHeader || !bytes.Equal(d.Posting.Value, []byte("alice")) || d.Posting.Source != "rdf" || d.Posting.Op != commitlog.OpDel {
		t.Fatalf("value: %+v %v", d, err)
	}
	for _, bad := range [][]byte{nil, []byte("new"), rec[:40], append(bytes.Clone(rec), 0)} {
		if _, err := commitlog.DecodeEntryData(bad); !errors.Is(err, commitlog.ErrInvalidPosting) {
			t.Errorf("%x: err %v", bad, err)
		}
	}
}
