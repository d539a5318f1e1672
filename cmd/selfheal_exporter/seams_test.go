package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/testutil"
)

// exporter is the built exporter running for a test.
type exporter struct {
	t    *testing.T
	dir  string
	addr string
	args []string
	proc *testutil.Process
}

func startExporter(t *testing.T, dir, config string, extra ...string) *exporter {
	t.Helper()
	e := &exporter{t: t, dir: dir, addr: testutil.Addr(testutil.FreePort(t))}
	cfg := testutil.WriteFile(t, dir, "exporter.yml", config)
	e.args = append([]string{"--config.file", cfg, "--web.listen-address", e.addr}, extra...)
	e.start()
	return e
}

func (e *exporter) start() {
	e.proc = testutil.Start(e.t, e.dir, binary, e.args...)
	testutil.WaitPort(e.t, e.addr, e.proc)
}

// agents lists the ids of the agents the exporter knows.
func (e *exporter) agents() []string {
	e.t.Helper()
	code, body := fetch(e.t, "GET", "http://"+e.addr+"/api/v1/agents")
	if code != 200 {
		e.t.Fatalf("agents: %d %s", code, body)
	}
	var out struct{ Agents []struct{ ID string } }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		e.t.Fatalf("%v: %.200s", err, body)
	}
	ids := make([]string, len(out.Agents))
	for i, a := range out.Agents {
		ids[i] = a.ID
	}
	return ids
}

// TestMaxAgentsHoldsUnderConcurrentRegistrations: 50 first heartbeats at
// once into a group of max_agents 5 register exactly 5, on the embedded
// store and on Redis; the rest are answered 429.
func TestMaxAgentsHoldsUnderConcurrentRegistrations(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	for name, store := range map[string][]string{
		"bbolt": {"--storage.path", "s.db"},
		"redis": {"--storage.redis.url", "redis://" + rd.Addr + "/0"},
	} {
		t.Run(name, func(t *testing.T) {
			e := startExporter(t, t.TempDir(), "agents: [{group: g, auto_register: true, max_agents: 5}]\n", store...)
			codes := map[int]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, _ := fetch(t, "POST", fmt.Sprintf("http://%s/api/v1/agents/a%d/heartbeat", e.addr, i))
					mu.Lock()
					codes[code]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if n := len(e.agents()); n != 5 || codes[204] != 5 || codes[429] != 45 {
				t.Fatalf("%d agents registered, answers %v; want 5, 5 x 204 and 45 x 429", n, codes)
			}
		})
	}
}

// sourceConfig is a group fed by a Redis heartbeat source (one hash, field
// = agent id, value = Unix seconds).
func sourceConfig(redisAddr string, maxAgents int) string {
	return fmt.Sprintf(`agents:
  - group: scriptengine
    max_agents: %d
    source:
      redis: {url: 'redis://%s/0', hash: 'selfhealing:heartbeats', poll_interval: 200ms}
`, maxAgents, redisAddr)
}

// fillSource writes n agents' heartbeats into the source's hash.
func fillSource(t *testing.T, addr string, n int) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	now := strconv.FormatInt(time.Now().Unix(), 10)
	fields := make([]any, 0, 2*n)
	for i := range n {
		fields = append(fields, fmt.Sprintf("se-%05d", i), now)
	}
	if err := c.HSet(context.Background(), "selfhealing:heartbeats", fields...).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestMaxAgentsHoldsForASource: a Redis heartbeat source of 50 ids fills a
// group of max_agents 5, no more.
func TestMaxAgentsHoldsForASource(t *testing.T) {
	src := testutil.StartRedis(t, testutil.RedisOptions{})
	fillSource(t, src.Addr, 50)
	e := startExporter(t, t.TempDir(), sourceConfig(src.Addr, 5), "--storage.path", "s.db")
	testutil.Eventually(t, 10*time.Second, "the source to be read twice", func() bool {
		_, body := fetch(t, "GET", "http://"+e.addr+"/metrics")
		var full float64
		for _, l := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(l, `selfheal_agent_source_entries_total{group="scriptengine",result="group_full"} `); ok {
				full, _ = strconv.ParseFloat(v, 64)
			}
		}
		return full >= 90
	})
	if n := len(e.agents()); n != 5 {
		t.Fatalf("%d agents registered from the source; max_agents is 5", n)
	}
}

// TestRemovedAgentsStayRemoved: agents deleted while snapshots run every
// 20 ms are not written back by a snapshot that copied them before the
// deletion; after a restart none of them is back.
func TestRemovedAgentsStayRemoved(t *testing.T) {
	dir := t.TempDir()
	e := startExporter(t, dir, "agents: [{group: g, auto_register: true}]\n", "--storage.path", "s.db", "--storage.snapshot-interval", "20ms")
	const n = 300
	for i := range n {
		if code, body := fetch(t, "POST", fmt.Sprintf("http://%s/api/v1/agents/a%d/heartbeat", e.addr, i)); code != 204 {
			t.Fatalf("heartbeat: %d %s", code, body)
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() { // a heartbeat makes the agent dirty for the next snapshot
			defer wg.Done()
			fetch(t, "POST", fmt.Sprintf("http://%s/api/v1/agents/a%d/heartbeat", e.addr, i))
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i%20) * time.Millisecond)
			fetch(t, "DELETE", fmt.Sprintf("http://%s/api/v1/agents/a%d", e.addr, i))
		}()
	}
	wg.Wait()
	// Heartbeats that came after their deletion registered their agent
	// again: those are legitimately known. The rest must stay gone.
	known := map[string]bool{}
	for _, id := range e.agents() {
		known[id] = true
	}
	e.proc.Stop()
	e.start()
	var back []string
	for _, id := range e.agents() {
		if !known[id] {
			back = append(back, id)
		}
	}
	if len(back) > 0 {
		t.Fatalf("%d removed agents came back after a restart: %v", len(back), back)
	}
}

// TestShutdownWithManySourceAgents: an exporter reading a source of 20,000
// new ids stops within seconds of SIGTERM, and what it registered is kept.
func TestShutdownWithManySourceAgents(t *testing.T) {
	src := testutil.StartRedis(t, testutil.RedisOptions{})
	fillSource(t, src.Addr, 20000)
	dir := t.TempDir()
	e := startExporter(t, dir, sourceConfig(src.Addr, 100000), "--storage.path", "s.db")
	testutil.Eventually(t, 30*time.Second, "some agents to be registered", func() bool {
		_, body := fetch(t, "GET", "http://"+e.addr+"/api/v1/stats")
		var s struct {
			TotalAgents int `json:"total_agents"`
		}
		json.Unmarshal([]byte(body), &s)
		return s.TotalAgents > 0
	})
	start := time.Now()
	e.proc.Cmd.Process.Signal(syscall.SIGTERM)
	if exited, _ := e.proc.Wait(15 * time.Second); !exited {
		t.Fatalf("the exporter ignored SIGTERM for %v", time.Since(start))
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	e.start()
	if n := len(e.agents()); n == 0 {
		t.Fatalf("nothing registered from the source was kept; db %s", filepath.Join(dir, "s.db"))
	}
}

// TestScrapeAnswersFromTheLastViewWhileRedisHangs: with the shared store
// stopped (SIGSTOP: connections open, nothing answers), concurrent scrapes
// answer within their timeout from the last view instead of queueing
// behind the store's timeouts.
func TestScrapeAnswersFromTheLastViewWhileRedisHangs(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	e := startExporter(t, t.TempDir(), "agents: [{group: g, auto_register: true}]\n", "--storage.redis.url", "redis://"+rd.Addr+"/0")
	if code, body := fetch(t, "POST", "http://"+e.addr+"/api/v1/agents/a1/heartbeat"); code != 204 {
		t.Fatalf("heartbeat: %d %s", code, body)
	}
	if err := rd.Proc.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer rd.Proc.Cmd.Process.Signal(syscall.SIGCONT)
	// Once a scrape found the store down, every scrape tries it again.
	testutil.Eventually(t, 20*time.Second, "a scrape to find the store down", func() bool {
		req, _ := http.NewRequest("GET", "http://"+e.addr+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "2")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "\nselfheal_store_up 0\n")
	})
	var wg sync.WaitGroup
	took := make([]time.Duration, 5)
	bodies := make([]string, 5)
	for i := range took {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", "http://"+e.addr+"/metrics", nil)
			req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "2")
			start := time.Now()
			resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
			took[i] = time.Since(start)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				bodies[i] = string(b)
			}
		}()
	}
	wg.Wait()
	for i := range took {
		if took[i] > 2500*time.Millisecond || !strings.Contains(bodies[i], `selfheal_agent_last_heartbeat_timestamp_seconds{group="g",agent="a1"`) {
			t.Fatalf("scrape %d took %v (timeout 2s); from the last view: %v", i, took[i], strings.Contains(bodies[i], `agent="a1"`))
		}
	}
}

// TestSentinelFailoverWithoutRestart: the exporter keeps its agents in a
// Redis watched by Sentinel, and reads a heartbeat source through the same
// Sentinels; after the primary is killed both go on against the promoted
// replica, no restart.
func TestSentinelFailoverWithoutRestart(t *testing.T) {
	const pw = "redis-secret"
	primary := testutil.StartRedis(t, testutil.RedisOptions{Password: pw})
	testutil.StartRedis(t, testutil.RedisOptions{Password: pw, ReplicaOf: primary.Addr})
	var sentinels []string
	for range 3 {
		sentinels = append(sentinels, testutil.StartSentinel(t, "mymaster", primary.Addr, pw, 2).Addr)
	}
	url := "redis://" + sentinels[0] + "/0?master_name=mymaster&addr=" + sentinels[1] + "&addr=" + sentinels[2]
	dir := t.TempDir()
	pwFile := testutil.WriteFile(t, dir, "redis.pass", pw+"\n")
	e := startExporter(t, dir, fmt.Sprintf(`agents:
  - {group: g, auto_register: true}
  - group: sourced
    source:
      redis: {url: '%s', password_file: '%s', hash: 'selfhealing:heartbeats', poll_interval: 200ms}
`, url, pwFile), "--storage.redis.url", url, "--storage.redis.password-file", pwFile)
	beat := func(id string) int {
		code, _ := fetch(t, "POST", "http://"+e.addr+"/api/v1/agents/"+id+"/heartbeat?group=g")
		return code
	}
	testutil.Eventually(t, 10*time.Second, "a heartbeat", func() bool { return beat("before") == 204 })
	c := redis.NewClient(&redis.Options{Addr: primary.Addr, Password: pw})
	c.HSet(context.Background(), "selfhealing:heartbeats", "src-1", strconv.FormatInt(time.Now().Unix(), 10))
	c.Do(context.Background(), "WAIT", 1, 2000)
	c.Close()
	testutil.Eventually(t, 10*time.Second, "the sourced agent", func() bool { return slices.Contains(e.agents(), "src-1") })

	primary.Proc.Kill()
	died := time.Now()
	testutil.Eventually(t, 30*time.Second, "heartbeats accepted again", func() bool { return beat("after") == 204 })
	t.Logf("heartbeats accepted again %v after the primary died", time.Since(died).Round(100*time.Millisecond))
	testutil.Eventually(t, 10*time.Second, "both agents listed, from the promoted replica", func() bool {
		ids := e.agents()
		return slices.Contains(ids, "before") && slices.Contains(ids, "after") && slices.Contains(ids, "src-1")
	})
	testutil.Eventually(t, 10*time.Second, "the source read again", func() bool {
		_, body := fetch(t, "GET", "http://"+e.addr+"/metrics")
		return strings.Contains(body, `selfheal_agent_source_up{group="sourced"} 1`)
	})
}

// TestAgentsSurviveAnEmptiedStore: the Redis under the exporter is emptied
// (FLUSHALL); the agents it knew, a lost one among them, are written back
// and still listed, the lost one still reported lost, as soon as the loss
// is noticed.
func TestAgentsSurviveAnEmptiedStore(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	e := startExporter(t, t.TempDir(), "agents: [{group: g, interval: 1s, grace: 1s, auto_register: true}]\n", "--storage.redis.url", "redis://"+rd.Addr+"/0")
	for _, id := range []string{"lost-1", "up-1"} {
		if code, body := fetch(t, "POST", "http://"+e.addr+"/api/v1/agents/"+id+"/heartbeat"); code != 204 {
			t.Fatalf("heartbeat: %d %s", code, body)
		}
	}
	c := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer c.Close()
	testutil.Eventually(t, 10*time.Second, "the epoch to be written", func() bool { return c.Exists(context.Background(), "selfheal:epoch").Val() == 1 })
	testutil.Eventually(t, 10*time.Second, "lost-1 to be lost", func() bool {
		_, body := fetch(t, "GET", "http://"+e.addr+"/api/v1/healthz")
		return strings.Contains(body, "lost-1") || strings.Contains(body, `"lost_agents":[{`)
	})
	c.FlushAll(context.Background())
	// Written back once noticed, before anything reads the exporter: another
	// replica reading the store meanwhile sees them.
	testutil.Eventually(t, 15*time.Second, "the agents written back without a read", func() bool {
		return c.HExists(context.Background(), "selfheal:agents", "lost-1").Val() && c.HExists(context.Background(), "selfheal:agents", "up-1").Val()
	})
	testutil.Eventually(t, 15*time.Second, "the loss to be noticed", func() bool {
		_, body := fetch(t, "GET", "http://"+e.addr+"/metrics")
		return strings.Contains(body, "selfheal_store_data_lost_total 1")
	})
	fetch(t, "POST", "http://"+e.addr+"/api/v1/agents/up-1/heartbeat")
	testutil.Eventually(t, 10*time.Second, "both agents back in the store", func() bool {
		return c.HExists(context.Background(), "selfheal:agents", "lost-1").Val() && c.HExists(context.Background(), "selfheal:agents", "up-1").Val()
	})
	if ids := e.agents(); !slices.Contains(ids, "lost-1") || !slices.Contains(ids, "up-1") {
		t.Fatalf("agents after the loss: %v", ids)
	}
}

// TestTheExporterStartsBeforeItsStore: started on a Redis that is not
// there yet, the exporter serves probes and says it is ready (a load
// balancer must not drop it for a Redis blip), answers heartbeats 503 with
// Retry-After, and takes them once Redis is up, with no restart.
func TestTheExporterStartsBeforeItsStore(t *testing.T) {
	port := testutil.FreePort(t)
	e := startExporter(t, t.TempDir(), "agents: [{group: fleet, interval: 1m, grace: 1m, auto_register: true}]\n",
		"--storage.redis.url", "redis://"+testutil.Addr(port)+"/0")
	url := "http://" + e.addr
	if code, body := fetch(t, "GET", url+"/-/ready"); code != 200 {
		t.Fatalf("ready before Redis: %d %s", code, body)
	}
	if code, _ := fetch(t, "POST", url+"/api/v1/agents/a1/heartbeat?group=fleet"); code != 503 {
		t.Fatalf("a heartbeat before Redis: %d", code)
	}
	testutil.StartRedis(t, testutil.RedisOptions{Port: port})
	testutil.Eventually(t, 30*time.Second, "a heartbeat to be taken", func() bool {
		code, _ := fetch(t, "POST", url+"/api/v1/agents/a1/heartbeat?group=fleet")
		return code == 204
	})
}

// TestOpenWriteAPIsWarn: with no admin token and no basic auth, the
// exporter warns at start when it listens beyond loopback, and not on
// loopback alone.
func TestOpenWriteAPIsWarn(t *testing.T) {
	dir := t.TempDir()
	cfg := testutil.WriteFile(t, dir, "exporter.yml", "agents: [{group: fleet, interval: 1m, grace: 1m, auto_register: true}]\n")
	for _, c := range []struct {
		listen string
		warns  bool
	}{
		{"127.0.0.1", false},
		{"", true}, // every interface
	} {
		port := testutil.FreePort(t)
		p := testutil.Start(t, dir, binary, "--config.file", cfg, "--web.listen-address", fmt.Sprintf("%s:%d", c.listen, port), "--storage.path", filepath.Join(dir, fmt.Sprint(port, ".db")))
		testutil.WaitPort(t, testutil.Addr(port), p)
		if warned := strings.Contains(p.Output.String(), "The write APIs (heartbeats, overrides, deletions) take requests from anyone"); warned != c.warns {
			t.Errorf("listening on %q: warned %v\n%s", c.listen, warned, p.Output.String())
		}
		p.Stop()
	}
}
