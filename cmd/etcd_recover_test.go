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
	// SegmentSize and SnapshotCount, when set, replace 64 KiB and 300;
	// TickMs and ElectionMs, 20 and 200 ms.
	SegmentSize   int64  `json:",omitempty"`
	SnapshotCount uint64 `json:",omitempty"`
	TickMs        uint   `json:",omitempty"`
	ElectionMs    uint   `json:",omitempty"`
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
	if m.SegmentSize != 0 {
		wal.SegmentSizeBytes = m.SegmentSize
	}
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
	if m.TickMs != 0 {
		cfg.TickMs, cfg.ElectionMs = m.TickMs, m.ElectionMs
	}
	cfg.SnapshotCount, cfg.SnapshotCatchUpEntries = 300, 50
	if m.SnapshotCount != 0 {
		cfg.SnapshotCount = m.SnapshotCount
	}
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

// freePort returns a loopback address with a port nobody listens on, below
// Linux's ephemeral range (32768 on): a port the kernel hands out for ":0"
// can be taken again, between its listener's close and etcd's bind, by any
// outgoing connection, and a member that could not bind never started (a
// 5-member cluster ran with 4). Ports handed out once are not handed out
// again in this process.
func freePort(t *testing.T) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for try := 0; try < 1000; try++ {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.Intn(12000))
		if portsGiven[addr] {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[addr] = true
		return addr
	}
	t.Fatal("no free port between 20000 and 32000")
	return ""
}

var (
	portsMu    sync.Mutex
	portsGiven = map[string]bool{}
)

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
		// etcd's own heartbeat and election timeout: with 20 and 200 ms
		// a cluster on a machine busy with other tests kept electing
		// and took a minute to accept its first write.
		s := memberSpec{Name: n, Dir: filepath.Join(root, n+".etcd"), Peer: "http://" + freePort(t), Client: "http://" + freePort(t), TickMs: 100, ElectionMs: 1000}
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
	leader := waitLeader(t, cli, specs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
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
		if ctx.Err() != nil {
			t.Fatalf("the load stalled: %d of %d writes acknowledged in 60 s", count(), target)
		}
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

// waitLeader waits, up to two minutes, until the cluster accepts a write
// and a member says it leads, and returns that member.
func waitLeader(t *testing.T, cli *clientv3.Client, specs []memberSpec) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		if _, err := cli.Put(ctx, "ready", "1"); err == nil {
			if k := leaderOf(ctx, cli, specs); k >= 0 {
				return k
			}
		}
		if ctx.Err() != nil {
			t.Fatal("no leader accepted a write in two minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findLeader asks the members, for up to a minute, until one says it
// leads (an election may be under way on a busy machine), and returns it.
func findLeader(t *testing.T, cli *clientv3.Client, specs []memberSpec) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		if k := leaderOf(ctx, cli, specs); k >= 0 {
			return k
		}
		if ctx.Err() != nil {
			t.Fatal("no member said it leads in a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leaderOf is the member that says it leads, -1 if none does.
func leaderOf(ctx context.Context, cli *clientv3.Client, specs []memberSpec) int {
	for k, s := range specs {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := cli.Status(sctx, s.Client)
		cancel()
		if err == nil && st.Header.GetMemberId() == st.Leader {
			return k
		}
	}
	return -1
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

// etcdCluster is a cluster of etcd members in subprocesses.
type etcdCluster struct {
	specs []memberSpec
	procs []*exec.Cmd
}

// startCluster starts the members of specs (a fresh cluster, or the same
// one again on its data directories).
func startCluster(t *testing.T, specs []memberSpec) *etcdCluster {
	t.Helper()
	c := &etcdCluster{specs: specs, procs: make([]*exec.Cmd, len(specs))}
	for k := range specs {
		b, _ := json.Marshal(specs[k])
		p := exec.Command(os.Args[0], "-test.run=^$")
		p.Env = append(os.Environ(), envMember+"="+string(b))
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		c.procs[k] = p
	}
	t.Cleanup(c.stop)
	return c
}

// stop kills every member still running.
func (c *etcdCluster) stop() {
	for k, p := range c.procs {
		if p != nil {
			p.Process.Signal(syscall.SIGKILL)
			p.Wait()
			c.procs[k] = nil
		}
	}
}

func (c *etcdCluster) client(t *testing.T) *clientv3.Client {
	t.Helper()
	var eps []string
	for _, s := range c.specs {
		eps = append(eps, s.Client)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 30 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func newClusterSpecs(t *testing.T, root string, names []string) []memberSpec {
	var specs []memberSpec
	var cluster []string
	for _, n := range names {
		s := memberSpec{Name: n, Dir: filepath.Join(root, n+".etcd"), Peer: "http://" + freePort(t), Client: "http://" + freePort(t)}
		specs = append(specs, s)
		cluster = append(cluster, n+"="+s.Peer)
	}
	for k := range specs {
		specs[k].Cluster = strings.Join(cluster, ",")
	}
	return specs
}

// TestEtcdRepairFromReplica: a real 3-member etcd cluster writes, stops;
// a follower's WAL is damaged in a segment after its newest snapshot (a
// CRC mismatch, a zeroed sector, a missing or a truncated segment); etcd's
// restart path refuses it; raftctl repair --from another member mends it.
// Afterwards etcd's ReadAll and a raft restart succeed with the member's
// own HardState and the donor's entries byte for byte, and the three
// members, started again as a cluster, serve every key written.
func TestEtcdRepairFromReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd clusters")
	}
	root := t.TempDir()
	names := []string{"infra1", "infra2", "infra3"}
	specs := newClusterSpecs(t, root, names)
	c := startCluster(t, specs)
	cli := c.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// 1 KiB values: about 270 entries past the newest snapshot (etcd
	// snapshots every 300 in startMember) fill several 64 KiB segments.
	const keys = 1170
	val := strings.Repeat("v", 1000)
	for i := 0; i < keys; i++ {
		for {
			_, err := cli.Put(ctx, fmt.Sprintf("k-%06d", i), val)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	leader := findLeader(t, cli, specs)
	// Let the followers apply and persist everything, then stop.
	time.Sleep(500 * time.Millisecond)
	c.stop()
	member, donor := specs[(leader+1)%3], specs[(leader+2)%3]
	pristine := filepath.Join(root, "pristine")
	if err := fixture.CopyDir(member.Dir, pristine); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"crc-mismatch", "zeroed-sector", "missing-segment", "truncated-segment"} {
		t.Run(kind, func(t *testing.T) {
			os.RemoveAll(member.Dir)
			if err := fixture.CopyDir(pristine, member.Dir); err != nil {
				t.Fatal(err)
			}
			etcdRepairFrom(t, root, kind, member, donor)
		})
	}
	// The cluster, started again with the repaired member, serves every key.
	c2 := startCluster(t, specs)
	cli2 := c2.client(t)
	var n int64
	for ctx.Err() == nil {
		resp, err := cli2.Get(ctx, "k-", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err == nil {
			n = resp.Count
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n != keys {
		t.Fatalf("the cluster serves %d keys after the repair, want %d", n, keys)
	}
	// The repaired member itself answers, at the cluster's index.
	mcli, err := clientv3.New(clientv3.Config{Endpoints: []string{member.Client}, DialTimeout: 30 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer mcli.Close()
	for {
		resp, err := mcli.Get(ctx, "k-", clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithSerializable())
		if err == nil && resp.Count == keys {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the repaired member %s does not serve the %d keys: %v", member.Name, keys, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func etcdRepairFrom(t *testing.T, root, kind string, member, donor memberSpec) {
	mg := discoverOne(t, member.Dir)
	before, err := inspect.Summarize(context.Background(), mg)
	if err != nil {
		t.Fatal(err)
	}
	segs := before.SegmentList
	snap := before.Snapshot
	if snap == nil {
		t.Fatal("the member has no snapshot")
	}
	// The middle segment among those wholly after the snapshot.
	var after []string
	for k, s := range segs[:len(segs)-1] {
		if k > 0 && segs[k].Index > snap.Index {
			after = append(after, s.Path)
		}
	}
	if len(after) == 0 {
		t.Fatalf("no segment between the snapshot at %d and the last one: %v", snap.Index, segs)
	}
	seg := after[len(after)/2]
	recs, err := fixture.EntryRecords(seg)
	if err != nil || len(recs) < 3 {
		t.Fatalf("%s: %d entry records, %v", seg, len(recs), err)
	}
	r := recs[len(recs)/2]
	switch kind {
	case "crc-mismatch":
		err = fixture.FlipByte(seg, r.DataOffset()+r.DataLen/2)
	case "zeroed-sector":
		// A sector of zeros where a record begins: records follow it.
		err = fixture.ZeroRange(seg, r.Offset, 512)
	case "missing-segment":
		err = os.Remove(seg)
	case "truncated-segment":
		err = fixture.Truncate(seg, r.Offset+100)
	}
	if err != nil {
		t.Fatal(err)
	}
	rep, err := inspect.Verify(context.Background(), mg, inspect.VerifyOptions{NoLockCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, f := range rep.Findings {
		if f.Severity.AtLeast(inspect.SeverityError) {
			found = append(found, f.Code)
		}
	}
	if len(found) == 0 {
		t.Fatalf("%s: verify finds no error", kind)
	}
	t.Logf("%s: verify finds %v", kind, found)
	walDir, snapDir := filepath.Join(member.Dir, "member", "wal"), filepath.Join(member.Dir, "member", "snap")
	if _, err := fixture.EtcdRestart(walDir, snapDir, fixture.RestartOptions{SnapshotFromWAL: true}); err == nil {
		t.Fatalf("%s in %s: etcd still restarts", kind, filepath.Base(seg))
	}
	run(t, 1, "repair", member.Dir, "--from", donor.Dir, "--dry-run")
	out := run(t, 0, "repair", member.Dir, "--from", donor.Dir, "--backup-dir", filepath.Join(root, "backup-"+kind))
	t.Logf("%s in %s: %s", kind, filepath.Base(seg), strings.TrimSpace(out))
	got, err := fixture.EtcdRestart(walDir, snapDir, fixture.RestartOptions{SnapshotFromWAL: true})
	if err != nil {
		t.Fatalf("etcd restart after repair --from: %v", err)
	}
	ref, err := fixture.EtcdRestart(filepath.Join(donor.Dir, "member", "wal"), filepath.Join(donor.Dir, "member", "snap"), fixture.RestartOptions{SnapshotFromWAL: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := before.HardState
	if got.HardState.GetTerm() != hs.Term || got.HardState.GetVote() != hs.Vote || got.HardState.GetCommit() != hs.Commit || got.LastIndex != before.LastIndex {
		t.Fatalf("restarted with HardState %v and last index %d, want %+v and %d", got.HardState, got.LastIndex, hs, before.LastIndex)
	}
	if got.SnapIndex != snap.Index || got.Commit != hs.Commit {
		t.Fatalf("restarted from snapshot %d with commit %d, want %d and %d", got.SnapIndex, got.Commit, snap.Index, hs.Commit)
	}
	n := 0
	for i := got.SnapIndex + 1; i <= got.LastIndex; i++ {
		e, ok1 := got.Entry(i)
		f, ok2 := ref.Entry(i)
		if !ok1 || !ok2 || e != f {
			t.Fatalf("entry %d: %+v, the donor's %+v", i, e, f)
		}
		n++
	}
	t.Logf("%s: %d entries after the snapshot at %d are the donor's; HardState %d/%d/%d kept", kind, n, snap.Index, hs.Term, hs.Vote, hs.Commit)
}

func discoverOne(t *testing.T, dir string) inspect.Group {
	t.Helper()
	gs, err := inspect.Discover([]string{dir}, inspect.DiscoverOptions{})
	if err != nil || len(gs) != 1 {
		t.Fatalf("%s: %d groups, %v", dir, len(gs), err)
	}
	return gs[0]
}

// TestEtcdRecoverAppends: a real 3-member etcd cluster under a write load;
// one follower's data directory is copied (the process frozen with SIGSTOP
// for the copy, as a crash would leave it) well before the other's, so
// the two survivors hold different commits. Recover on the earlier one
// (--member) appends the committed entries it lacks from the later one;
// etcd --force-new-cluster on the result serves every acknowledged key
// that the later survivor's HardState proves committed, while plain
// --force-new-cluster on the earlier copy loses exactly the predicted
// committed entries.
func TestEtcdRecoverAppends(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd clusters")
	}
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d-members", n), func(t *testing.T) { etcdRecoverAppends(t, n) })
	}
}

func etcdRecoverAppends(t *testing.T, members int) {
	root := t.TempDir()
	var names []string
	for k := 1; k <= members; k++ {
		names = append(names, fmt.Sprintf("infra%d", k))
	}
	specs := newClusterSpecs(t, root, names)
	c := startCluster(t, specs)
	cli := c.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	leader := waitLeader(t, cli, specs)
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
	copyFrozen := func(k int, dst string) {
		p := c.procs[k].Process
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		err := fixture.CopyDir(specs[k].Dir, dst)
		if k != leader {
			p.Signal(syscall.SIGCONT)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Two followers survive; the leader and the others are lost.
	a, b := (leader+1)%members, (leader+2)%members
	early, late := filepath.Join(root, "early", names[a]+".etcd"), filepath.Join(root, "late", names[b]+".etcd")
	for count() < 300 {
		time.Sleep(5 * time.Millisecond)
	}
	copyFrozen(a, early)
	mu.Lock()
	ackedEarly := make([]string, 0, len(acked))
	for k := range acked {
		ackedEarly = append(ackedEarly, k)
	}
	mu.Unlock()
	atEarly := len(ackedEarly)
	for count() < atEarly+150 {
		time.Sleep(5 * time.Millisecond)
	}
	copyFrozen(b, late)
	wcancel()
	wg.Wait()
	c.stop()
	survivors := []string{early, late}
	comp := compareJSONOf(t, survivors)
	ce := comp.Candidate(early)
	if ce == nil || ce.ForceLoses == 0 {
		t.Fatalf("the early copy loses nothing with --force-new-cluster: %+v", comp.Candidates)
	}
	earlyCopy := filepath.Join(root, "early-plain", names[a]+".etcd")
	if err := fixture.CopyDir(early, earlyCopy); err != nil {
		t.Fatal(err)
	}
	logs := map[string]uint64{}
	for k, i := range logKeys(t, late) {
		logs[k] = i
	}
	planFile := filepath.Join(root, "plan.json")
	run(t, 0, "recover", "plan", early, late, "--member", early, "--plan-file", planFile)
	var plan repair.RecoverPlan
	raw, _ := os.ReadFile(planFile)
	if err := json.Unmarshal(raw, &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Donor != late || plan.AppendFrom == 0 || plan.AppendTo != comp.ProvenCommit || plan.Keep != comp.ProvenCommit || plan.Loses != 0 {
		t.Fatalf("plan: donor %s, append %d..%d, keep %d, loses %d; proven commit %d", plan.Donor, plan.AppendFrom, plan.AppendTo, plan.Keep, plan.Loses, comp.ProvenCommit)
	}
	run(t, 0, "recover", "apply", planFile, "--backup-dir", filepath.Join(root, "backup"))
	served := serve(t, names[a], early)
	servedPlain := serve(t, names[a], earlyCopy)
	// Keys acknowledged before the early copy were committed long before
	// the late one: its log holds them all.
	for _, k := range ackedEarly {
		if _, ok := logs[k]; !ok {
			t.Errorf("%s, acknowledged before the early copy, is not in the late copy's log", k)
		}
	}
	// Keys acknowledged later but not in the late copy's log were
	// committed by the leader and the follower copied early: no survivor
	// holds them.
	var expected, missing, plainLost, plainPredicted int
	for k := range acked {
		i, inLog := logs[k]
		if !inLog || i > plan.Keep {
			continue
		}
		expected++
		if !served[k] {
			missing++
			t.Errorf("acknowledged %s (index %d) is not served after recover (keep %d)", k, i, plan.Keep)
		}
		if !servedPlain[k] {
			plainLost++
		}
		if inLog && i > ce.ForceKeep {
			plainPredicted++
		}
	}
	if plainLost != plainPredicted || plainLost == 0 {
		t.Errorf("plain --force-new-cluster on the early copy: %d acknowledged keys predicted lost, %d missing", plainPredicted, plainLost)
	}
	t.Logf("%d members, %d lost: early copy of %s: commit %d; late copy of %s proves %d; recover appends %d..%d from it and keeps %d: %d acknowledged keys served of %d; "+
		"plain --force-new-cluster on the early copy keeps up to %d and loses %d committed entries, %d acknowledged keys",
		members, members-2, names[a], plan.HardState.Commit, names[b], comp.ProvenCommit, plan.AppendFrom, plan.AppendTo, plan.Keep, expected-missing, expected,
		ce.ForceKeep, ce.ForceLoses, plainLost)
}
