//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/testutil"
)

// TestMetricsAreDocumented runs both binaries with every feature that adds
// metrics (each prober with TLS and a body regexp, a health metric,
// heartbeats and a Redis heartbeat source; remediations that succeed, fail,
// are refused and deferred, an escalation; the embedded store and Redis),
// reads every metric name they export, and requires docs/metrics.md to
// name each one, so that it cannot claim to list every metric while it
// leaves some out.
func TestMetricsAreDocumented(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir)
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	am := testutil.StartAlertmanager(t, "route: {receiver: none}\nreceivers: [{name: none}]\n")
	target := testutil.StartDaemon(t, bin["selfheal_exporter"], t.TempDir(), "agents: []\n") // something to probe over HTTP and TCP
	exporterConf := fmt.Sprintf(`
modules:
  web: {prober: http, timeout: 2s, http: {fail_if_body_not_matches_regexp: ['never there']}}
  port: {prober: tcp, timeout: 2s}
  redis: {prober: redis, timeout: 2s}
checks:
  - name: web
    module: web
    health_metric: ic_server_health
    targets: [{target: '%s/-/healthy', labels: {ic_server_address: 127.0.0.1}}]
agents:
  - group: fleet
    interval: 1m
    grace: 1m
    auto_register: true
  - group: fromredis
    interval: 1m
    grace: 1m
    source: {redis: {url: 'redis://%s/0', hash: 'selfhealing:heartbeats', poll_interval: 1s}}
`, target.URL, rd.Addr)
	exporters := []*testutil.Daemon{
		testutil.StartDaemon(t, bin["selfheal_exporter"], t.TempDir(), exporterConf),
		testutil.StartDaemon(t, bin["selfheal_exporter"], t.TempDir(), exporterConf, "--storage.redis.url", "redis://"+rd.Addr+"/0"),
	}
	receiverConf := `
global:
  escalation: {alertmanager_urls: ['` + am.URL + `'], resend_interval: 1s}
rules:
  - name: ok
    match: 'alertname="Ok"'
    actions: [{exec: {command: [/bin/true]}}]
  - name: broken
    match: 'alertname="Broken"'
    max_attempts: 1
    actions: [{exec: {command: [/bin/false]}}]
  - name: picky
    match: 'alertname="Picky"'
    require_labels: {agent: '^a[0-9]+$'}
    actions: [{exec: {command: [/bin/true]}}]
`
	receivers := []*testutil.Daemon{
		testutil.StartDaemon(t, bin["selfheal_receiver"], t.TempDir(), receiverConf, "--"+serve.UnauthenticatedFlag),
		testutil.StartDaemon(t, bin["selfheal_receiver"], t.TempDir(), receiverConf, "--storage.redis.url", "redis://"+rd.Addr+"/0", "--"+serve.UnauthenticatedFlag),
	}
	for i, r := range receivers {
		for _, name := range []string{"Ok", "Broken", "Picky"} {
			body := fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":%q,"agent":"bad agent","n":"%d"},"startsAt":%q}]}`,
				name, i, time.Now().Format(time.RFC3339))
			if code, msg := r.Post(t, "/webhook", body); code != 200 {
				t.Fatalf("webhook: %d %s", code, msg)
			}
		}
	}
	for _, e := range exporters {
		if code, msg := e.Post(t, "/api/v1/agents/a1/heartbeat?group=fleet", ""); code != 204 {
			t.Fatalf("heartbeat: %d %s", code, msg)
		}
	}
	names := map[string]string{} // metric -> where it was seen
	testutil.Eventually(t, 30*time.Second, "the escalation and the remediations' metrics", func() bool {
		for _, r := range receivers {
			readNames(t, r.URL+"/metrics", names)
		}
		_, ok := names["selfheal_escalations_total"]
		return ok
	})
	for _, e := range exporters {
		readNames(t, e.URL+"/metrics", names)
	}
	probe := exporters[0].URL + "/probe?debug=false&module="
	readNames(t, probe+"web&target="+target.URL+"/-/healthy", names)
	readNames(t, probe+"port&target="+target.Addr, names)
	readNames(t, probe+"redis&target="+rd.Addr, names)
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for name, where := range names {
		if !documented(string(doc), name) {
			missing = append(missing, name+" (from "+where+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("docs/metrics.md does not name %d metrics:\n%s", len(missing), strings.Join(missing, "\n"))
	}
	fmt.Printf("e2e metrics: all %d metric names of both binaries are in docs/metrics.md\n", len(names))
}

var helpLine = regexp.MustCompile(`^# HELP (\S+) `)

// readNames adds the names of the metrics url exports to names.
func readNames(t *testing.T, url string, names map[string]string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		if m := helpLine.FindStringSubmatch(s.Text()); m != nil {
			if _, ok := names[m[1]]; !ok {
				names[m[1]] = url
			}
		}
	}
}

// documented tells whether doc names metric: itself in backquotes, or, for
// the Go and process collectors' standard metrics, as their family.
func documented(doc, metric string) bool {
	if strings.Contains(doc, "`"+metric+"`") || strings.Contains(doc, "`"+metric+"{") {
		return true
	}
	for _, family := range []string{"go_", "process_"} {
		if strings.HasPrefix(metric, family) && strings.Contains(doc, "`"+family+"*`") {
			return true
		}
	}
	return false
}
