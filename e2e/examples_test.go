//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// The shipped examples/*.yml, run together as a user would after changing
// only addresses, paths, timings and dry_run: each host of the examples is
// a loopback address of its own, so that the shipped ports (8888, 2376,
// 9001, 8088, 7946) stay as they are.
const (
	icHost   = "127.0.0.11" // an IC-Server: supervisord on :9001, the server on :8088
	gslbHost = "127.0.0.41" // an OpenGSLB agent's host
	gossip   = "127.0.0.31:7946"
)

var keyHosts = map[string]string{"ks1": "127.0.0.21", "ks2": "127.0.0.22", "ks3": "127.0.0.23"} // engines on :2376, the key service on :8888

// examplesDurations shorten the mixin's durations for this test, keeping
// their order: an agent is lost (1m shipped) well before its group counts
// as stale (5m), so a healed agent pages nobody.
const examplesDurations = `{icServerKeepFiringFor: "6s", keyServiceFor: "2s", gossipFor: "2s", agentLostFor: "1s", agentStaleFor: "30s", agentsManyStaleFor: "30s", downFor: "10s"}`

// lab is the stack the examples describe.
type lab struct {
	*stack
	ticket    *pagerSink
	chat      *pagerSink
	kong      *kongFake
	passwords map[string]string // client -> its password file
	gslb      *testutil.Systemd // the OpenGSLB agent's host
}

// startGSLBAgent runs the OpenGSLB agent as opengslb-agent.service: the
// unit runs /srv/test/agent, which heartbeats to the exporter.
func (l *lab) startGSLBAgent() {
	b, err := os.ReadFile(l.bin["fakesvc"])
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.gslb.Dir, "fakesvc"), b, 0o755); err != nil {
		l.t.Fatal(err)
	}
	agent := testutil.WriteFile(l.t, l.gslb.Dir, "agent", "#!/bin/sh\nexec /srv/test/fakesvc -mode agent -exporter "+l.agentURL()+
		" -id gslb-1 -group opengslb -env e2e -ip "+gslbHost+" -every 300ms\n")
	if err := os.Chmod(agent, 0o755); err != nil {
		l.t.Fatal(err)
	}
	l.gslb.Run(l.t, "systemctl", "restart", "opengslb-agent.service")
}

// TestExamplesAsShipped: a fresh lab pages nobody; the four runbooks'
// faults, injected together, heal with no page; a fault that cannot be
// healed pages exactly once, naming the instance, with what was tried.
func TestExamplesAsShipped(t *testing.T) {
	l := newLab(t)
	t.Run("a fresh lab pages nobody", l.freshLab)
	t.Run("the four runbooks' faults heal and page nobody", l.fourFaults)
	t.Run("a fault that cannot be healed pages once", l.cannotHeal)
	t.Run("an ask for approval goes to the chat, not the pager", l.approvalToChat)
}

// edit applies replacements to a shipped file, each of which must match:
// an example that drifts from what the test edits fails here.
func edit(t *testing.T, file string, pairs ...string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s no longer holds %q", file, pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

func newLab(t *testing.T) *lab {
	s := bareStack(t)
	dir := s.dir
	l := &lab{stack: s, kong: &kongFake{targets: map[string]bool{}}}
	s.exporter = testutil.Addr(testutil.FreePort(t))
	l.writeCredentials()

	// The IC-Server under supervisord, its log directory removable.
	s.icLogs = filepath.Join(dir, "ic-logs")
	os.MkdirAll(s.icLogs, 0o755)
	s.programs = map[string]string{"ic": "ic-server"}
	s.fakes["ic"] = icHost + ":8088"
	s.supervisord = testutil.StartSupervisordOn(t, icHost+":9001",
		testutil.Program{Name: "ic-server", Command: s.bin["fakesvc"] + " -mode ic -listen " + s.fakes["ic"], Extra: "stdout_logfile=" + s.icLogs + "/out.log"})
	testutil.WaitPort(t, s.fakes["ic"], nil)

	// One Docker engine per key-service host; ks1's also runs the
	// scriptengine agent, which heartbeats to the exporter.
	s.certs = testutil.NewCerts(t, dir, time.Now().Add(24*time.Hour), keyHosts["ks1"], keyHosts["ks2"], keyHosts["ks3"])
	s.engines = map[string]*testutil.Dockerd{}
	servers := map[string]string{}
	for _, name := range []string{"ks1", "ks2", "ks3"} {
		host := keyHosts[name]
		d := testutil.StartDockerd(t, testutil.DockerdOptions{TLS: &s.certs, TCPAddr: host + ":2376"})
		d.Import(t, fakeImage, map[string]string{"/fakesvc": s.bin["fakesvc"]})
		s.engines[name] = d
		s.fakes[name] = host + ":8888"
		servers[name] = s.fakes[name]
		d.Docker(t, "run", "-d", "--name", "api_key_service", "--network", "host", fakeImage, "/fakesvc", "-mode", "key", "-listen", s.fakes[name])
		testutil.WaitPort(t, s.fakes[name], nil)
		l.kong.targets[s.fakes[name]] = true
	}
	s.engines["ks1"].Docker(t, "run", "-d", "--name", "selfhealing_scriptengine", "--network", "host", fakeImage,
		"/fakesvc", "-mode", "agent", "-exporter", l.agentURL(), "-id", "d_dys1", "-group", "scriptengine", "-env", "d_dys1", "-ip", keyHosts["ks1"], "-every", "300ms")
	s.haproxy = testutil.StartHAProxy(t, "key_service", servers)
	kong := httptest.NewServer(l.kong) // Kong cannot run here: a fake of its Admin API's targets
	t.Cleanup(kong.Close)

	// The gossip port, and the OpenGSLB agent as the unit
	// opengslb-agent.service of a real systemd, on the agent's host, whose
	// sshd the rule's systemd action reaches as the user selfheal.
	s.fakes["gossip"] = gossip
	s.writeCmd("gossip", s.bin["fakesvc"]+" -mode ic -listen "+gossip)
	s.restart("gossip")
	l.gslb = testutil.StartSystemd(t, net.JoinHostPort(gslbHost, strconv.Itoa(testutil.FreePort(t))))
	s.writeExampleExporter()
	ep := testutil.Start(t, dir, s.bin["selfheal_exporter"], "--config.file", "exporter.yml", "--web.config.file", "exporter.web.yml",
		"--web.listen-address", s.exporter, "--storage.path", "exporter.db", "--storage.snapshot-interval", "1s")
	testutil.WaitPort(t, s.exporter, ep)
	l.startGSLBAgent()

	s.pager, l.ticket, l.chat = &pagerSink{start: time.Now()}, &pagerSink{start: time.Now()}, &pagerSink{start: time.Now()}
	pager, ticket, chat := httptest.NewServer(s.pager), httptest.NewServer(l.ticket), httptest.NewServer(l.chat)
	t.Cleanup(pager.Close)
	t.Cleanup(ticket.Close)
	t.Cleanup(chat.Close)
	s.am = testutil.Addr(testutil.FreePort(t))
	s.receiver = testutil.Addr(testutil.FreePort(t))
	_, sshPort, _ := net.SplitHostPort(l.gslb.SSH.Addr)
	s.writeExampleReceiver(kong.URL, "host: '{{ .Labels.agent_ip }}'", "host: '{{ .Labels.agent_ip }}:"+sshPort+"'",
		"/etc/selfheal/ssh/id_ed25519", l.gslb.SSH.KeyFile, "/etc/selfheal/ssh/known_hosts", l.gslb.SSH.KnownHosts)
	s.receiverArgs = []string{s.bin["selfheal_receiver"], "--config.file", "receiver.yml", "--web.listen-address", s.receiver, "--web.config.file", "web.yml", "--storage.path", "receiver.db"}
	s.receiverProc = testutil.Start(t, dir, "/usr/bin/env", s.receiverArgs...)
	testutil.WaitReady(t, s.receiver, s.receiverProc)

	testutil.WriteFile(t, dir, "alertmanager.yml", edit(t, "../examples/alertmanager.yml",
		"group_wait: 10s", "group_wait: 1s", "group_interval: 1m", "group_interval: 1s", "repeat_interval: 1m", "repeat_interval: 3s",
		"http://127.0.0.1:9875/webhook", "http://"+s.receiver+"/webhook", "/etc/selfheal/receiver.password", l.passwords["receiver"],
		"http://127.0.0.1:9099/pager", pager.URL, "http://127.0.0.1:9099/ticket", ticket.URL, "http://127.0.0.1:9099/chat", chat.URL))
	s.amProc = testutil.StartAlertmanagerIn(t, dir, "alertmanager.yml", s.am)

	s.prom = testutil.Addr(testutil.FreePort(t))
	s.writeExamplePrometheus()
	pp := testutil.Start(t, dir, testutil.Binary(t, "prometheus"), "--config.file", "prometheus.yml", "--storage.tsdb.path", filepath.Join(dir, "prom"),
		"--web.listen-address", s.prom, "--rules.alert.resend-delay", "1s")
	testutil.WaitPort(t, s.prom, pp)
	testutil.Eventually(t, 90*time.Second, "Prometheus to scrape every target of the examples, all up", func() bool {
		return s.value(`count(up == 1)`) == 6 && s.value(`count(selfheal_probe_success == 1)`) == 6
	})
	return l
}

// shippedHashes are the placeholders of examples/*.web.yml, which match no
// known password: the docs' commands replace each with the hash of the
// password its client sends.
var shippedHashes = map[string]string{
	"receiver":          "$2a$10$KPX7XdfHoubojbSZqqXso.zGE0OHeWTZBt2/n7aPBi.eWij1ZJUYS",
	"exporter":          "$2a$10$NPFXQ//H0pGShIP4Ltw1R.UVe7V143f9T/CBTYWYtEnvbtSuEo3eO",
	"agent":             "$2a$10$F8mMIBhAn/2XR9MDdbTuNuHPRfdyV47fORGB8IrEZzUjkCCZZFy6.",
	"exporter-receiver": "$2a$10$YzPQ4E0NNQVq7qdoJuePB.BEJOBI4QQIRD2i91caERvPf3XvwSMey",
}

// writeCredentials makes the credentials as docs/install.md says: a random
// password file per client, its hash from selfhealctl hash-password in
// place of the shipped placeholder of examples/*.web.yml.
func (l *lab) writeCredentials() {
	t := l.t
	l.passwords = map[string]string{}
	hashes := map[string]string{}
	for name := range shippedHashes {
		pw := make([]byte, 24)
		rand.Read(pw)
		l.passwords[name] = testutil.WriteFile(t, l.dir, name+".password", base64.StdEncoding.EncodeToString(pw)+"\n")
		out, err := exec.Command(l.bin["selfhealctl"], "hash-password", "--password-file", l.passwords[name], "--cost", "4").Output()
		if err != nil {
			t.Fatalf("selfhealctl hash-password: %v", err)
		}
		hashes[name] = strings.TrimSpace(string(out))
	}
	b, _ := os.ReadFile(l.passwords["receiver"])
	l.webPassword = strings.TrimSpace(string(b))
	testutil.WriteFile(t, l.dir, "web.yml", edit(t, "../examples/selfheal_receiver.web.yml", shippedHashes["receiver"], hashes["receiver"]))
	testutil.WriteFile(t, l.dir, "exporter.web.yml", edit(t, "../examples/selfheal_exporter.web.yml",
		shippedHashes["exporter"], hashes["exporter"], shippedHashes["agent"], hashes["agent"], shippedHashes["exporter-receiver"], hashes["exporter-receiver"]))
}

// agentURL is the exporter's URL with the agent user's password, which Go
// sends as basic auth.
func (l *lab) agentURL() string {
	b, _ := os.ReadFile(l.passwords["agent"])
	return "http://" + url.UserPassword("agent", strings.TrimSpace(string(b))).String() + "@" + l.exporter
}

func (s *stack) writeExampleExporter() {
	testutil.WriteFile(s.t, s.dir, "exporter.yml", edit(s.t, "../examples/selfheal_exporter.yml",
		"http://127.0.0.1:9874/-/healthy", "http://"+s.fakes["ic"]+"/ok",
		"{ic_server_address: 127.0.0.1, ocp_address: 127.0.0.1}", "{ic_server_address: "+icHost+", ocp_address: 127.0.0.1}",
		"- 127.0.0.1:9874", "- "+s.exporter,
		"interval: 1m", "interval: 1s", "grace: 4m", "grace: 2s", "interval: 10s", "interval: 1s", "grace: 50s", "grace: 2s"))
}

func (s *stack) writeExampleReceiver(kongURL string, more ...string) {
	testutil.WriteFile(s.t, s.dir, "receiver.yml", edit(s.t, "../examples/selfheal_receiver.yml", append(more,
		"dry_run: true", "dry_run: false",
		"http://127.0.0.1:9093", "http://"+s.am, "http://127.0.0.1:9875", "http://"+s.receiver,
		"/etc/selfheal/supervisor.pass", s.supervisord.PasswordFile,
		"unix:/run/haproxy/admin.sock", "unix:"+s.haproxy.AdminSock,
		"http://127.0.0.1:8001", kongURL,
		"/etc/selfheal/docker/ca.pem", s.certs.CAFile, "/etc/selfheal/docker/cert.pem", s.certs.CertFile, "/etc/selfheal/docker/key.pem", s.certs.KeyFile,
		"http://127.0.0.1:9874", "http://"+s.exporter, "/etc/selfheal/exporter-receiver.password", s.dir+"/exporter-receiver.password",
		"cooldown: 10m", "cooldown: 2s", "cooldown: 15m", "cooldown: 2s",
		"within: 5m", "within: 20s", "within: 1m", "within: 20s", "every: 10s", "every: 500ms", "every: 15s", "every: 500ms", "every: 5s", "every: 500ms")...))
}

func (s *stack) writeExamplePrometheus() {
	rules := filepath.Join(s.dir, "rules")
	if out, err := exec.Command("../scripts/generate-mixin.sh", rules, filepath.Join(s.dir, "dashboards"), examplesDurations).CombinedOutput(); err != nil {
		s.t.Fatalf("test build of the rules: %v\n%s", err, out)
	}
	pairs := []string{
		"scrape_interval: 1m", "scrape_interval: 1s", "evaluation_interval: 1m", "evaluation_interval: 1s", "scrape_timeout: 50s", "scrape_timeout: 900ms",
		"../rules/alerts.yml", rules + "/alerts.yml", "../rules/rules.yml", rules + "/rules.yml",
		"127.0.0.1:9093", s.am, "127.0.0.1:9874", s.exporter, "127.0.0.1:9875", s.receiver,
		"10.0.1.10:7946", gossip, "/etc/selfheal/exporter.password", s.dir + "/exporter.password",
	}
	for i, name := range []string{"ks1", "ks2", "ks3"} {
		shipped := fmt.Sprintf("10.0.0.%d", 3+i)
		pairs = append(pairs, "http://"+shipped+":8888/", "http://"+s.fakes[name]+"/", "host: "+shipped+"}", "host: "+keyHosts[name]+"}")
	}
	testutil.WriteFile(s.t, s.dir, "prometheus.yml", edit(s.t, "../examples/prometheus.yml", pairs...))
}

// allPages is every notification the pager and the ticket queue got.
func (l *lab) allPages() (pages, tickets []pagerMessage) {
	return l.pager.pages("firing", nil), l.ticket.pages("firing", nil)
}

func (l *lab) freshLab(t *testing.T) {
	// Prometheus has had its chance to fire anything once it evaluated the
	// rules 15 more times with every target up.
	start, groups := l.promMetric("prometheus_rule_group_iterations_total")
	l.wait("15 rounds of rule evaluations", 60*time.Second, func() bool {
		n, _ := l.promMetric("prometheus_rule_group_iterations_total")
		return n >= start+15*float64(groups)
	})
	if firing := l.query(`ALERTS{alertstate="firing"}`); len(firing) > 0 {
		t.Fatalf("a fresh lab fires %v", firing)
	}
	if pages, tickets := l.allPages(); len(pages)+len(tickets) > 0 {
		t.Fatalf("a fresh lab paged: %v %v", pages, tickets)
	}
	l.exposure(t)
}

// exposure: as shipped, each binary answers /metrics, /-/healthy and
// /-/ready to anyone, and everything else only with credentials.
func (l *lab) exposure(t *testing.T) {
	for _, c := range []struct {
		addr, method, path string
		open               bool
	}{
		{l.exporter, "GET", "/metrics", true}, {l.exporter, "GET", "/-/ready", true},
		{l.exporter, "GET", "/probe?module=gossip&target=" + gossip, false}, {l.exporter, "GET", "/status", false},
		{l.exporter, "GET", "/api/v1/agents", false}, {l.exporter, "POST", "/api/v1/agents/intruder/heartbeat?group=opengslb", false},
		{l.exporter, "DELETE", "/api/v1/agents/gslb-1", false}, {l.exporter, "GET", "/debug/pprof/", false}, {l.exporter, "POST", "/-/reload", false},
		{l.receiver, "GET", "/metrics", true}, {l.receiver, "GET", "/-/healthy", true},
		{l.receiver, "POST", "/webhook", false}, {l.receiver, "GET", "/journal", false}, {l.receiver, "GET", "/api/v1/actions", false},
		{l.receiver, "GET", "/debug/pprof/", false}, {l.receiver, "POST", "/-/reload", false}, {l.receiver, "GET", "/", false},
	} {
		req, _ := http.NewRequest(c.method, "http://"+c.addr+c.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c.open != (resp.StatusCode != http.StatusUnauthorized) {
			t.Errorf("%s %s%s without credentials: %d", c.method, c.addr, c.path, resp.StatusCode)
		}
	}
}

// promMetric sums the series of one of Prometheus's own metrics, from its
// /metrics (the examples do not scrape Prometheus), and counts them.
func (l *lab) promMetric(name string) (sum float64, series int) {
	resp, err := http.Get("http://" + l.prom + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			sum += v
			series++
		}
	}
	return sum, series
}

// amActive counts the alerts Alertmanager holds, resolved ones aside.
func (l *lab) amActive() int {
	resp, err := http.Get("http://" + l.am + "/api/v2/alerts")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out []json.RawMessage
	json.NewDecoder(resp.Body).Decode(&out)
	return len(out)
}

func (l *lab) fourFaults(t *testing.T) {
	fault := time.Now()
	l.kill("ic")                                                                  // OCP cannot reach its IC-Server
	l.kill("ks1")                                                                 // a key-service instance dies behind HAProxy and Kong
	l.kill("scriptengine")                                                        // the selfhealing agent of d_dys1 is lost
	l.gslb.Run(t, "systemctl", "kill", "--signal=KILL", "opengslb-agent.service") // an OpenGSLB agent dies
	rules := []string{"restart-ic-server", "key-service-out-of-pool", "restart-scriptengine", "restart-opengslb-agent"}
	healed := map[string]time.Time{}
	l.wait("the four remediations to succeed", 90*time.Second, func() bool {
		for _, r := range rules {
			if _, ok := healed[r]; !ok {
				if done := l.finished(r, "success"); len(done) > 0 {
					healed[r] = time.Now()
				}
			}
		}
		return len(healed) == len(rules)
	})
	l.wait("every alert to resolve", 90*time.Second, func() bool { return len(l.query(`ALERTS{alertstate="firing"}`)) == 0 })
	l.wait("ks1 back in the pool", 30*time.Second, func() bool {
		return len(l.finished("key-service-back-in-pool", "success")) == 1 && l.haproxy.Status(t, "key_service")["ks1"] != "MAINT" && l.kong.has(l.fakes["ks1"])
	})
	// Alertmanager has sent what it had once it holds no alert any more.
	l.wait("Alertmanager to hold no alert", 30*time.Second, func() bool { return l.amActive() == 0 })
	if pages, tickets := l.allPages(); len(pages)+len(tickets) > 0 {
		t.Fatalf("healed faults paged: %v %v", pages, tickets)
	}
	for _, r := range rules {
		if n := len(l.journal(r)); n != 1 {
			t.Errorf("rule %s ran %d times for one fault", r, n)
		}
		fmt.Printf("e2e examples: %-28s fault->healed %5.1fs\n", r, healed[r].Sub(fault).Seconds())
	}
	// The systemd action judged the unit by its state and kept its journal.
	gslb := l.journal("restart-opengslb-agent")[0].Steps[0]
	if o := gslb.Observed; gslb.Action != "systemd" || o == nil || o.Before == nil || o.After == nil ||
		!strings.HasPrefix(o.Before.State, "failed") || o.After.State != "active (running)" || !strings.Contains(o.Log, "opengslb-agent: serving") {
		t.Errorf("the OpenGSLB restart's step: %+v", gslb)
	}
}

func (l *lab) cannotHeal(t *testing.T) {
	before := len(l.journal("restart-ic-server"))
	os.RemoveAll(l.icLogs) // supervisord cannot spawn the IC-Server again
	fault := time.Now()
	l.kill("ic")
	page := map[string]string{"selfheal": "escalated", "ic_server_address": icHost, "selfheal_rule": "restart-ic-server"}
	l.wait("the page", 60*time.Second, func() bool { return len(l.pager.pages("firing", page)) > 0 })
	paged := time.Now()
	group := `selfheal_rule=\"restart-ic-server\"`
	flushed := testutil.Flushes(l.amProc, group)
	l.wait("the pager's group to be flushed twice more", 20*time.Second, func() bool { return testutil.Flushes(l.amProc, group) >= flushed+2 })
	pages, tickets := l.allPages()
	if len(pages) != 1 || len(pages[0].Alerts) != 1 || len(tickets) != 0 {
		t.Fatalf("%d pages and %d tickets for one incident: %v", len(pages), len(tickets), pages)
	}
	a := pages[0].Alerts[0]
	sum := a.Annotations["selfheal_summary"]
	if a.Labels["alertname"] != "ICServerConnectFailed" || a.Labels["selfheal_reason"] != "max_attempts" ||
		!strings.Contains(sum, "attempt 1, failed") || !strings.Contains(sum, "attempt 2, failed") || !strings.Contains(sum, "SPAWN_ERROR: ic-server") {
		t.Fatalf("the page: %v\n%s", a.Labels, sum)
	}
	if n := len(l.journal("restart-ic-server")) - before; n != 2 {
		t.Fatalf("%d attempts, max_attempts is 2", n)
	}
	fmt.Printf("e2e examples: %-28s fault->paged  %5.1fs\n", "IC-Server cannot be healed", paged.Sub(fault).Seconds())
	os.MkdirAll(l.icLogs, 0o755) // a human fixes it
	l.restart("ic")
}

// kongFake answers like Kong's Admin API for upstream targets, from its
// documentation (Kong cannot run here): DELETE .../targets/{t} 204 (404
// when absent), POST .../targets {"target"} 201.
type kongFake struct {
	mu      sync.Mutex
	targets map[string]bool
}

func (k *kongFake) has(target string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.targets[target]
}

func (k *kongFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodDelete && len(parts) == 4 && parts[2] == "targets":
		if !k.targets[parts[3]] {
			http.Error(w, `{"message":"Not found"}`, 404)
			return
		}
		delete(k.targets, parts[3])
		w.WriteHeader(204)
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "targets":
		var body struct{ Target string }
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.Target == "" {
			http.Error(w, `{"message":"schema violation"}`, 400)
			return
		}
		k.targets[body.Target] = true
		w.WriteHeader(201)
	default:
		http.Error(w, `{"message":"Not found"}`, 404)
	}
}

// approvalToChat: an ask for approval, as a rule with approval posts it,
// reaches the chat through the shipped routing, and pages nobody.
func (l *lab) approvalToChat(t *testing.T) {
	pages := len(l.pager.pages("firing", nil))
	ask := `[{"labels": {"alertname": "KeyServiceInstanceDown", "instance": "10.0.0.3:8888", "selfheal": "approval", "selfheal_rule": "key-service-out-of-pool", "selfheal_reason": "awaiting_approval"},
		"annotations": {"selfheal_approve": "selfhealctl approve 0000000000000001-00000001"}}]`
	resp, err := http.Post("http://"+l.am+"/api/v2/alerts", "application/json", strings.NewReader(ask))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("posting the ask: %v %v", resp, err)
	}
	resp.Body.Close()
	l.wait("the ask in the chat", 30*time.Second, func() bool {
		return len(l.chat.pages("firing", map[string]string{"selfheal": "approval"})) == 1
	})
	if got := len(l.pager.pages("firing", nil)); got != pages {
		t.Fatalf("the ask paged: %d pages, %d before", got, pages)
	}
}
