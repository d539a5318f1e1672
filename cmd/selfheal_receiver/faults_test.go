package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/testutil"
)

// These tests hold the webhook's promise under store faults: every alert
// answered 200 runs, once, and the journal shows the run. Each alert is
// one webhook of its own (agent aN), and the hook appends the agent to a
// file, so that runs are counted where they happen.

// countingRule is a rule whose hook records each run of an AgentLost
// alert's agent in runs, then runs work (shell, "" for none).
func countingRule(dir, extra string, work ...string) (config, runs string) {
	runs = filepath.Join(dir, "runs")
	hook := filepath.Join(dir, "count.sh")
	_ = os.WriteFile(hook, []byte("#!/bin/sh\necho \"$2 $(date +%s.%N)\" >> \"$1\"\n"+strings.Join(work, "\n")+"\n"), 0o755)
	return `
rules:
  - name: heal
    match: 'alertname="AgentLost"'
    require_labels: {agent: '^a[0-9]+$'}
` + extra + `
    actions:
      - exec: {command: [` + hook + `, ` + runs + `, '{{ .Labels.agent }}'], timeout: 30s}
`, runs
}

// oneAlert is a webhook of the firing AgentLost alert of agent.
func oneAlert(agent string) string {
	return `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"AgentLost","agent":"` + agent +
		`"},"startsAt":"2026-11-22T05:00:00Z"}]}`
}

// sendAll posts each agent's alert, concurrently, and returns the agents
// answered 200.
func (r *receiverProc) sendAll(agents []string) []string {
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _ := r.do("POST", "/webhook", oneAlert(a)); code == 200 {
				mu.Lock()
				acked = append(acked, a)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acked
}

// agents names agents from..to-1.
func agentNames(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint("a", i))
	}
	return out
}

// allRan tells whether every one of agents ran at least once.
func allRan(runs string, agents []string) bool {
	n := runCounts(runs)
	for _, a := range agents {
		if n[a] == 0 {
			return false
		}
	}
	return true
}

// runCounts reads how often each agent's hook ran.
func runCounts(path string) map[string]int {
	n := map[string]int{}
	for _, r := range readRuns(path) {
		n[r.agent]++
	}
	return n
}

type hookRun struct {
	agent string
	at    time.Time
}

// readRuns reads the hook's lines: the agent and when it ran.
func readRuns(path string) []hookRun {
	b, _ := os.ReadFile(path)
	var out []hookRun
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r hookRun
		var sec float64
		if _, err := fmt.Sscan(l, &r.agent, &sec); err == nil {
			r.at = time.Unix(0, int64(sec*1e9))
			out = append(out, r)
		}
	}
	return out
}

// doneAfter is how long after from the last of agents first ran.
func doneAfter(path string, agents []string, from time.Time) time.Duration {
	first := map[string]time.Time{}
	for _, r := range readRuns(path) {
		if t, ok := first[r.agent]; !ok || r.at.Before(t) {
			first[r.agent] = r.at
		}
	}
	var last time.Time
	for _, a := range agents {
		if first[a].After(last) {
			last = first[a]
		}
	}
	return last.Sub(from)
}

// ranOnce waits for every acknowledged agent's hook to have run and for
// the receiver to have nothing left to do, then requires that none ran
// twice and that the journal shows exactly one successful run of each.
func (r *receiverProc) ranOnce(t *testing.T, runs string, acked []string, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, "every acknowledged alert to have run", func() bool {
		return allRan(runs, acked) && r.metric("selfheal_receiver_queue_length") == 0 && r.metric("selfheal_receiver_unflushed_writes") == 0
	})
	n := runCounts(runs)
	for a, k := range n {
		if k > 1 {
			t.Errorf("agent %s ran %d times", a, k)
		}
	}
	success := map[string]int{}
	for _, en := range r.journaledAs("success") {
		success[en.Labels["agent"]]++
	}
	for _, a := range acked {
		if success[a] != 1 {
			t.Errorf("the journal shows %d successful runs of %s", success[a], a)
		}
	}
	for _, en := range r.journaledAs("failed") {
		if strings.Contains(en.Reason, "store unavailable") {
			t.Errorf("%s was journaled failed for a store failure: %s", en.Labels["agent"], en.Reason)
		}
	}
}

type labeled struct {
	Labels map[string]string
	Result string
	Reason string
}

// journaledAs returns the journal's entries with result (at most 1000).
func (r *receiverProc) journaledAs(result string) []labeled {
	r.t.Helper()
	code, body := r.do("GET", "/api/v1/actions?limit=1000&result="+result, "")
	var out struct{ Actions []labeled }
	if err := json.Unmarshal([]byte(body), &out); code != 200 || err != nil {
		r.t.Fatalf("reading the journal: %d %v %s", code, err, body)
	}
	return out.Actions
}

// mountTmpfs mounts a tmpfs of size at dir/name, detached when the test
// ends; it skips where mounting is not allowed.
func mountTmpfs(t *testing.T, dir, name, size string) string {
	fs := filepath.Join(dir, name)
	if err := os.Mkdir(fs, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", fs).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", fs).Run() })
	return fs
}

// fill writes into dir until its filesystem is full, and returns the
// file that holds the room.
func fill(t *testing.T, dir string) string {
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for {
		if _, err := f.Write(make([]byte, 16<<10)); err != nil {
			return p // the filesystem is full
		}
	}
}

// TestAFullDiskLosesNoAcknowledgedAlert: on bbolt in a 4 MiB tmpfs, 20
// alerts, then the disk filled and 200 more (some answered 200, as bbolt
// reuses free pages), then the disk freed and the 200 sent again. A start
// the full disk could not record waits for the store: it is neither
// journaled failed nor counted as an attempt, and it runs once there is
// room.
func TestAFullDiskLosesNoAcknowledgedAlert(t *testing.T) {
	dir := t.TempDir()
	fs := mountTmpfs(t, dir, "fs", "4m")
	config, runs := countingRule(dir, "    cooldown: 2s\n    max_attempts: 3")
	testutil.WriteFile(t, dir, "receiver.yml", config)
	r := &receiverProc{t: t, dir: dir, addr: testutil.Addr(testutil.FreePort(t))}
	r.args = []string{"--config.file", "receiver.yml", "--web.listen-address", r.addr, "--storage.path", filepath.Join(fs, "state.db")}
	r.start()
	acked := r.sendAll(agentNames(0, 20))
	r.ranOnce(t, runs, acked, 30*time.Second)
	filler := fill(t, fs)
	during := r.sendAll(agentNames(20, 220))
	waits := r.metric(`selfheal_remediation_deferred_total{reason="store_unavailable",rule="heal"}`)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	acked = append(acked, during...)
	freed := time.Now()
	resent := r.sendAll(agentNames(20, 220))
	all := append(acked, resent...)
	r.ranOnce(t, runs, all, time.Minute)
	fmt.Printf("full disk (bbolt): %d of 200 acknowledged while full, %d starts waited for the store; none lost, none twice, all run %.1fs after the disk was freed\n",
		len(during), int(waits), doneAfter(runs, all, freed).Seconds())
}

// sendUntilAccepted posts each agent's alert concurrently and sends it
// again, as Alertmanager does after a 503, until it is answered 200.
func (r *receiverProc) sendUntilAccepted(agents []string, within time.Duration) {
	r.t.Helper()
	var wg sync.WaitGroup
	deadline := time.Now().Add(within)
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if code, _ := r.post("/webhook", oneAlert(a)); code == 200 {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			r.t.Errorf("%s was never accepted", a)
		}()
	}
	wg.Wait()
}

// post is do for goroutines: an error is a code of 0.
func (r *receiverProc) post(path, body string) (int, string) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post("http://"+r.addr+path, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestARedisStallLosesNoAcknowledgedAlert: Redis stalls for 5 s (DEBUG
// SLEEP) while ten webhooks arrive; the store's client times out (503), and
// the claim scripts land when Redis wakes up. Alertmanager's re-sends then
// find the claims (200, duplicates). Every alert runs once, without a
// restart: the replica's next look at its backlog holds what landed late.
func TestARedisStallLosesNoAcknowledgedAlert(t *testing.T) {
	dir := t.TempDir()
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	config, runs := countingRule(dir, "")
	r := startReceiver(t, dir, config, "--storage.redis.url", "redis://"+rd.Addr+"/0")
	// As many webhooks at once before the stall leave the store's client
	// that many connections: during the stall the claims go out on them
	// (a new connection would time out in its handshake, before its claim).
	warm := r.sendAll(agentNames(100, 112))
	stalled := stallRedis(t, rd.Addr)
	agents := agentNames(2, 12)
	first := r.sendAll(agents)
	wokeUp(t, stalled)
	// The claims of the webhooks answered 503 landed when Redis woke up:
	// Alertmanager's re-sends find them.
	woke := time.Now()
	r.sendUntilAccepted(agents, time.Minute)
	r.ranOnce(t, runs, append(warm, agents...), time.Minute)
	fmt.Printf("Redis stall (DEBUG SLEEP 5): %d of %d acknowledged on their first try, the rest after their 503s (%v duplicates); none lost, none twice, all run %.1fs after Redis woke\n",
		len(first), len(agents), r.metric("selfheal_receiver_duplicate_notifications_total"), doneAfter(runs, agents, woke).Seconds())
}

// stallRedis stalls the Redis at addr for 5 s (DEBUG SLEEP) and returns
// once it no longer answers; wokeUp waits for it to answer again.
func stallRedis(t *testing.T, addr string) <-chan error {
	t.Helper()
	stalled := make(chan error, 1)
	go func() {
		c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 10 * time.Second})
		defer c.Close()
		stalled <- c.Do(context.Background(), "DEBUG", "SLEEP", "5").Err()
	}()
	testutil.Eventually(t, 5*time.Second, "Redis to stall", func() bool {
		c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
		defer c.Close()
		return c.Ping(context.Background()).Err() != nil
	})
	return stalled
}

// wokeUp waits for the stall of stallRedis to end.
func wokeUp(t *testing.T, stalled <-chan error) {
	t.Helper()
	if err := <-stalled; err != nil {
		t.Fatalf("DEBUG SLEEP: %v", err)
	}
}

// TestRedisAtMaxmemoryLosesNoAcknowledgedAlert: Redis refuses writes
// (maxmemory below what it uses, noeviction) while 200 alerts arrive and
// remediations run, then takes them again and the alerts are sent again.
// Remediations waiting to start wait for the store (for the alert's lock,
// which is a write too, or with their start); every acknowledged alert
// runs once and none is journaled failed.
func TestRedisAtMaxmemoryLosesNoAcknowledgedAlert(t *testing.T) {
	dir := t.TempDir()
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	// One at a time, so that remediations wait to start when the limit comes.
	config, runs := countingRule(dir, "    cooldown: 2s\n    max_attempts: 3\n    concurrency: 1")
	r := startReceiver(t, dir, config, "--storage.redis.url", "redis://"+rd.Addr+"/0")
	c := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer c.Close()
	ctx := context.Background()
	acked := r.sendAll(agentNames(0, 20))
	r.ranOnce(t, runs, acked, 30*time.Second)
	// A webhook in flight as the limit comes is recorded; its start then
	// finds Redis full.
	go func() {
		time.Sleep(20 * time.Millisecond)
		info, _ := c.Info(ctx, "memory").Result()
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
				var used int64
				fmt.Sscan(v, &used) // below what is used: every write is refused
				_ = c.ConfigSet(ctx, "maxmemory", fmt.Sprint(used-100<<10)).Err()
			}
		}
	}()
	during := r.sendAll(agentNames(20, 220))
	waits := r.metric(`selfheal_remediation_deferred_total{reason="store_unavailable",rule="heal"}`)
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	resent := r.sendAll(agentNames(20, 220))
	all := append(append(acked, during...), resent...)
	r.ranOnce(t, runs, all, time.Minute)
	fmt.Printf("Redis at maxmemory: %d of 200 acknowledged at the limit, %v starts waited for the store; none lost, none twice, all run %.1fs after the limit was lifted\n",
		len(during), waits, doneAfter(runs, all, freed).Seconds())
}

// TestTheReceiverStartsWhenTheStoreAnswers: started before Redis, then on
// a primary that refuses writes for want of a replica
// (min-replicas-to-write 1: NOREPLICAS), the receiver stays up, answers
// /-/ready and /webhook 503, and starts by itself once the replica is
// there; the webhook sent then runs.
func TestTheReceiverStartsWhenTheStoreAnswers(t *testing.T) {
	dir := t.TempDir()
	port := testutil.FreePort(t)
	config, runs := countingRule(dir, "")
	testutil.WriteFile(t, dir, "receiver.yml", config)
	r := &receiverProc{t: t, dir: dir, addr: testutil.Addr(testutil.FreePort(t)), starting: true}
	r.args = []string{"--config.file", "receiver.yml", "--web.listen-address", r.addr, "--storage.path", "state.db", "--storage.redis.url", "redis://" + testutil.Addr(port) + "/0"}
	r.start()
	for _, path := range []string{"/-/ready", "/webhook"} {
		if code, body := r.post(path, oneAlert("a1")); code != 503 || !strings.Contains(body, "starting") {
			t.Fatalf("%s before the store answers: %d %s", path, code, body)
		}
	}
	primary := testutil.StartRedis(t, testutil.RedisOptions{Port: port, Args: []string{"--min-replicas-to-write", "1"}})
	testutil.Eventually(t, 30*time.Second, "a start refused for want of a replica", func() bool {
		return strings.Contains(r.proc.Output.String(), "NOREPLICAS")
	})
	if code, _ := r.do("GET", "/-/ready", ""); code != 503 {
		t.Fatalf("ready while the primary refuses writes: %d", code)
	}
	testutil.StartRedis(t, testutil.RedisOptions{ReplicaOf: primary.Addr})
	testutil.Eventually(t, 30*time.Second, "the receiver to be ready", func() bool {
		code, _ := r.do("GET", "/-/ready", "")
		return code == 200
	})
	if code, body := r.post("/webhook", oneAlert("a1")); code != 200 {
		t.Fatalf("a webhook once started: %d %s", code, body)
	}
	r.ranOnce(t, runs, []string{"a1"}, 30*time.Second)
}

// TestSecretFilesAreChecked: a FIFO given as the Redis password file ends
// the start with the reason instead of hanging it; a password file others
// may read is used, with a warning that never shows the password.
func TestSecretFilesAreChecked(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	config, _ := countingRule(dir, "")
	testutil.WriteFile(t, dir, "receiver.yml", config)
	p := testutil.Start(t, dir, binary, "--config.file", "receiver.yml", "--web.listen-address", testutil.Addr(testutil.FreePort(t)),
		"--storage.redis.url", "redis://127.0.0.1:1/0", "--storage.redis.password-file", fifo, "--"+serve.UnauthenticatedFlag)
	if exited, _ := p.Wait(10 * time.Second); !exited || !strings.Contains(p.Output.String(), "not a regular file") {
		t.Fatalf("a FIFO password file: exited %v, %s", exited, p.Output.String())
	}
	rd := testutil.StartRedis(t, testutil.RedisOptions{Password: "pa55word"})
	pw := filepath.Join(dir, "redis.pass")
	if err := os.WriteFile(pw, []byte("pa55word\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(pw, 0o644)
	r := startReceiver(t, dir, config, "--storage.redis.url", "redis://"+rd.Addr+"/0", "--storage.redis.password-file", pw)
	testutil.Eventually(t, 10*time.Second, "the receiver to be ready", func() bool { code, _ := r.do("GET", "/-/ready", ""); return code == 200 })
	out := r.proc.Output.String()
	if !strings.Contains(out, "readable by every user") || strings.Contains(out, "pa55word") {
		t.Fatalf("a password file others may read: %s", out)
	}
}
