package cmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.uber.org/zap"

	"github.com/raftctl/raftctl/inspect"
	"github.com/raftctl/raftctl/repair"
	"github.com/raftctl/raftctl/testdata/fixture"
)

// An etcd member in a subprocess: the test binary re-executed with
// RAFTCTL_ETCD_MEMBER set, so that the test can kill it with SIGKILL.
const envMember = "RAFTCTL_ETCD_MEMBER"

type memberSpec struct {
	Name, Dir, Peer, Client, Cluster string
	ForceNew                         bool
}

func init() {
	if v := os.Getenv(envMember); v != "" {
		var m memberSpec
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		e, err := startMember(m)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		<-e.Server.StopNotify()
		os.Exit(0)
	}
}

func startMember(m memberSpec) (*embed.Etcd, error) {
	wal.SegmentSizeBytes = 64 * 1024
	peer, _ := url.Parse(m.Peer)
	client, _ := url.Parse(m.Client)
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = m.Name, m.Dir
	cfg.InitialClusterToken = "raftctl-recover"
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.InitialCluster = m.Cluster
	cfg.ForceNewCluster = m.ForceNew
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.TickMs, cfg.ElectionMs = 20, 200
	cfg.SnapshotCount, cfg.SnapshotCatchUpEntries = 300, 50
	cfg.MaxWalFiles, cfg.MaxSnapFiles = 0, 0
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, err
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, fmt.Errorf("member %s not ready", m.Name)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var putKey = regexp.MustCompile(`key="(k-\d+)"`)

// logKeys maps every key put in a member's effective log to its index.
func logKeys(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	gs, err := inspect.Discover([]string{dir}, inspect.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := inspect.Summarize(context.Background(), gs[0])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	err = inspect.EffectiveEntries(context.Background(), s.SegmentList, s.Log, func(e *inspect.Entry, _ *inspect.Record) error {
		if m := putKey.FindStringSubmatch(inspect.Describe(e, true)); m != nil {
			out[m[1]] = e.Index
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// serve starts a member with ForceNewCluster in this process on its data
// directory and returns every k-* key it serves.
func serve(t *testing.T, name, dir string) map[string]bool {
	t.Helper()
	peer, client := "http://"+freePort(t), "http://"+freePort(t)
	e, err := startMember(memberSpec{Name: name, Dir: dir, Peer: peer, Client: client, Cluster: name + "=" + peer, ForceNew: true})
	if err != nil {
		t.Fatalf("etcd --force-new-cluster on %s: %v", dir, err)
	}
	defer e.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "k-", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = true
	}
	return got
}

// TestEtcdRecoverAfterQuorumLoss runs real 3-member etcd clusters (one
// subprocess per member), writes under load while recording every
// acknowledged put, kills the leader (its disk counts as lost) and then
// both followers with SIGKILL at seeded points, and recovers from the two
// survivors: recover plan and apply, then etcd --force-new-cluster on the
// result. Every acknowledged key that a survivor's log holds at or below
// the proven commit (or that only the snapshots hold) is served, and the
// plan's predicted loss is what is missing. The election rule's choice
// with plain --force-new-cluster is restarted too, and what it loses is
// counted and compared with compare's prediction.
func TestEtcdRecoverAfterQuorumLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd clusters")
	}
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) { etcdQuorumLoss(t, seed) })
	}
}

func etcdQuorumLoss(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	root := t.TempDir()
	names := []string{"infra1", "infra2", "infra3"}
	var specs []memberSpec
	var cluster []string
	for _, n := range names {
		s := memberSpec{Name: n, Dir: filepath.Join(root, n+".etcd"), Peer: "http://" + freePort(t), Client: "http://" + freePort(t)}
		specs = append(specs, s)
		cluster = append(cluster, n+"="+s.Peer)
	}
	procs := make([]*exec.Cmd, len(specs))
	for k := range specs {
		specs[k].Cluster = strings.Join(cluster, ",")
		b, _ := json.Marshal(specs[k])
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), envMember+"="+string(b))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		procs[k] = c
	}
	killed := make([]bool, len(procs))
	kill := func(k int) {
		if !killed[k] {
			procs[k].Process.Signal(syscall.SIGKILL)
			procs[k].Wait()
			killed[k] = true
		}
	}
	defer func() {
		for k := range procs {
			kill(k)
		}
	}()
	var eps []string
	for _, s := range specs {
		eps = append(eps, s.Client)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 30 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if _, err := cli.Put(ctx, "ready", "1"); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	leader := -1
	for k, s := range specs {
		st, err := cli.Status(ctx, s.Client)
		if err == nil && st.Header.GetMemberId() == st.Leader {
			leader = k
		}
	}
	if leader < 0 {
		t.Fatal("no leader")
	}
	// Load: 4 writers, each put recorded once acknowledged.
	var mu sync.Mutex
	acked := map[string]bool{}
	var seq int64
	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for wctx.Err() == nil {
				mu.Lock()
				seq++
				k := fmt.Sprintf("k-%06d", seq)
				mu.Unlock()
				pctx, pcancel := context.WithTimeout(wctx, 2*time.Second)
				_, err := cli.Put(pctx, k, strings.Repeat("v", 100))
				pcancel()
				if err == nil {
					mu.Lock()
					acked[k] = true
					mu.Unlock()
				}
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	target := 400 + rng.Intn(600)
	for count() < target {
		time.Sleep(5 * time.Millisecond)
	}
	kill(leader)
	followers := []int{(leader + 1) % 3, (leader + 2) % 3}
	time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
	kill(followers[0])
	time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
	kill(followers[1])
	wcancel()
	wg.Wait()
	t.Logf("seed %d: %d puts acknowledged; leader %s lost", seed, len(acked), names[leader])

	survivors := []string{specs[followers[0]].Dir, specs[followers[1]].Dir}
	// What the election rule's choice with plain --force-new-cluster keeps.
	comp := compareJSONOf(t, survivors)
	elect := comp.ElectionChoice
	ec := comp.Candidate(elect)
	electCopy := filepath.Join(root, "election-copy")
	if err := fixture.CopyDir(elect, electCopy); err != nil {
		t.Fatal(err)
	}
	logs := map[string]map[string]uint64{}
	for _, s := range survivors {
		logs[s] = logKeys(t, s)
	}
	inAnyLog := func(k string) (uint64, bool) {
		best, ok := uint64(0), false
		for _, l := range logs {
			if i, found := l[k]; found && (!ok || i < best) {
				best, ok = i, true
			}
		}
		return best, ok
	}

	planFile := filepath.Join(root, "plan.json")
	run(t, 0, "recover", "plan", survivors[0], survivors[1], "--plan-file", planFile)
	var plan repair.RecoverPlan
	b, _ := os.ReadFile(planFile)
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	out := run(t, 0, "recover", "apply", planFile, "--backup-dir", filepath.Join(root, "backup"))
	if !strings.Contains(out, "--force-new-cluster") {
		t.Errorf("apply does not print the next step:\n%s", out)
	}
	memberName := names[followers[0]]
	if plan.Member == survivors[1] {
		memberName = names[followers[1]]
	}
	served := serve(t, memberName, plan.Member)
	var expected, missing, lostPredicted int
	for k := range acked {
		i, ok := inAnyLog(k)
		switch {
		case !ok || i <= plan.Keep:
			// Provably committed (or in the snapshots only): must be served.
			expected++
			if !served[k] {
				missing++
				t.Errorf("acknowledged %s (index %d, in a log: %v) is not served after recover (keep %d)", k, i, ok, plan.Keep)
			}
		case i <= plan.ProvenCommit:
			lostPredicted++
		}
	}
	if plan.Loses != 0 || lostPredicted != 0 {
		t.Errorf("recover predicts %d lost committed entries, %d acknowledged keys among them", plan.Loses, lostPredicted)
	}
	// Plain --force-new-cluster on the election rule's choice.
	electName := names[followers[0]]
	if elect == survivors[1] {
		electName = names[followers[1]]
	}
	servedElect := serve(t, electName, electCopy)
	var electLost, electPredicted int
	for k := range acked {
		i, ok := inAnyLog(k)
		if ok && i > ec.ForceKeep && i <= comp.ProvenCommit {
			electPredicted++
		}
		if (!ok || i <= plan.Keep) && !servedElect[k] {
			electLost++
		}
	}
	if electLost != electPredicted {
		t.Errorf("election rule's choice: %d provably committed acknowledged keys predicted lost, %d actually missing", electPredicted, electLost)
	}
	t.Logf("seed %d: proven commit %d; recover keeps up to %d on %s (force-new-cluster alone: %d); %d acknowledged keys served of %d expected; "+
		"election rule (%s, commit %d) with plain --force-new-cluster loses %d committed entries, %d acknowledged keys",
		seed, plan.ProvenCommit, plan.Keep, filepath.Base(plan.Member), plan.ForceKeep, expected-missing, expected,
		filepath.Base(elect), ec.ForceKeep, ec.ForceLoses, electLost)
}

func compareJSONOf(t *testing.T, servers []string) *inspect.Comparison {
	t.Helper()
	out := run(t, 0, append([]string{"compare", "-o", "json"}, servers...)...)
	var doc struct {
		Groups []*inspect.Comparison `json:"groups"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Groups) != 1 || len(doc.Groups[0].Replicas) != 2 {
		t.Fatalf("compare paired %d groups", len(doc.Groups))
	}
	return doc.Groups[0]
}
