//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/testutil"
)

// haLab is the high-availability layout of docs/ha.md, on real parts:
// Debian's redis-server as primary and replica under three redis-sentinel,
// two receivers on the Sentinel URL, each on a "host" of its own (a UTS
// namespace), two exporters on the same URL, and two Alertmanagers in a
// gossip cluster, each sending every notification to both receivers.
type haLab struct {
	dir, work, url string
	redis          map[string]*testutil.Redis // by address
	sentinel       string
	receivers      []*haReceiver
	exporters      []*testutil.Daemon
	ams            []*testutil.Alertmanager
	agents         map[string]bool // acknowledged (204) heartbeats' agents
	probes         int
}

type haReceiver struct {
	host, addr string
	proc       *testutil.Process
	unacked    int // selfheal_receiver_unacknowledged_alerts_total as last read
}

const haMaster = "selfheal"

// haStormSize is the alerts of one storm: half before the fault, half
// after.
const haStormSize = 300

func TestHAUnderFaults(t *testing.T) {
	h := newHALab(t)
	h.round(t, 1, "Redis primary killed", h.killPrimary)
	h.round(t, 2, "receiver killed", h.killReceiver)
	h.round(t, 3, "Alertmanager killed", h.killAlertmanager)
	h.round(t, 4, "Redis emptied", h.flushAll)
	h.agentsKept(t)
	h.noneFenced(t)
}

func newHALab(t *testing.T) *haLab {
	dir := t.TempDir()
	bin := build(t, dir)
	h := &haLab{dir: dir, work: filepath.Join(dir, "work"), redis: map[string]*testutil.Redis{}, agents: map[string]bool{}}
	os.MkdirAll(h.work, 0o755)
	primary := testutil.StartRedis(t, testutil.RedisOptions{})
	replica := testutil.StartRedis(t, testutil.RedisOptions{ReplicaOf: primary.Addr})
	h.redis[primary.Addr], h.redis[replica.Addr] = primary, replica
	var sentinels []string
	for range 3 {
		sentinels = append(sentinels, testutil.StartSentinel(t, haMaster, primary.Addr, "", 2).Addr)
	}
	h.sentinel = sentinels[0]
	h.url = "redis://" + sentinels[0] + "/0?master_name=" + haMaster + "&addr=" + sentinels[1] + "&addr=" + sentinels[2]
	hook := testutil.WriteFile(t, dir, "heal.sh", "#!/bin/sh\n# Records which host healed the target, then works a little.\necho \"$(hostname) $2\" >> \"$1\"\nsleep 0.3\n")
	os.Chmod(hook, 0o755)
	config := `
rules:
  - name: heal
    match: 'alertname="Storm"'
    require_labels: {target: '^r[0-9]+t[0-9]+$'}
    cooldown: 0s
    max_attempts: 3
    concurrency: 8
    actions:
      - exec: {command: [` + hook + `, '` + h.work + `/{{ .Labels.target }}', '{{ .Labels.target }}'], timeout: 30s}
  - name: probe
    match: 'alertname="Probe"'
    actions: [{exec: {command: [/bin/true]}}]
`
	for _, host := range []string{"host-a", "host-b"} {
		rdir := filepath.Join(dir, host)
		os.MkdirAll(rdir, 0o755)
		testutil.WriteFile(t, rdir, "receiver.yml", config)
		r := &haReceiver{host: host, addr: testutil.Addr(testutil.FreePort(t))}
		r.proc = testutil.StartOnHost(t, host, rdir, bin["selfheal_receiver"], "--config.file", "receiver.yml", "--web.listen-address", r.addr,
			"--storage.path", "state.db", "--storage.redis.url", h.url, "--"+serve.UnauthenticatedFlag)
		testutil.WaitReady(t, r.addr, r.proc)
		h.receivers = append(h.receivers, r)
	}
	for i := range 2 {
		edir := filepath.Join(dir, fmt.Sprint("exporter-", i))
		os.MkdirAll(edir, 0o755)
		h.exporters = append(h.exporters, testutil.StartDaemon(t, bin["selfheal_exporter"], edir,
			"agents: [{group: fleet, interval: 10m, grace: 10m, auto_register: true}]\n", "--storage.redis.url", h.url))
	}
	h.ams = testutil.StartAlertmanagerCluster(t, 2, `
route: {receiver: selfheal, group_by: [target], group_wait: 0s, group_interval: 2s, repeat_interval: 1h}
receivers:
  - name: selfheal
    webhook_configs:
      - {url: 'http://`+h.receivers[0].addr+`/webhook', send_resolved: false}
      - {url: 'http://`+h.receivers[1].addr+`/webhook', send_resolved: false}
`)
	return h
}

// round runs a storm of haStormSize alerts with fault in its middle and
// checks that every alert was healed, and that none ran twice but for what
// docs/ha.md allows: an attempt interrupted on a dead receiver, and a
// remediation answered 503 as its replica did not acknowledge it, whose
// record a failover then lost.
func (h *haLab) round(t *testing.T, n int, name string, fault func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		targets := make([]string, haStormSize)
		for i := range targets {
			targets[i] = fmt.Sprintf("r%dt%d", n, i)
		}
		start := time.Now()
		unackedBefore := h.unacknowledged(t)
		h.fire(targets[:haStormSize/2])
		h.beat(t, n, 0)
		testutil.Eventually(t, 60*time.Second, "the storm to be under way", func() bool { return h.healed(targets) >= haStormSize/10 })
		faultAt := time.Now()
		fault(t)
		h.fire(targets[haStormSize/2:])
		h.beat(t, n, 1)
		testutil.Eventually(t, 3*time.Minute, "every alert of the storm to be healed", func() bool { return h.healed(targets) == haStormSize })
		doubles := h.doubles(targets)
		allowed := h.count(t, "interrupted", fmt.Sprintf("r%dt", n)) + h.unacknowledged(t) - unackedBefore
		fmt.Printf("e2e ha: %-22s %d alerts healed %5.1fs after the fault (storm %5.1fs), %d ran twice (%d allowed)\n",
			name, haStormSize, time.Since(faultAt).Seconds(), time.Since(start).Seconds(), doubles, allowed)
		if doubles > allowed {
			t.Fatalf("%d alerts ran twice; %d allowed", doubles, allowed)
		}
	})
}

// fire posts the alerts to every Alertmanager, as Prometheus does; one
// that is down is skipped.
func (h *haLab) fire(targets []string) {
	type alert struct {
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
		EndsAt   time.Time         `json:"endsAt"`
	}
	as := make([]alert, len(targets))
	now := time.Now()
	for i, tg := range targets {
		as[i] = alert{Labels: map[string]string{"alertname": "Storm", "target": tg}, StartsAt: now, EndsAt: now.Add(time.Hour)}
	}
	b, _ := json.Marshal(as)
	for _, am := range h.ams {
		if resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(string(b))); err == nil {
			resp.Body.Close()
		}
	}
}

// beat registers ten new agents, alternating between the exporters, each
// tried until acknowledged (204) for a few seconds.
func (h *haLab) beat(t *testing.T, round, part int) {
	for i := range 10 {
		id := fmt.Sprintf("agent-r%d-%d-%d", round, part, i)
		e := h.exporters[i%2]
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if code, _ := e.Post(t, "/api/v1/agents/"+id+"/heartbeat?group=fleet", ""); code == http.StatusNoContent {
				h.agents[id] = true
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// runs counts each target's hook runs.
func (h *haLab) runs(targets []string) []int {
	n := make([]int, len(targets))
	for i, tg := range targets {
		b, _ := os.ReadFile(filepath.Join(h.work, tg))
		n[i] = strings.Count(string(b), "\n")
	}
	return n
}

func (h *haLab) healed(targets []string) int {
	k := 0
	for _, r := range h.runs(targets) {
		if r > 0 {
			k++
		}
	}
	return k
}

func (h *haLab) doubles(targets []string) int {
	k := 0
	for _, r := range h.runs(targets) {
		if r > 1 {
			k++
		}
	}
	return k
}

// live returns the receivers still running.
func (h *haLab) live() []*haReceiver {
	var out []*haReceiver
	for _, r := range h.receivers {
		if !r.proc.Exited() {
			out = append(out, r)
		}
	}
	return out
}

// count counts the journal's Storm entries with a result whose target
// starts with prefix, through a live receiver (the journal is shared).
func (h *haLab) count(t *testing.T, result, prefix string) int {
	resp, err := http.Get("http://" + h.live()[0].addr + "/api/v1/actions?alertname=Storm&limit=1000&result=" + result)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Actions []struct{ Labels map[string]string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range out.Actions {
		if strings.HasPrefix(a.Labels["target"], prefix) {
			n++
		}
	}
	return n
}

// unacknowledged sums the receivers' counts of alerts not acknowledged,
// each as last read (a dead one's included).
func (h *haLab) unacknowledged(t *testing.T) int {
	n := 0
	for _, r := range h.receivers {
		if v := metric(t, r.addr, "selfheal_receiver_unacknowledged_alerts_total"); v >= 0 {
			r.unacked = int(v)
		}
		n += r.unacked
	}
	return n
}

// primary is the address Sentinel names as the primary now.
func (h *haLab) primary(t *testing.T) string {
	c := redis.NewClient(&redis.Options{Addr: h.sentinel})
	defer c.Close()
	a, err := c.Do(context.Background(), "SENTINEL", "get-master-addr-by-name", haMaster).StringSlice()
	if err != nil || len(a) != 2 {
		t.Fatalf("asking Sentinel for the primary: %v %v", a, err)
	}
	return a[0] + ":" + a[1]
}

// killPrimary kills the Redis primary (SIGKILL) and reports the failover
// time: until a receiver accepts a webhook again.
func (h *haLab) killPrimary(t *testing.T) {
	h.redis[h.primary(t)].Proc.Kill()
	died := time.Now()
	testutil.Eventually(t, 60*time.Second, "a receiver to accept again", func() bool { return h.probe() })
	fmt.Printf("e2e ha: failover: receivers accept again %.1fs after the primary's death\n", time.Since(died).Seconds())
}

// probe posts one new matching alert straight to a live receiver.
func (h *haLab) probe() bool {
	h.probes++
	body := fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Probe","n":"%d"},"startsAt":"%s"}]}`, h.probes, time.Now().Format(time.RFC3339))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+h.live()[0].addr+"/webhook", "application/json", strings.NewReader(body))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// killReceiver kills a receiver (SIGKILL) that runs remediations, never to
// restart it, and reports the takeover time: until the other took its
// backlog over and no accepted work is left. Either receiver may have
// claimed the whole storm, so the victim is the one found holding work.
func (h *haLab) killReceiver(t *testing.T) {
	var dead, other *haReceiver
	testutil.Eventually(t, 30*time.Second, "a receiver to be running remediations", func() bool {
		dead, other = busiest(t, h.receivers)
		return dead != nil
	})
	dead.proc.Kill()
	died := time.Now()
	testutil.Eventually(t, 2*time.Minute, "the dead receiver's work to be taken over and done", func() bool {
		return metric(t, other.addr, "selfheal_receiver_taken_over_total") > 0 && h.count(t, "queued", "")+h.count(t, "running", "") == 0
	})
	fmt.Printf("e2e ha: takeover: the dead receiver's (%s) %v records done %.1fs after its death (lease 15s)\n", dead.host,
		metric(t, other.addr, "selfheal_receiver_taken_over_total"), time.Since(died).Seconds())
}

// busiest returns the receiver with the most remediations in flight (nil
// when none has any) and the other one.
func busiest(t *testing.T, rs []*haReceiver) (busy, other *haReceiver) {
	best := 0.0
	for i, r := range rs {
		if v := metric(t, r.addr, "selfheal_remediation_in_flight"); v > best {
			best, busy, other = v, r, rs[1-i]
		}
	}
	return busy, other
}

// metric reads one series without labels from a daemon's /metrics, or -1.
func metric(_ *testing.T, addr, name string) float64 {
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	return scrape(req, name)
}

// killAlertmanager kills the first Alertmanager (SIGKILL).
func (h *haLab) killAlertmanager(_ *testing.T) {
	h.ams[0].Proc.Kill()
	h.ams = h.ams[1:]
}

// flushAll empties the Redis primary (FLUSHALL).
func (h *haLab) flushAll(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: h.primary(t)})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// agentsKept: every agent whose heartbeat was acknowledged is listed by
// both exporters.
func (h *haLab) agentsKept(t *testing.T) {
	for _, e := range h.exporters {
		resp, err := http.Get(e.URL + "/api/v1/agents")
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Agents []struct{ ID string } }
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		listed := map[string]bool{}
		for _, a := range out.Agents {
			listed[a.ID] = true
		}
		for id := range h.agents {
			if !listed[id] {
				t.Errorf("exporter %s lost acknowledged agent %s", e.Addr, id)
			}
		}
	}
	fmt.Printf("e2e ha: %d acknowledged agents kept by both exporters\n", len(h.agents))
}

// noneFenced: the surviving receiver had none of its writes fenced off (it
// never lost its lease, and what the emptied store lost was written back).
func (h *haLab) noneFenced(t *testing.T) {
	for _, r := range h.live() {
		if v := metric(t, r.addr, "selfheal_receiver_fenced_writes_total"); v != 0 {
			t.Errorf("receiver on %s had %v writes fenced off", r.host, v)
		}
	}
}
