package inspect

import (
	"encoding/json"
	"strings"
	"testing"
)

// The vote is a member ID: a hex string in JSON, exact above 2^53; the
// decimal number older summaries and plan files hold still reads.
func TestHardStateJSON(t *testing.T) {
	const big = 0xbdae9bbc11dd390d // 13668033151171901709, above 2^53
	for _, hs := range []HardState{{}, {Term: 2, Vote: big, Commit: 12}, {Term: 1, Vote: 3, Commit: 1}, {Vote: ^uint64(0)}} {
		b, err := json.Marshal(hs)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw["vote"].(string); !ok {
			t.Errorf("%+v: vote is not a string in %s", hs, b)
		}
		var back HardState
		if err := json.Unmarshal(b, &back); err != nil || back != hs {
			t.Errorf("%s read back as %+v (%v), want %+v", b, back, err, hs)
		}
	}
	if b, _ := json.Marshal(HardState{Term: 2, Vote: big, Commit: 12}); string(b) != `{"term":2,"vote":"bdae9bbc11dd390d","commit":12}` {
		t.Errorf("got %s", b)
	}
	for in, want := range map[string]HardState{
		`{"term":2,"vote":13668033151171901709,"commit":12}`: {Term: 2, Vote: big, Commit: 12}, // schema 1
		`{"term":2,"vote":"bdae9bbc11dd390d","commit":12}`:   {Term: 2, Vote: big, Commit: 12},
		`{"term":1,"vote":0,"commit":0}`:                     {Term: 1},
		`{"term":1,"commit":3}`:                              {Term: 1, Commit: 3},
		`{"term":1,"vote":null}`:                             {Term: 1},
	} {
		var got HardState
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != want {
			t.Errorf("%s: got %+v (%v), want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{`{"vote":"xyz"}`, `{"vote":-1}`, `{"vote":1.5}`, `{"vote":true}`, `{"vote":"1ffffffffffffffff"}`} {
		var got HardState
		if err := json.Unmarshal([]byte(in), &got); err == nil || !strings.Contains(err.Error(), "vote") {
			t.Errorf("%s: got %+v, err %v; want an error naming the vote", in, got, err)
		}
	}
}

// A summary of schema_version 1 (the vote a number) still reads.
func TestHostSummaryV1Vote(t *testing.T) {
	in := `{"schema_version":1,"kind":"raftctl-summary","server":"h","hash_range":1024,"groups":[{"name":"g","last_index":1,"last_term":2,
"hard_state":{"term":2,"vote":13668033151171901709,"commit":1},"has_hard_state":true,"term_runs":[{"from":1,"to":1,"term":2}]}]}`
	s, err := NewHostSummaryDecoder(strings.NewReader(in)).Next()
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Groups[0].HardState.Vote; v != 0xbdae9bbc11dd390d {
		t.Errorf("vote %d, want %d", v, uint64(0xbdae9bbc11dd390d))
	}
}
