//go:build e2e

// Package e2e runs the whole loop on real parts: Debian's prometheus and
// prometheus-alertmanager with the shipped rules and the example
// Alertmanager configuration, redis-server, haproxy, selfheal_exporter,
// selfheal_receiver, and fake services. Run with `make e2e`.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/selfheal/selfheal/internal/testutil"
)

// testDurations shorten the mixin's durations in a test build of the rules;
// the shipped rules stay as they are.
const testDurations = `{icServerKeepFiringFor: "6s", keyServiceFor: "2s", redisFor: "2s", agentStaleFor: "2s", agentLostFor: "1s", agentsManyStaleFor: "2s", downFor: "5s", remediationWindow: "2m"}`

type stack struct {
	t                            *testing.T
	dir, state                   string
	bin                          map[string]string
	exporter, receiver, prom, am string
	receiverProc                 *testutil.Process
	amProc                       *testutil.Process
	receiverArgs                 []string
	redis                        *testutil.Redis
	haproxy                      *testutil.HAProxy
	fakes                        map[string]string // name -> listen address
	scripts                      string
	pager                        *pagerSink
	certs                        testutil.Certs
	engines                      map[string]*testutil.Dockerd // ks1..ks3: each key-service host's engine; ks1's also runs selfhealing_scriptengine
	supervisord                  *testutil.Supervisord        // runs the IC-Servers ic1 (ic-server) and ic3 (ic-server-3)
	programs                     map[string]string            // fake name -> supervisord program
	icLogs                       string                       // ic3's log directory: removed, supervisord cannot spawn it
	webPassword                  string                       // the receiver's basic auth password, user alertmanager
}

// fakeImage is the image the key-service and scriptengine containers run:
// busybox and fakesvc, imported without a registry.
const fakeImage = "selfheal-fakesvc:e2e"

// pagerSink stands for the pager webhook of examples/alertmanager.yml: it
// keeps every notification Alertmanager sends it.
type pagerSink struct {
	mu    sync.Mutex
	got   []pagerMessage
	start time.Time
}

type pagerMessage struct {
	at     time.Time
	Status string `json:"status"`
	Alerts []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

func (p *pagerSink) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	var m pagerMessage
	if json.NewDecoder(r.Body).Decode(&m) == nil {
		m.at = time.Now()
		p.mu.Lock()
		p.got = append(p.got, m)
		p.mu.Unlock()
	}
}

// pages returns the notifications of status whose first alert has the
// label values in match.
func (p *pagerSink) pages(status string, match map[string]string) []pagerMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []pagerMessage
	for _, m := range p.got {
		if m.Status != status || len(m.Alerts) == 0 {
			continue
		}
		ok := true
		for k, v := range match {
			ok = ok && m.Alerts[0].Labels[k] == v
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

func build(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, pkg := range map[string]string{
		"selfheal_exporter": "../cmd/selfheal_exporter",
		"selfheal_receiver": "../cmd/selfheal_receiver",
		"selfhealctl":       "../cmd/selfhealctl",
		"fakesvc":           "./fakesvc",
	} {
		p, err := testutil.BuildBinary(dir, pkg, name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	return out
}

// bareStack is a stack with its programs built and its state folder made,
// nothing started yet; its fakes are stopped when the test ends.
func bareStack(t *testing.T) *stack {
	dir := t.TempDir()
	s := &stack{t: t, dir: dir, state: filepath.Join(dir, "state"), bin: build(t, dir), fakes: map[string]string{}}
	os.MkdirAll(s.state, 0o755)
	s.scripts, _ = filepath.Abs("testdata")
	t.Cleanup(s.stopFakes)
	return s
}

func newStack(t *testing.T) *stack {
	s := bareStack(t)
	dir := s.dir

	// ic2 is a fake started through the same script its (slow) hook uses;
	// ic1 and ic3 run under supervisord, the key-service instances and the
	// scriptengine agent in containers.
	s.fake("ic2", "ic")
	s.startSupervisord()
	s.redis = testutil.StartRedis(t, testutil.RedisOptions{})
	s.startEngines()
	s.haproxy = testutil.StartHAProxy(t, "key_service", map[string]string{"ks1": s.fakes["ks1"], "ks2": s.fakes["ks2"], "ks3": s.fakes["ks3"]})

	s.exporter = testutil.Addr(testutil.FreePort(t))
	s.writeExporterConfig()
	ep := testutil.Start(t, dir, s.bin["selfheal_exporter"], "--config.file", "exporter.yml", "--web.listen-address", s.exporter, "--storage.path", "exporter.db", "--storage.snapshot-interval", "1s")
	testutil.WaitPort(t, s.exporter, ep)
	s.writeCmd("agent", s.bin["fakesvc"]+" -mode agent -exporter http://"+s.exporter+" -id fleet-1 -group fleet -env e2e -every 300ms")
	s.restart("agent")

	s.pager = &pagerSink{start: time.Now()}
	sink := httptest.NewServer(s.pager)
	t.Cleanup(sink.Close)
	s.am = testutil.Addr(testutil.FreePort(t))
	s.receiver = testutil.Addr(testutil.FreePort(t))
	s.writeReceiverConfig()
	s.receiverArgs = []string{"--config.file", "receiver.yml", "--web.listen-address", s.receiver, "--web.config.file", "web.yml", "--storage.path", "receiver.db", "--shutdown.timeout", "2s"}
	s.startReceiver()

	s.writeAlertmanagerConfig(sink.URL)
	s.amProc = testutil.StartAlertmanagerIn(t, dir, "alertmanager.yml", s.am)

	s.prom = testutil.Addr(testutil.FreePort(t))
	s.writePrometheusConfig()
	pp := testutil.Start(t, dir, testutil.Binary(t, "prometheus"), "--config.file", "prometheus.yml", "--storage.tsdb.path", filepath.Join(dir, "prom"),
		"--web.listen-address", s.prom, "--rules.alert.resend-delay", "1s", "--web.enable-lifecycle")
	testutil.WaitPort(t, s.prom, pp)
	testutil.Eventually(t, 60*time.Second, "Prometheus to scrape both selfheal jobs", func() bool {
		return s.value(`sum(up{job=~"selfheal|selfheal-receiver"})`) == 2
	})
	return s
}

// startSupervisord runs the IC-Servers ic1 and ic3 as supervisord programs.
// ic3 logs into a directory the healing-fails scenario removes, so that
// supervisord then cannot spawn it.
func (s *stack) startSupervisord() {
	s.icLogs = filepath.Join(s.dir, "ic3-logs")
	os.MkdirAll(s.icLogs, 0o755)
	s.programs = map[string]string{"ic1": "ic-server", "ic3": "ic-server-3"}
	var progs []testutil.Program
	for _, name := range []string{"ic1", "ic3"} {
		s.fakes[name] = testutil.Addr(testutil.FreePort(s.t))
		p := testutil.Program{Name: s.programs[name], Command: s.bin["fakesvc"] + " -mode ic -listen " + s.fakes[name]}
		if name == "ic3" {
			p.Extra = "stdout_logfile=" + s.icLogs + "/out.log"
		}
		progs = append(progs, p)
	}
	s.supervisord = testutil.StartSupervisord(s.t, false, progs...)
	for _, name := range []string{"ic1", "ic3"} {
		testutil.WaitPort(s.t, s.fakes[name], nil)
	}
}

// startEngines starts one Docker engine per key-service host, listening on
// TCP with TLS that requires client certificates, and runs each host's
// api_key_service container with host networking; ks1's host also runs the
// selfhealing_scriptengine agent, which heartbeats into Redis.
func (s *stack) startEngines() {
	s.certs = testutil.NewCerts(s.t, filepath.Join(s.dir), time.Now().Add(24*time.Hour))
	s.engines = map[string]*testutil.Dockerd{}
	for _, name := range []string{"ks1", "ks2", "ks3"} {
		d := testutil.StartDockerd(s.t, testutil.DockerdOptions{TLS: &s.certs})
		d.Import(s.t, fakeImage, map[string]string{"/fakesvc": s.bin["fakesvc"]})
		s.engines[name] = d
		s.fakes[name] = testutil.Addr(testutil.FreePort(s.t))
		d.Docker(s.t, "run", "-d", "--name", "api_key_service", "--network", "host", fakeImage, "/fakesvc", "-mode", "key", "-listen", s.fakes[name])
		testutil.WaitPort(s.t, s.fakes[name], nil)
	}
	s.engines["ks1"].Docker(s.t, "run", "-d", "--name", "selfhealing_scriptengine", "--network", "host", fakeImage,
		"/fakesvc", "-mode", "redis-agent", "-redis", s.redis.Addr, "-key", "selfhealing:agent:d_dys1", "-env", "d_dys1", "-every", "300ms")
}

// container tells which engine and container a fake name is, if it is one.
func (s *stack) container(name string) (*testutil.Dockerd, string) {
	if name == "scriptengine" {
		return s.engines["ks1"], "selfhealing_scriptengine"
	}
	if d := s.engines[name]; d != nil {
		return d, "api_key_service"
	}
	return nil, ""
}

func (s *stack) writeCmd(name, cmd string) {
	testutil.WriteFile(s.t, s.state, name+".cmd", cmd)
}

func (s *stack) fake(name, mode string) {
	addr := testutil.Addr(testutil.FreePort(s.t))
	s.fakes[name] = addr
	s.writeCmd(name, s.bin["fakesvc"]+" -mode "+mode+" -listen "+addr)
	s.restart(name)
	testutil.WaitPort(s.t, addr, nil)
}

// restart brings a fake back as a human would: docker start, supervisorctl
// start, or the restart hook.
func (s *stack) restart(name string) {
	if d, c := s.container(name); d != nil {
		d.Docker(s.t, "start", c)
		return
	}
	if p := s.programs[name]; p != "" {
		if err := s.supervisord.Client.StartProcess(context.Background(), p, true); err != nil {
			s.t.Fatalf("supervisord start %s: %v", p, err)
		}
		return
	}
	if out, err := exec.Command(filepath.Join(s.scripts, "restart_fake.sh"), s.state, name).CombinedOutput(); err != nil {
		s.t.Fatalf("restart %s: %v %s", name, err, out)
	}
}

// kill stops a fake service: the fault. A container is killed by its
// engine, a supervised program with SIGKILL (supervisord does not restart
// it: autorestart is off), a plain fake with SIGKILL.
func (s *stack) kill(name string) {
	if d, c := s.container(name); d != nil {
		d.Docker(s.t, "kill", c)
	} else if p := s.programs[name]; p != "" {
		syscall.Kill(s.supervisord.Info(s.t, p).PID, syscall.SIGKILL)
	} else {
		s.killFake(name)
	}
	if addr := s.fakes[name]; addr != "" {
		testutil.Eventually(s.t, 5*time.Second, name+" to stop answering", func() bool {
			c, err := http.Get("http://" + addr + "/ok")
			if err == nil {
				c.Body.Close()
			}
			return err != nil
		})
	}
}

func (s *stack) killFake(name string) {
	b, err := os.ReadFile(filepath.Join(s.state, name+".pid"))
	if err != nil {
		s.t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
}

func (s *stack) stopFakes() {
	files, _ := filepath.Glob(filepath.Join(s.state, "*.pid"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var pid int
		fmt.Sscan(string(b), &pid)
		if pid > 0 {
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (s *stack) startReceiver() {
	s.receiverProc = testutil.Start(s.t, s.dir, s.bin["selfheal_receiver"], s.receiverArgs...)
	testutil.WaitReady(s.t, s.receiver, s.receiverProc)
}

func (s *stack) writeExporterConfig() {
	cfg := fmt.Sprintf(`
modules:
  ic_server: {prober: http, timeout: 500ms}
  key_service: {prober: http, timeout: 500ms, http: {fail_if_body_not_matches_regexp: ['The API is available and operational']}}
  redis: {prober: redis, timeout: 500ms}
checks:
  - name: ic_server
    module: ic_server
    health_metric: ic_server_health
    targets:
      - {target: 'http://%s/ok', labels: {ic_server_address: ic1, ocp_address: ocp1}}
      - {target: 'http://%s/ok', labels: {ic_server_address: ic2, ocp_address: ocp1}}
      - {target: 'http://%s/ok', labels: {ic_server_address: ic3, ocp_address: ocp1}}
  - name: key_service
    module: key_service
    targets:
      - {target: 'http://%s/api/auth/healthz', labels: {server: ks1, docker_host: '%s'}}
      - {target: 'http://%s/api/auth/healthz', labels: {server: ks2, docker_host: '%s'}}
      - {target: 'http://%s/api/auth/healthz', labels: {server: ks3, docker_host: '%s'}}
  - name: redis
    module: redis
    targets:
      - {target: '%s', labels: {env: d_dys1}}
agents:
  - {group: fleet, interval: 1s, grace: 2s, auto_register: true}
  - group: scriptengine
    interval: 1s
    grace: 1s
    source: {redis: {url: 'redis://%s', key_pattern: 'selfhealing:agent:*', poll_interval: 300ms}}
`, s.fakes["ic1"], s.fakes["ic2"], s.fakes["ic3"], s.fakes["ks1"], s.engines["ks1"].TCP, s.fakes["ks2"], s.engines["ks2"].TCP, s.fakes["ks3"], s.engines["ks3"].TCP, s.redis.Addr, s.redis.Addr)
	testutil.WriteFile(s.t, s.dir, "exporter.yml", cfg)
}

func (s *stack) writeReceiverConfig() {
	sc := s.scripts
	tls := fmt.Sprintf("tls_config: {ca_file: '%s', cert_file: '%s', key_file: '%s'}", s.certs.CAFile, s.certs.CertFile, s.certs.KeyFile)
	cfg := fmt.Sprintf(`
global:
  escalation:
    alertmanager_urls: ['http://%[1]s']
    resend_interval: 2s
    receiver_url: 'http://%[2]s'
rules:
  - name: restart-ic-server
    match: 'alertname="ICServerConnectFailed", ic_server_address="ic1"'
    cooldown: 2s
    actions:
      - supervisor: {url: '%[3]s', process: ic-server, op: restart, timeout: 10s}
      - verify: {url: 'http://%[4]s/ok', within: 10s, every: 200ms}
  - name: restart-ic-server-slow
    match: 'alertname="ICServerConnectFailed", ic_server_address="ic2"'
    cooldown: 2s
    actions:
      - exec: {command: [%[5]s/slow_restart.sh, %[6]s, ic2, '6'], timeout: 30s}
  - name: restart-ic-server-broken
    match: 'alertname="ICServerConnectFailed", ic_server_address="ic3"'
    cooldown: 1s
    max_attempts: 2
    actions:
      - supervisor: {url: '%[3]s', process: ic-server-3, op: restart, timeout: 10s}
      - verify: {url: 'http://%[7]s/ok', within: 2s, every: 200ms}
  - name: key-service-out-of-pool
    match: 'alertname="KeyServiceInstanceDown"'
    require_labels: {server: 'ks[0-9]', instance: '127\.0\.0\.1:[0-9]+', docker_host: '127\.0\.0\.1:[0-9]+'}
    cooldown: 0s
    pool: {name: key_service, size: 3, min_healthy: 2}
    actions:
      - haproxy: {address: 'unix:%[8]s', backend: key_service, server: '{{ .Labels.server }}', state: maint}
      - docker: {host: 'tcp://{{ .Labels.docker_host }}', container: api_key_service, op: restart, stop_timeout: 2s, settle: 500ms, timeout: 30s, %[9]s}
      - verify: {url: 'http://{{ .Labels.instance }}/api/auth/healthz', body_regexp: 'available and operational', within: 10s, every: 200ms}
  - name: key-service-back-in-pool
    match: 'alertname="KeyServiceInstanceDown"'
    on: resolved
    require_labels: {server: 'ks[0-9]', instance: '127\.0\.0\.1:[0-9]+'}
    cooldown: 0s
    pool: {name: key_service, size: 3, min_healthy: 2}
    actions:
      - verify: {url: 'http://{{ .Labels.instance }}/api/auth/healthz', body_regexp: 'available and operational', within: 10s, every: 200ms}
      - haproxy: {address: 'unix:%[8]s', backend: key_service, server: '{{ .Labels.server }}', state: ready}
  - name: restart-scriptengine
    match: 'alertname="AgentLost", group="scriptengine"'
    require_labels: {agent: '[a-z0-9_]+'}
    cooldown: 2s
    actions:
      - docker: {host: '%[10]s', container: selfhealing_scriptengine, op: restart, stop_timeout: 2s, settle: 500ms, timeout: 30s}
      - verify: {url: 'http://%[11]s/api/v1/agents/{{ .Labels.agent }}', body_regexp: '"status":"up"', within: 10s, every: 200ms}
  - name: restart-agent
    match: 'alertname="AgentStale", group="fleet"'
    cooldown: 2s
    actions:
      - exec: {command: [%[5]s/restart_fake.sh, %[6]s, agent], timeout: 10s}
`, s.am, s.receiver, s.supervisord.URL, s.fakes["ic1"], sc, s.state, s.fakes["ic3"], s.haproxy.AdminSock, tls, s.engines["ks1"].Host, s.exporter)
	testutil.WriteFile(s.t, s.dir, "receiver.yml", cfg)
	s.webPassword = "e2e-password"
	hash, _ := bcrypt.GenerateFromPassword([]byte(s.webPassword), bcrypt.MinCost)
	testutil.WriteFile(s.t, s.dir, "web.yml", "basic_auth_users:\n  alertmanager: "+string(hash)+"\n")
	testutil.WriteFile(s.t, s.dir, "receiver.password", "e2e-password")
}

// writeAlertmanagerConfig takes the shipped example and changes only what a
// test must: the receiver's address and password file, and short timers.
func (s *stack) writeAlertmanagerConfig(pagerURL string) {
	b, err := os.ReadFile("../examples/alertmanager.yml")
	if err != nil {
		s.t.Fatal(err)
	}
	// This stack's receiver also heals AgentStale (group fleet).
	b = []byte(strings.Replace(string(b), `alertname=~"KeyServiceInstanceDown|AgentLost"`, `alertname=~"KeyServiceInstanceDown|AgentLost|AgentStale"`, 1))
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		s.t.Fatal(err)
	}
	route := cfg["route"].(map[string]any)
	route["group_wait"], route["group_interval"], route["repeat_interval"] = "1s", "1s", "3s"
	for _, r := range route["routes"].([]any) {
		if r.(map[string]any)["receiver"] == "selfheal" { // the pager's routes keep their hour
			r.(map[string]any)["repeat_interval"] = "3s"
		}
	}
	cfg["receivers"].([]any)[1].(map[string]any)["webhook_configs"].([]any)[0].(map[string]any)["url"] = pagerURL
	wh := cfg["receivers"].([]any)[0].(map[string]any)["webhook_configs"].([]any)[0].(map[string]any)
	wh["url"] = "http://" + s.receiver + "/webhook"
	wh["http_config"].(map[string]any)["basic_auth"].(map[string]any)["password_file"] = filepath.Join(s.dir, "receiver.password")
	out, _ := yaml.Marshal(cfg)
	testutil.WriteFile(s.t, s.dir, "alertmanager.yml", string(out))
}

func (s *stack) writePrometheusConfig() {
	rules := filepath.Join(s.dir, "rules")
	if out, err := exec.Command("../scripts/generate-mixin.sh", rules, filepath.Join(s.dir, "dashboards"), testDurations).CombinedOutput(); err != nil {
		s.t.Fatalf("test build of the rules: %v\n%s", err, out)
	}
	testutil.WriteFile(s.t, s.dir, "prometheus.yml", fmt.Sprintf(`
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%s/alerts.yml, %s/rules.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ['%s']}]}]
scrape_configs:
  - job_name: selfheal
    scrape_timeout: 900ms
    static_configs: [{targets: ['%s']}]
  - job_name: selfheal-receiver
    scrape_timeout: 900ms
    basic_auth: {username: alertmanager, password: e2e-password}
    static_configs: [{targets: ['%s']}]
`, rules, rules, s.am, s.exporter, s.receiver))
}

// query runs an instant query and returns the result vector.
func (s *stack) query(q string) []struct {
	Metric map[string]string
	Value  [2]any
} {
	resp, err := http.Get("http://" + s.prom + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&r)
	return r.Data.Result
}

func (s *stack) value(q string) float64 {
	r := s.query(q)
	if len(r) == 0 {
		return -1
	}
	var f float64
	fmt.Sscan(r[0].Value[1].(string), &f)
	return f
}

// firing tells whether Prometheus' ALERTS has the alert firing with labels.
func (s *stack) firing(alertname, labels string) bool {
	sel := `ALERTS{alertname="` + alertname + `",alertstate="firing"`
	if labels != "" {
		sel += "," + labels
	}
	return len(s.query(sel+"}")) > 0
}

type journalEntry struct {
	ID, Rule, Result, Reason, Status string
	Received                         time.Time
	Labels                           map[string]string
	Steps                            []struct {
		Action, Result string
		Started        time.Time
		Observed       *struct {
			Log           string
			Before, After *struct{ State string }
		}
	}
}

func (s *stack) journal(rule string) []journalEntry {
	req, _ := http.NewRequest("GET", "http://"+s.receiver+"/api/v1/actions?limit=1000&rule="+rule, nil)
	req.SetBasicAuth("alertmanager", s.webPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var r struct{ Actions []journalEntry }
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &r)
	return r.Actions
}

func (s *stack) finished(rule string, results ...string) []journalEntry {
	var out []journalEntry
	for _, e := range s.journal(rule) {
		for _, r := range results {
			if e.Result == r {
				out = append(out, e)
			}
		}
	}
	return out
}

// resolvedSent waits until Alertmanager has sent the resolved notification
// of the IC-Server's alert: every firing re-send of its group went out
// before it, so the receiver has seen them all.
func (s *stack) resolvedSent(ic string) {
	s.t.Helper()
	s.wait("the resolved notification of "+ic, 30*time.Second, func() bool {
		return testutil.Flushes(s.amProc, `ic_server_address=\"`+ic+`\"`, "ICServerConnectFailed[", "][resolved]") > 0
	})
}

// receiverMetric reads one series of the receiver's /metrics, or -1.
func (s *stack) receiverMetric(series string) float64 {
	req, _ := http.NewRequest("GET", "http://"+s.receiver+"/metrics", nil)
	req.SetBasicAuth("alertmanager", s.webPassword)
	return scrape(req, series)
}

// scrape reads one series without labels from the /metrics req asks for,
// or -1.
func scrape(req *http.Request, series string) float64 {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

func (s *stack) wait(what string, timeout time.Duration, cond func() bool) {
	s.t.Helper()
	testutil.Eventually(s.t, timeout, what, cond)
}

// report prints the seconds from fault to action start and to resolution.
func report(t *testing.T, scenario string, fault, action, resolved time.Time) {
	t.Logf("%s: fault to action start %.1fs, fault to resolution %.1fs", scenario, action.Sub(fault).Seconds(), resolved.Sub(fault).Seconds())
	fmt.Printf("e2e %-28s fault->action %5.1fs  fault->resolved %5.1fs\n", scenario, action.Sub(fault).Seconds(), resolved.Sub(fault).Seconds())
}
