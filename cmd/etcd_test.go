package cmd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/raftctl/raftctl/cmd"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// TestDumpEmbeddedEtcd reads the data directory of a real etcd server that
// wrote keys and stopped: `wal dump --decoder etcd` shows the keys written,
// and `groups` names the group after the data directory.
func TestDumpEmbeddedEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	dir := t.TempDir() + "/etcd-data"
	keys := map[string]string{"/app/config": "v1", "/app/leader": "node-7", "/app/empty": ""}
	if err := fixture.EmbeddedEtcd(dir, keys, fixture.WithSnapshotCount(4)); err != nil {
		t.Fatal(err)
	}
	streams, out, errOut := cmd.TestStreams()
	if code := cmd.Run(context.Background(), streams, []string{"wal", "dump", dir, "--decoder", "etcd", "--data", "none"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for k, v := range keys {
		want := `put key="` + k + `" value="` + v + `"`
		if !strings.Contains(out.String(), want) {
			t.Errorf("dump lacks %s:\n%s", want, out)
		}
	}
	streams, out, errOut = cmd.TestStreams()
	if code := cmd.Run(context.Background(), streams, []string{"groups", dir}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out.String(), "etcd-data\t") {
		t.Errorf("groups: %s", out)
	}
}
