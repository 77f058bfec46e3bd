package cmd_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/cmd"
)

// TestVerifyInterrupted: verify with a cancelled context exits 130.
func TestVerifyInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	streams, _, errOut := cmd.TestStreams()
	if code := cmd.Run(ctx, streams, []string{"verify", "../testdata/sample"}); code != cmd.ExitInterrupted {
		t.Errorf("exit %d, want 130 (%s)", code, errOut)
	}
	if !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("stderr %q", errOut)
	}
}

// TestVerifyProgress: a progress line on stderr only on a terminal, and
// erased once done.
func TestVerifyProgress(t *testing.T) {
	for _, tty := range []bool{false, true} {
		streams, out, errOut := cmd.TestStreams()
		streams.ErrTTY = tty
		if code := cmd.Run(context.Background(), streams, []string{"verify", "../testdata/sample", "-o", "json"}); code != cmd.ExitOK {
			t.Fatalf("tty=%v: exit %d: %s", tty, code, errOut)
		}
		if !strings.HasPrefix(out.String(), "{") {
			t.Errorf("tty=%v: stdout is not the JSON report: %.40q", tty, out)
		}
		switch {
		case !tty && errOut.Len() != 0:
			t.Errorf("progress without a terminal: %q", errOut)
		case tty && !strings.Contains(errOut.String(), "\rverify: 12/12 groups"):
			t.Errorf("no progress line on a terminal: %q", errOut)
		case tty && !strings.HasSuffix(errOut.String(), "\r"):
			t.Errorf("progress line not erased: %q", errOut)
		}
	}
}

// TestVerifyJUnitValid: the JUnit report parses as XML with one test case
// per group and the counts it announces.
func TestVerifyJUnitValid(t *testing.T) {
	streams, out, errOut := cmd.TestStreams()
	if code := cmd.Run(context.Background(), streams, []string{"verify", "../testdata/sample", "-o", "junit"}); code != cmd.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Tests   int      `xml:"tests,attr"`
		Suites  []struct {
			Tests int `xml:"tests,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	dec := xml.NewDecoder(bytes.NewReader(out.Bytes()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, out)
	}
	if doc.Tests != 12 || len(doc.Suites) != 1 || doc.Suites[0].Tests != 12 || len(doc.Suites[0].Cases) != 12 {
		t.Errorf("counts: %+v", doc)
	}
	for _, c := range doc.Suites[0].Cases {
		if c.Name == "" || c.Failure != nil {
			t.Errorf("test case %+v", c)
		}
	}
}
