package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/testutil"
)

// These tests cut a receiver off from Redis while a storm runs, with every
// notification sent to both receivers, as an Alertmanager cluster does.
// The promise: every alert one of them answered 200 runs; none runs twice
// without an interrupted entry (an attempt in flight on the receiver that
// was cut off, taken over by the other); the journal shows every run.

// slowCountingRule is countingRule with a hook that works a little, so
// that attempts are in flight when the partition comes.
func slowCountingRule(dir string) (config, runs string) {
	return countingRule(dir, "    cooldown: 0s\n    max_attempts: 3\n    concurrency: 8", "sleep 0.3")
}

// fireAtBoth posts each agent's alert to both receivers, to one 100 ms
// after the other (every other agent first to the other), as an
// Alertmanager's two webhook configurations deliver, each sent again after
// a 503 for up to 30 s, and returns the agents at least one answered 200.
func fireAtBoth(rs []*receiverProc, agents []string) []string {
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for i, a := range agents {
		for j := range 2 {
			r := rs[(i+j)%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(j) * 100 * time.Millisecond)
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
					if code, _ := r.post("/webhook", oneAlert(a)); code == 200 {
						mu.Lock()
						acked[a] = true
						mu.Unlock()
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	var out []string
	for a := range acked {
		out = append(out, a)
	}
	return out
}

// healedOnce waits until every acknowledged agent ran and both receivers
// are idle, then checks the promise through the shared journal, and
// returns how many ran twice.
func healedOnce(t *testing.T, rs []*receiverProc, runs string, acked []string, within time.Duration) (twice int) {
	t.Helper()
	testutil.Eventually(t, within, "every acknowledged alert to have run", func() bool { return allRan(runs, acked) })
	testutil.Eventually(t, within, "both receivers to be idle", func() bool {
		for _, r := range rs {
			if r.metric("selfheal_receiver_queue_length") != 0 || r.metric("selfheal_receiver_unflushed_writes") != 0 {
				return false
			}
		}
		return true
	})
	interrupted, success := map[string]int{}, map[string]int{}
	for _, en := range rs[0].journaledAs("interrupted") {
		interrupted[en.Labels["agent"]]++
	}
	for _, en := range rs[0].journaledAs("success") {
		success[en.Labels["agent"]]++
	}
	for a, k := range runCounts(runs) {
		if k > 1 {
			twice++
		}
		if k > 1+interrupted[a] {
			t.Errorf("agent %s ran %d times with %d interrupted entries", a, k, interrupted[a])
		}
		if success[a]+interrupted[a] < k {
			t.Errorf("agent %s ran %d times; the journal shows %d successes and %d interrupted", a, k, success[a], interrupted[a])
		}
	}
	return twice
}

// TestAPartitionedReceiverStopsAndItsWorkIsTakenOver: receiver A reaches
// Redis (a primary with a replica) through a proxy that holds all its
// traffic, sockets open, for 20 s (the lease is the default 15 s) while a
// storm runs, then lets it through again. B takes A's work over once A's
// lease expires; A starts nothing it cannot record.
func TestAPartitionedReceiverStopsAndItsWorkIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	config, runs := slowCountingRule(dir)
	a, b, toA := pairWithOneCutOff(t, config, "host-a")
	rs := []*receiverProc{a, b}
	acked := fireAtBoth(rs, agentNames(0, 200))
	testutil.Eventually(t, 30*time.Second, "A to be running remediations", func() bool { return a.metric("selfheal_remediation_in_flight") > 0 })
	toA.Hold()
	cut := time.Now()
	during := make(chan []string, 1) // delivered while the partition lasts, 503s sent again
	go func() { during <- fireAtBoth(rs, agentNames(200, 260)) }()
	testutil.Eventually(t, time.Minute, "B to take A's work over", func() bool { return b.metric("selfheal_receiver_taken_over_total") > 0 })
	tookOver := time.Since(cut)
	time.Sleep(20*time.Second - time.Since(cut)) // the partition lasts 20 s
	toA.Release()
	acked = append(acked, <-during...)
	twice := healedOnce(t, rs, runs, acked, 2*time.Minute)
	fmt.Printf("partition: %d acknowledged, none lost; taken over %.1fs and all run %.1fs after the cut (healed at 20s); %d ran twice, each with an interrupted entry, none without\n",
		len(acked), tookOver.Seconds(), doneAfter(runs, acked, cut).Seconds(), twice)
}

// TestASplitBrainRunsNothingTwiceUnjournaled: a primary with two replicas
// under three Sentinels. Everything but receiver A reaches the primary
// through proxies (the replicas' links, the Sentinels, B through the
// address Sentinel gives); A reaches it through a path of its own, as a
// virtual IP would. The proxies hold for 25 s: the Sentinels promote a
// replica and B follows it, while A still reaches the old primary. A's
// lease and starts there are acknowledged by no replica, so A starts
// nothing; B takes A's work over once A's lease expires. Then the old
// primary comes back as a replica (losing what A wrote) and A's path moves
// to the new primary.
func TestASplitBrainRunsNothingTwiceUnjournaled(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string // every Redis's
	}{
		{"the receivers' checks alone", nil},
		// The store's half: a primary without a replica refuses writes.
		{"with min-replicas-to-write", []string{"--min-replicas-to-write", "1", "--min-replicas-max-lag", "2"}},
	} {
		t.Run(c.name, func(t *testing.T) { splitBrain(t, c.name, c.args) })
	}
}

func splitBrain(t *testing.T, name string, args []string) {
	dir := t.TempDir()
	primary := testutil.StartRedis(t, testutil.RedisOptions{Args: args})
	var links []*testutil.Proxy // the replicas' and the Sentinels' paths to the primary
	for range 2 {
		link := testutil.StartProxy(t, primary.Addr)
		testutil.StartRedis(t, testutil.RedisOptions{ReplicaOf: link.Addr, Args: args})
		links = append(links, link)
	}
	toPrimary := testutil.StartProxy(t, primary.Addr)
	links = append(links, toPrimary)
	var sentinels []string
	for range 3 {
		sentinels = append(sentinels, testutil.StartSentinel(t, "selfheal", toPrimary.Addr, "", 2).Addr)
	}
	url := "redis://" + sentinels[0] + "/0?master_name=selfheal&addr=" + sentinels[1] + "&addr=" + sentinels[2]
	toA := testutil.StartProxy(t, primary.Addr)
	config, runs := slowCountingRule(dir)
	a := startReceiverOn(t, "host-a", t.TempDir(), config, "--storage.redis.url", "redis://"+toA.Addr+"/0")
	b := startReceiverOn(t, "host-b", t.TempDir(), config, "--storage.redis.url", url)
	rs := []*receiverProc{a, b}
	acked := fireAtBoth(rs, agentNames(0, 200))
	testutil.Eventually(t, 30*time.Second, "A to be running remediations", func() bool { return a.metric("selfheal_remediation_in_flight") > 0 })
	for _, l := range links {
		l.Hold()
	}
	cut := time.Now()
	testutil.Eventually(t, 30*time.Second, "the Sentinels to promote a replica", func() bool {
		return sentinelPrimary(t, sentinels[1]) != toPrimary.Addr
	})
	promoted := time.Since(cut)
	during := make(chan []string, 1) // delivered while the partition lasts, 503s sent again
	go func() { during <- fireAtBoth(rs, agentNames(200, 260)) }()
	testutil.Eventually(t, time.Minute, "B to take A's work over", func() bool { return b.metric("selfheal_receiver_taken_over_total") > 0 })
	tookOver := time.Since(cut)
	if v := a.metric("selfheal_receiver_lease_confirmed"); v != 0 {
		t.Errorf("A's lease on the isolated primary: confirmed %v", v)
	}
	time.Sleep(25*time.Second - time.Since(cut)) // the partition lasts 25 s
	for _, l := range links {
		l.Release()
	}
	toA.Retarget(sentinelPrimary(t, sentinels[1]))
	acked = append(acked, <-during...)
	twice := healedOnce(t, rs, runs, acked, 2*time.Minute)
	fmt.Printf("split brain, %s: %d acknowledged, none lost; promoted %.1fs, taken over %.1fs and all run %.1fs after the cut (healed at 25s); %d ran twice, each with an interrupted entry, none without; A's writes refused for want of replicas: %d\n",
		name, len(acked), promoted.Seconds(), tookOver.Seconds(), doneAfter(runs, acked, cut).Seconds(), twice, strings.Count(a.proc.Output.String(), "NOREPLICAS"))
}

// sentinelPrimary is the address the Sentinel at addr names as the primary.
func sentinelPrimary(t *testing.T, addr string) string {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	a, err := c.Do(context.Background(), "SENTINEL", "get-master-addr-by-name", "selfheal").StringSlice()
	if err != nil || len(a) != 2 {
		t.Fatalf("asking Sentinel for the primary: %v %v", a, err)
	}
	return a[0] + ":" + a[1]
}

// TestAPauseHoldsEveryReplica: two receivers on one Redis. A pause made
// through A holds the alerts both accept, journaled paused and run by
// neither; a resume through B frees them, and each runs once.
func TestAPauseHoldsEveryReplica(t *testing.T) {
	dir := t.TempDir()
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	config, runs := countingRule(dir, "    cooldown: 0s")
	a := startReceiverOn(t, "host-a", t.TempDir(), config, "--storage.redis.url", "redis://"+rd.Addr+"/0")
	b := startReceiverOn(t, "host-b", t.TempDir(), config, "--storage.redis.url", "redis://"+rd.Addr+"/0")
	pauseThrough(t, a, b)
	acked := append(a.sendAll(agentNames(0, 20)), b.sendAll(agentNames(20, 40))...)
	if len(acked) != 40 {
		t.Fatalf("%d of 40 alerts accepted while paused", len(acked))
	}
	testutil.Eventually(t, 20*time.Second, "every alert to be journaled paused", func() bool {
		return len(a.journaledAs("paused")) == 40
	})
	if ran := runCounts(runs); len(ran) != 0 {
		t.Fatalf("ran while paused: %v", ran)
	}
	resumed := resumeThrough(t, b, a, runs, acked)
	fmt.Printf("pause on two replicas: 40 alerts held, none run; all run %.1fs after the resume through the other replica\n", doneAfter(runs, acked, resumed).Seconds())
}

// TestApprovalOnTwoReplicas: two receivers on one Redis; the same
// remediation approved through both at once runs once: one answer is
// taken, the other is refused with 409 naming the first.
func TestApprovalOnTwoReplicas(t *testing.T) {
	dir := t.TempDir()
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	config, runs := approvalRule(t, dir)
	a := startReceiverOn(t, "host-a", t.TempDir(), config, "--storage.redis.url", "redis://"+rd.Addr+"/0")
	b := startReceiverOn(t, "host-b", t.TempDir(), config, "--storage.redis.url", "redis://"+rd.Addr+"/0")
	if acked := a.sendAll([]string{"a1"}); len(acked) != 1 {
		t.Fatal("the alert was not accepted")
	}
	id := awaitingApproval(t, b)
	codes := make([]int, 2)
	bodies := make([]string, 2)
	approved := time.Now()
	var wg sync.WaitGroup
	for i, r := range []*receiverProc{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], bodies[i] = r.do("POST", "/api/v1/actions/"+id+"/approve", `{"by": "`+[]string{"alice", "bob"}[i]+`", "reason": "ok"}`)
		}()
	}
	wg.Wait()
	if codes[0]+codes[1] != 200+409 || !strings.Contains(bodies[0]+bodies[1], "already approved by ") {
		t.Fatalf("two approvals: %v %q", codes, bodies)
	}
	a.ranOnce(t, runs, []string{"a1"}, 30*time.Second)
	fmt.Printf("approval on two replicas: two approvals at once, one taken, one 409; run once %.1fs after the approval\n", doneAfter(runs, []string{"a1"}, approved).Seconds())
}

// TestAPauseHoldsThroughAStallAndAReload: two receivers on one Redis hold
// what they accepted under a pause while Redis stalls for 5 s (their reads
// of the pauses fail meanwhile) and after A reloads its configuration;
// alerts accepted after the stall are held too. A resume then runs each
// alert once.
func TestAPauseHoldsThroughAStallAndAReload(t *testing.T) {
	dir := t.TempDir()
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	config, runs := countingRule(dir, "    cooldown: 0s")
	a := startReceiverOn(t, "host-a", t.TempDir(), config, "--storage.redis.url", "redis://"+rd.Addr+"/0")
	b := startReceiverOn(t, "host-b", t.TempDir(), config, "--storage.redis.url", "redis://"+rd.Addr+"/0")
	pauseThrough(t, a, b)
	acked := append(a.sendAll(agentNames(0, 10)), b.sendAll(agentNames(10, 20))...)
	testutil.Eventually(t, 20*time.Second, "every alert to be journaled paused", func() bool {
		return len(a.journaledAs("paused")) == len(acked)
	})
	wokeUp(t, stallRedis(t, rd.Addr))
	if code, body := a.do("POST", "/-/reload", ""); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	a.sendUntilAccepted(agentNames(20, 25), time.Minute)
	b.sendUntilAccepted(agentNames(25, 30), time.Minute)
	acked = append(acked, agentNames(20, 30)...)
	testutil.Eventually(t, 20*time.Second, "the alerts after the stall to be journaled paused too", func() bool {
		return len(a.journaledAs("paused")) == len(acked)
	})
	if ran := runCounts(runs); len(ran) != 0 {
		t.Fatalf("ran while paused, across the stall and the reload: %v", ran)
	}
	resumed := resumeThrough(t, b, a, runs, acked)
	fmt.Printf("pause through a 5 s Redis stall and a reload: %d alerts held, none run; all run %.1fs after the resume\n", len(acked), doneAfter(runs, acked, resumed).Seconds())
}

// TestAnApprovalWaitsThroughAStallAndAReload: a remediation awaiting
// approval stays awaiting through a 5 s Redis stall and a reload of the
// replica holding it. An approval sent during the stall is taken once its
// claim lands (200) or refused (5xx), never answered 2xx and lost; the
// remediation runs once, well within the lease that a lock left behind by
// the stall would hold it.
func TestAnApprovalWaitsThroughAStallAndAReload(t *testing.T) {
	dir := t.TempDir()
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	config, runs := approvalRule(t, dir)
	// A lease of a minute: a lock of the alert left in the store by a
	// release the stall swallowed would hold the run back that long.
	a := startReceiverOn(t, "host-a", t.TempDir(), config, "--storage.redis.url", "redis://"+rd.Addr+"/0", "--remediation.lease-duration", "1m")
	if acked := a.sendAll([]string{"a1"}); len(acked) != 1 {
		t.Fatal("the alert was not accepted")
	}
	id := awaitingApproval(t, a)
	stalled := stallRedis(t, rd.Addr)
	code, body := a.do("POST", "/api/v1/actions/"+id+"/approve", `{"by": "alice", "reason": "during the stall"}`)
	wokeUp(t, stalled)
	if code/100 == 2 {
		// Taken after all: the claim landed when Redis woke.
		t.Logf("the approval sent during the stall was taken: %d %s", code, body)
	} else if code/100 != 5 {
		t.Fatalf("an approval during the stall: %d %s", code, body)
	}
	if c, b := a.do("POST", "/-/reload", ""); c != 200 {
		t.Fatalf("reload: %d %s", c, b)
	}
	if ran := runCounts(runs); len(ran) != 0 && code/100 != 2 {
		t.Fatalf("ran without an approval: %v", ran)
	}
	approved := time.Now()
	if code/100 != 2 {
		if c, b := a.do("POST", "/api/v1/actions/"+id+"/approve", `{"by": "alice", "reason": "after the stall"}`); c != 200 {
			t.Fatalf("approval after the stall: %d %s", c, b)
		}
	}
	a.ranOnce(t, runs, []string{"a1"}, 30*time.Second)
	fmt.Printf("approval through a 5 s Redis stall and a reload: the approval during the stall answered %d; run once %.1fs after the stall and the reload\n", code, doneAfter(runs, []string{"a1"}, approved).Seconds())
}

// pauseThrough pauses every rule through a and waits until b obeys it.
func pauseThrough(t *testing.T, a, b *receiverProc) {
	t.Helper()
	if code, body := a.do("POST", "/api/v1/pause", `{"for": "1h", "reason": "change window"}`); code != 200 {
		t.Fatalf("pause: %d %s", code, body)
	}
	testutil.Eventually(t, 5*time.Second, "B to see the pause", func() bool {
		_, body := b.do("GET", "/metrics", "")
		return strings.Contains(body, `selfheal_receiver_paused{rule="heal"} 1`)
	})
}

// resumeThrough ends the pause through b and checks through a that every
// acked alert then ran once; it returns when the resume was sent. Each
// replica runs and journals what it held: b's results are committed
// before a checks them all.
func resumeThrough(t *testing.T, b, a *receiverProc, runs string, acked []string) time.Time {
	t.Helper()
	resumed := time.Now()
	if code, body := b.do("DELETE", "/api/v1/pause", ""); code != 204 {
		t.Fatalf("resume: %d %s", code, body)
	}
	testutil.Eventually(t, time.Minute, "B to finish and commit what it held", func() bool {
		return allRan(runs, acked) && b.metric("selfheal_receiver_queue_length") == 0 && b.metric("selfheal_receiver_unflushed_writes") == 0
	})
	a.ranOnce(t, runs, acked, time.Minute)
	return resumed
}

// awaitingApproval waits until r journals one remediation awaiting
// approval and returns its id.
func awaitingApproval(t *testing.T, r *receiverProc) string {
	t.Helper()
	var id string
	testutil.Eventually(t, 10*time.Second, "the remediation to await approval", func() bool {
		code, body := r.do("GET", "/api/v1/actions?result=awaiting_approval", "")
		var out struct{ Actions []struct{ ID string } }
		if json.Unmarshal([]byte(body), &out) != nil || code != 200 || len(out.Actions) != 1 {
			return false
		}
		id = out.Actions[0].ID
		return true
	})
	return id
}

// TestAPauseMadeDuringAPartitionHoldsTheCutOffReplica: B works off a queue
// (one hook at a time) when a proxy cuts it off from Redis for 5 s, less
// than a lease; during the cut, a pause is made through A. When B reaches
// Redis again it starts none of its queue before it has seen the pause:
// no hook starts after the pause was made. A resume through A then runs
// each accepted alert once.
func TestAPauseMadeDuringAPartitionHoldsTheCutOffReplica(t *testing.T) {
	dir := t.TempDir()
	config, runs := countingRule(dir, "    cooldown: 0s\n    concurrency: 1", "sleep 0.3")
	a, b, toB := pairWithOneCutOff(t, config, "host-b")
	acked := b.sendAll(agentNames(0, 30))
	if len(acked) != 30 {
		t.Fatalf("%d of 30 alerts accepted", len(acked))
	}
	testutil.Eventually(t, 20*time.Second, "B to be working off its queue", func() bool { return len(readRuns(runs)) >= 2 })
	toB.Hold()
	if code, body := a.do("POST", "/api/v1/pause", `{"for": "1h", "reason": "change window"}`); code != 200 {
		t.Fatalf("pause during the partition: %d %s", code, body)
	}
	paused := time.Now()
	time.Sleep(5*time.Second - time.Since(paused)) // the partition lasts 5 s
	toB.Release()
	testutil.Eventually(t, 20*time.Second, "B to hold its queue under the pause", func() bool {
		return b.metric(`selfheal_remediation_deferred_total{reason="paused",rule="heal"}`) > 0
	})
	var after []string
	for _, r := range readRuns(runs) {
		if r.at.After(paused) {
			after = append(after, fmt.Sprintf("%s %.1fs after the pause", r.agent, r.at.Sub(paused).Seconds()))
		}
	}
	if len(after) > 0 {
		t.Fatalf("B started %d hooks after the pause was made: %v", len(after), after)
	}
	held := len(acked) - len(runCounts(runs))
	resumed := time.Now()
	if code, body := a.do("DELETE", "/api/v1/pause", ""); code != 204 {
		t.Fatalf("resume: %d %s", code, body)
	}
	b.ranOnce(t, runs, acked, time.Minute)
	fmt.Printf("pause made during a 5 s partition of B: %d of B's queue held, none started after the pause; all run %.1fs after the resume\n", held, doneAfter(runs, acked, resumed).Seconds())
}

// TestAnApprovalDuringAPartitionRunsOnce: a remediation awaits approval on
// B when a proxy cuts B off from Redis for 5 s; the approval, sent through
// A meanwhile, is taken (200). The remediation runs once, after the
// approval, by whichever replica gets it first.
func TestAnApprovalDuringAPartitionRunsOnce(t *testing.T) {
	dir := t.TempDir()
	config, runs := approvalRule(t, dir)
	a, b, toB := pairWithOneCutOff(t, config, "host-b")
	if acked := b.sendAll([]string{"a1"}); len(acked) != 1 {
		t.Fatal("the alert was not accepted")
	}
	id := awaitingApproval(t, b)
	toB.Hold()
	cut := time.Now()
	if code, body := a.do("POST", "/api/v1/actions/"+id+"/approve", `{"by": "alice", "reason": "during the partition"}`); code != 200 {
		t.Fatalf("approval through A while B is cut off: %d %s", code, body)
	}
	time.Sleep(5*time.Second - time.Since(cut)) // the partition lasts 5 s
	toB.Release()
	released := time.Now()
	b.ranOnce(t, runs, []string{"a1"}, 30*time.Second)
	if r := readRuns(runs); r[0].at.Before(cut) {
		t.Fatalf("ran before the approval: %v", r)
	}
	fmt.Printf("approval through A during a 5 s partition of B: taken, run once %.1fs after B was back\n", doneAfter(runs, []string{"a1"}, released).Seconds())
}

// approvalRule is countingRule with approval required, its asks posted to
// a sink that takes them (the approvals come through the API).
func approvalRule(t *testing.T, dir string) (config, runs string) {
	am := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(am.Close)
	config, runs = countingRule(dir, "    approval: {required: true}")
	return "global: {escalation: {alertmanager_urls: ['" + am.URL + "']}}\n" + config, runs
}

// pairWithOneCutOff starts receivers host-a and host-b on one config and a
// Redis primary with a replica; the one named cut reaches the primary
// through the returned proxy, which can cut it off.
func pairWithOneCutOff(t *testing.T, config, cut string) (a, b *receiverProc, proxy *testutil.Proxy) {
	primary := testutil.StartRedis(t, testutil.RedisOptions{})
	testutil.StartRedis(t, testutil.RedisOptions{ReplicaOf: primary.Addr})
	proxy = testutil.StartProxy(t, primary.Addr)
	start := func(host string) *receiverProc {
		addr := primary.Addr
		if host == cut {
			addr = proxy.Addr
		}
		return startReceiverOn(t, host, t.TempDir(), config, "--storage.redis.url", "redis://"+addr+"/0")
	}
	return start("host-a"), start("host-b"), proxy
}
