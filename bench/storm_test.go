package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/store/redisstore"
	"github.com/selfheal/selfheal/internal/testutil"
)

// BenchmarkStorm sends one webhook of 10,000 matching alerts, each healed by
// exec /bin/true with the journal on (16 workers, rule concurrency 16, an
// in-memory window of 1,000), and reports the time to accept it (target
// under 2 s), the time to work it off, and the receiver's peak RSS.
func BenchmarkStorm(b *testing.B) {
	dir := b.TempDir()
	receiver := buildBinary(b, dir, "selfheal_receiver")
	testutil.WriteFile(b, dir, "r.yml", `
rules:
  - name: bench
    match: 'alertname="AgentLost"'
    require_labels: {agent: 'a[0-9]+'}
    concurrency: 16
    actions:
      - exec: {command: [/bin/true, '{{ .Labels.agent }}']}
`)
	addr := testutil.Addr(testutil.FreePort(b))
	p := startServer(b, dir, addr, receiver, "--config.file", "r.yml", noAuth, "--web.listen-address", addr, "--storage.path", filepath.Join(dir, "r.db"), "--log.level", "error", "--remediation.workers", "16")
	var body bytes.Buffer
	body.WriteString(`{"version":"4","status":"firing","alerts":[`)
	for i := range 10000 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"status":"firing","labels":{"alertname":"AgentLost","agent":"a%d","env":"prod-%d"},"startsAt":"2026-11-30T08:00:00Z"}`, i, i%50)
	}
	body.WriteString("]}")
	start := time.Now()
	resp, err := http.Post("http://"+addr+"/webhook", "application/json", &body)
	if err != nil {
		b.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	accepted := time.Since(start)
	if resp.StatusCode != 200 || !bytes.Contains(reply, []byte(`"accepted":10000`)) {
		b.Fatalf("storm: %d %s", resp.StatusCode, reply)
	}
	for count(b, addr) < 10000 {
		time.Sleep(100 * time.Millisecond)
	}
	_, last := healed(b, addr)
	b.Logf("storm of 10,000 alerts in one webhook (%d KiB): accepted in %v (target < 2 s), worked off %v after receipt, peak RSS %.0f MiB",
		body.Cap()>>10, accepted.Round(time.Millisecond), last.Sub(start).Round(time.Millisecond), rssMiB(p.Cmd.Process.Pid))
}

// BenchmarkActionsAPI reads GET /api/v1/actions from a journal of 100,000
// entries: the newest page, a page further down, a filter, and 20 calls
// at once with the receiver's peak RSS.
func BenchmarkActionsAPI(b *testing.B) {
	dir := b.TempDir()
	db := filepath.Join(dir, "r.db")
	st, err := boltstore.Open(db)
	if err != nil {
		b.Fatal(err)
	}
	kvs := journalEntries(100000)
	if err := st.Put(context.Background(), "journal", kvs...); err != nil {
		b.Fatal(err)
	}
	st.Close()
	receiver := buildBinary(b, dir, "selfheal_receiver")
	testutil.WriteFile(b, dir, "r.yml", "rules: []\n")
	addr := testutil.Addr(testutil.FreePort(b))
	p := startServer(b, dir, addr, receiver, "--config.file", "r.yml", noAuth, "--web.listen-address", addr, "--storage.path", db, "--log.level", "error")
	get := func(q string) time.Duration {
		start := time.Now()
		resp, err := http.Get("http://" + addr + "/api/v1/actions" + q)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	for _, q := range []string{"", "?before=" + kvs[50000].Key, "?rule=rare", "?limit=1000"} {
		var ts []time.Duration
		for range 21 {
			ts = append(ts, get(q))
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		b.Logf("GET /api/v1/actions%s over 100,000 entries: median %v (fastest %v, slowest %v)", q, ts[10].Round(10*time.Microsecond), ts[0].Round(10*time.Microsecond), ts[20].Round(10*time.Microsecond))
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); get("?limit=1000") }()
	}
	wg.Wait()
	b.Logf("after 20 parallel calls of 1,000 entries: peak RSS %.0f MiB", rssMiB(p.Cmd.Process.Pid))
}

// BenchmarkActionsAPIRedisVsBolt reads the newest page and a page from the
// middle of GET /api/v1/actions over 100,000 entries from a receiver on
// Redis (the journal kept in order by a sorted index) and from one on
// bbolt, in the same run, and prints the ratio. Target: Redis within 2x.
func BenchmarkActionsAPIRedisVsBolt(b *testing.B) {
	dir := b.TempDir()
	kvs := journalEntries(100000)
	bolt, err := boltstore.Open(filepath.Join(dir, "r.db"))
	if err != nil {
		b.Fatal(err)
	}
	if err := bolt.Put(context.Background(), "journal", kvs...); err != nil {
		b.Fatal(err)
	}
	bolt.Close()
	rd := testutil.StartRedis(b, testutil.RedisOptions{})
	rs, err := redisstore.Open("redis://"+rd.Addr+"/0", "selfheal")
	if err != nil {
		b.Fatal(err)
	}
	rs.Order(context.Background(), "journal")
	for i := 0; i < len(kvs); i += 10000 {
		if err := rs.Put(context.Background(), "journal", kvs[i:i+10000]...); err != nil {
			b.Fatal(err)
		}
	}
	rs.Close()
	receiver := buildBinary(b, dir, "selfheal_receiver")
	testutil.WriteFile(b, dir, "r.yml", "rules: []\n")
	start := func(store ...string) string {
		addr := testutil.Addr(testutil.FreePort(b))
		startServer(b, dir, addr, receiver, append([]string{"--config.file", "r.yml", noAuth, "--web.listen-address", addr, "--log.level", "error"}, store...)...)
		return addr
	}
	boltAddr := start("--storage.path", filepath.Join(dir, "r.db"))
	redisAddr := start("--storage.redis.url", "redis://"+rd.Addr+"/0")
	median := func(addr, q string) time.Duration {
		var ts []time.Duration
		for i := range 26 { // the first five warm the connections up
			if i == 5 {
				ts = ts[:0]
			}
			t0 := time.Now()
			resp, err := http.Get("http://" + addr + "/api/v1/actions" + q)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ts = append(ts, time.Since(t0))
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		return ts[10]
	}
	for _, addr := range []string{boltAddr, redisAddr} {
		resp, err := http.Get("http://" + addr + "/api/v1/actions")
		if err != nil {
			b.Fatal(err)
		}
		var page struct{ Actions []json.RawMessage }
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(page.Actions) != 100 {
			b.Fatalf("%s answered %d with %d entries", addr, resp.StatusCode, len(page.Actions))
		}
	}
	for _, q := range []string{"", "?before=" + kvs[50000].Key} {
		bt, rt := median(boltAddr, q), median(redisAddr, q)
		b.Logf("GET /api/v1/actions%s over 100,000 entries, median of 21: bbolt %v, Redis %v: %.2fx (target <= 2x)", q, bt.Round(10*time.Microsecond), rt.Round(10*time.Microsecond), float64(rt)/float64(bt))
	}
}

// journalEntries makes n journal entries a second apart, ending now (well
// inside the journal's retention), 1 % of them of the rule "rare".
func journalEntries(n int) []store.KV {
	base := time.Now().UTC().Add(-time.Duration(n) * time.Second)
	kvs := make([]store.KV, 0, n)
	for i := range n {
		at := base.Add(time.Duration(i) * time.Second)
		id := fmt.Sprintf("%016x-%08x", at.UnixNano(), i)
		rule := "restart-agent"
		if i%100 == 0 {
			rule = "rare"
		}
		e, _ := json.Marshal(map[string]any{"id": id, "received": at, "rule": rule, "alertname": "AgentLost", "status": "firing",
			"labels": map[string]string{"alertname": "AgentLost", "agent": fmt.Sprint("a", i)}, "result": "success",
			"steps": []map[string]any{{"action": "exec", "what": `["docker" "restart" "x"]`, "result": "success", "exit_code": 0}}})
		kvs = append(kvs, store.KV{Key: id, Value: e})
	}
	return kvs
}
