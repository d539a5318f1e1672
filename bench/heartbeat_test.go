package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/testutil"
)

// BenchmarkHeartbeats sends heartbeats of 10,000 agents over HTTP at 50
// connections to selfheal_exporter (embedded store on) and the equivalent
// push to Debian's prometheus-pushgateway (a PUT of a one-sample group per
// agent), in the same run. Target: at least 100x pushgateway, no errors.
func BenchmarkHeartbeats(b *testing.B) {
	const agents, conc = 10000, 50
	dur := 5 * time.Second
	dir := b.TempDir()
	exporter := buildBinary(b, dir, "selfheal_exporter")
	testutil.WriteFile(b, dir, "hb.yml", fleetConfig)
	eAddr := testutil.Addr(testutil.FreePort(b))
	ep := startServer(b, dir, eAddr, exporter, "--config.file", "hb.yml", "--web.listen-address", eAddr,
		"--storage.path", filepath.Join(dir, "hb.db"), "--log.level", "error")

	pgAddr := testutil.Addr(testutil.FreePort(b))
	startServer(b, dir, pgAddr, testutil.Binary(b, "prometheus-pushgateway"), "--web.listen-address", pgAddr, "--log.level", "error")

	hbScript := heartbeatScript(b, dir, agents)
	pgScript := testutil.WriteFile(b, dir, "pg.lua", fmt.Sprintf(`
local i = 0
request = function()
  i = i + 1
  return wrk.format("PUT", "/metrics/job/heartbeat/instance/agent-" .. (i %% %d), nil, "heartbeat_timestamp_seconds 1.7e9\n")
end`, agents))

	runWrkScript(b, conc, time.Second, "http://"+eAddr+"/", hbScript) // warm-up
	self, selfFail := runWrkScript(b, conc, dur, "http://"+eAddr+"/", hbScript)
	time.Sleep(time.Second)
	pg, pgFail := runWrkScript(b, conc, dur, "http://"+pgAddr+"/", pgScript)

	var stats struct {
		TotalAgents int `json:"total_agents"`
	}
	getJSON(b, "http://"+eAddr+"/api/v1/stats", &stats)
	fmt.Printf("heartbeats of %d agents at %d connections, %v each:\n", agents, conc, dur)
	fmt.Printf("  selfheal_exporter (bbolt):  %8.0f heartbeats/s (%d failed), %d agents registered\n", self, selfFail, stats.TotalAgents)
	fmt.Printf("  prometheus-pushgateway:     %8.0f pushes/s (%d failed)\n", pg, pgFail)
	fmt.Printf("  ratio: %.0fx (target >= 100x)\n", self/pg)
	fmt.Printf("  selfheal_exporter peak RSS: %.0f MiB\n", rssMiB(ep.Cmd.Process.Pid))
	if stats.TotalAgents != agents {
		b.Fatalf("%d agents registered, want %d", stats.TotalAgents, agents)
	}
	b.ReportMetric(self, "heartbeats/s")
	b.ReportMetric(self/pg, "x_pushgateway")
}

// BenchmarkScrape100kAgents times /metrics with 100,000 registered agents
// loaded from the embedded store. Targets: one scrape under 250 ms, RSS
// under 300 MiB.
func BenchmarkScrape100kAgents(b *testing.B) {
	const agents = 100000
	dir := b.TempDir()
	db := filepath.Join(dir, "agents.db")
	st, err := boltstore.Open(db)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixNano()
	var kvs []store.KV
	for i := range agents {
		rec, _ := json.Marshal(map[string]any{"group": "fleet", "env": fmt.Sprintf("env-%d", i%50), "ip": fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), "service": "agent", "last": now - int64(i%600)*1e9, "registered": now})
		kvs = append(kvs, store.KV{Key: fmt.Sprintf("agent-%06d", i), Value: rec})
	}
	if err := st.Put(context.Background(), "agents", kvs...); err != nil {
		b.Fatal(err)
	}
	st.Close()

	exporter := buildBinary(b, dir, "selfheal_exporter")
	testutil.WriteFile(b, dir, "hb.yml", fleetConfig)
	addr := testutil.Addr(testutil.FreePort(b))
	p := startServer(b, dir, addr, exporter, "--config.file", "hb.yml", "--web.listen-address", addr, "--storage.path", db, "--log.level", "error")

	client := &http.Client{Timeout: time.Minute}
	var times []time.Duration
	var size int
	var body []byte
	for range 5 {
		start := time.Now()
		resp, err := client.Get("http://" + addr + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		times = append(times, time.Since(start))
		size = len(body)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	series := strings.Count(string(body), "\nselfheal_agent_last_heartbeat_timestamp_seconds{")
	fmt.Printf("/metrics with %d agents (%d per-agent last-heartbeat series, %d MiB):\n", agents, series, size>>20)
	fmt.Printf("  scrape: median %v, best %v, worst %v (target < 250ms)\n", times[2].Round(time.Millisecond), times[0].Round(time.Millisecond), times[4].Round(time.Millisecond))
	fmt.Printf("  exporter peak RSS %.0f MiB (target < 300 MiB)\n", rssMiB(p.Cmd.Process.Pid))
	if series != agents {
		b.Fatalf("%d per-agent series, want %d", series, agents)
	}
	b.ReportMetric(float64(times[2].Milliseconds()), "ms/scrape")
	b.ReportMetric(rssMiB(p.Cmd.Process.Pid), "MiB_RSS")
}

func getJSON(b *testing.B, url string, v any) {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		b.Fatal(err)
	}
}
