package collector

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/prober"
)

func newTestExporter(t *testing.T, yml string) (*Exporter, *prometheus.Registry) {
	t.Helper()
	c, err := ParseConfig([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	return NewExporter(c, reg), reg
}

func get(t *testing.T, h http.Handler, path string, header ...string) (int, string) {
	t.Helper()
	return testutil.Serve(t, h, "GET", path, "", header...)
}

func TestProbeHandler(t *testing.T) {
	target := httptest.NewServer(testutil.TargetMux())
	defer target.Close()
	exp, reg := newTestExporter(t, `
modules:
  ic_server: {prober: http}
  key_service: {prober: http, http: {fail_if_body_not_matches_regexp: ['The API is available and operational']}}
  slow: {prober: http, timeout: 30s}
`)
	h := &ProbeHandler{Exporter: exp, Logger: log.NewNopLogger(), TimeoutOffset: 500 * time.Millisecond}
	q := func(module, target string) string {
		return "/probe?" + url.Values{"module": {module}, "target": {target}}.Encode()
	}

	code, body := get(t, h, q("ic_server", target.URL+"/ok"))
	if code != 200 || !strings.Contains(body, "\nselfheal_probe_success 1\n") || !strings.Contains(body, "selfheal_probe_http_status_code 200") {
		t.Fatalf("healthy IC-Server: %d\n%s", code, body)
	}
	code, body = get(t, h, q("key_service", target.URL+"/degraded"))
	if code != 200 || !strings.Contains(body, "\nselfheal_probe_success 0\n") {
		t.Fatalf("degraded key service must be a failed probe, not an HTTP error: %d\n%s", code, body)
	}

	for _, tc := range []struct{ path, want string }{
		{q("nope", target.URL), `unknown module "nope"`},
		{"/probe?target=x", "module parameter is missing"},
		{"/probe?module=ic_server", "target parameter is missing"},
		{q("ic_server", "ftp://10.0.0.1/ok"), "scheme must be http or https"},
		{q("ic_server", "http://"), "has no host"},
	} {
		code, body := get(t, h, tc.path)
		if code != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: got %d %q, want 400 with %q", tc.path, code, body, tc.want)
		}
	}
	if v := promtest.ToFloat64(exp.unknownModule); v != 1 {
		t.Errorf("unknown module counter = %v", v)
	}
	if n, _ := promtest.GatherAndCount(reg, "selfheal_exporter_probes_total"); n == 0 {
		t.Error("probes_total not exported")
	}
	if v := promtest.ToFloat64(exp.probes.WithLabelValues("http", "failure")); v != 1 {
		t.Errorf("http failures = %v, want 1", v)
	}

	// The scrape timeout header cuts a 30s module timeout to 1s - 0.5s.
	start := time.Now()
	code, body = get(t, h, q("slow", target.URL+"/slow"), "X-Prometheus-Scrape-Timeout-Seconds", "1")
	if d := time.Since(start); d > 2*time.Second || code != 200 || !strings.Contains(body, "selfheal_probe_success 0") {
		t.Fatalf("hanging target: %d after %v\n%s", code, d, body)
	}
}

func TestProbeHandlerDebug(t *testing.T) {
	target := httptest.NewServer(testutil.TargetMux())
	defer target.Close()
	exp, _ := newTestExporter(t, `modules: {key_service: {prober: http, http: {fail_if_body_not_matches_regexp: ['operational']}}}`)
	h := &ProbeHandler{Exporter: exp, Logger: log.NewNopLogger()}
	code, body := get(t, h, "/probe?module=key_service&debug=true&target="+url.QueryEscape(target.URL+"/degraded"))
	if code != 200 {
		t.Fatal(code)
	}
	for _, want := range []string{"Logs for the probe:", "Body did not match", "Probe failed", "Metrics that would have been returned:", "selfheal_probe_success 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("debug output lacks %q:\n%s", want, body)
		}
	}
}

func TestProbeTimeout(t *testing.T) {
	for _, tc := range []struct {
		module time.Duration
		header string
		want   time.Duration
	}{
		{5 * time.Second, "", 5 * time.Second},
		{5 * time.Second, "10", 5 * time.Second},
		{5 * time.Second, "3", 2500 * time.Millisecond},
		{5 * time.Second, "0.4", 200 * time.Millisecond}, // offset larger than the timeout: half of it
		{5 * time.Second, "garbage", 5 * time.Second},
		{0, "", prober.DefaultTimeout},
	} {
		if got := prober.ProbeTimeout(tc.module, tc.header, 500*time.Millisecond); got != tc.want {
			t.Errorf("prober.ProbeTimeout(%v, %q) = %v, want %v", tc.module, tc.header, got, tc.want)
		}
	}
}

func TestMetricsHandlerStaticChecks(t *testing.T) {
	up := httptest.NewServer(testutil.TargetMux())
	defer up.Close()
	down := testutil.ClosedPort(t)
	exp, reg := newTestExporter(t, `
modules:
  ic_server: {prober: http, timeout: 2s}
  gossip: {prober: tcp, timeout: 2s}
checks:
  - name: ic_server
    module: ic_server
    health_metric: ic_server_health
    targets:
      - target: `+up.URL+`/ok
        labels: {ic_server_address: 10.0.0.1, ocp_address: 10.0.0.9}
      - target: http://`+down+`/ok
        labels: {ic_server_address: 10.0.0.2, ocp_address: 10.0.0.9}
  - name: gossip
    module: gossip
    targets:
      - target: `+strings.TrimPrefix(up.URL, "http://")+`
        labels: {env: d_dys1}
`)
	h := &MetricsHandler{Exporter: exp, Base: reg, Logger: log.NewNopLogger()}
	code, body := get(t, h, "/metrics")
	if code != 200 {
		t.Fatal(code, body)
	}
	upT, downT := up.URL+"/ok", "http://"+down+"/ok"
	for _, want := range []string{
		`ic_server_health{check="ic_server",env="",ic_server_address="10.0.0.1",module="ic_server",ocp_address="10.0.0.9",target="` + upT + `"} 1`,
		`ic_server_health{check="ic_server",env="",ic_server_address="10.0.0.2",module="ic_server",ocp_address="10.0.0.9",target="` + downT + `"} 0`,
		`selfheal_probe_success{check="gossip",env="d_dys1",ic_server_address="",module="gossip",ocp_address="",target="` + strings.TrimPrefix(up.URL, "http://") + `"} 1`,
		`selfheal_probe_success{check="ic_server",env="",ic_server_address="10.0.0.2",module="ic_server",ocp_address="10.0.0.9",target="` + downT + `"} 0`,
		"selfheal_checks_targets 3",
		"selfheal_exporter_probes_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks\n%s\nin\n%s", want, body)
		}
	}
	if strings.Count(body, "ic_server_health{") != 2 {
		t.Errorf("want one ic_server_health series per IC-Server:\n%s", body)
	}
}

// TestMetricsHandlerBoundedByScrapeTimeout: targets that never answer must
// not hold the scrape past the scrape timeout less the offset.
func TestMetricsHandlerBoundedByScrapeTimeout(t *testing.T) {
	slow := httptest.NewServer(testutil.TargetMux())
	defer slow.Close()
	yml := "modules: {slow: {prober: http, timeout: 60s}}\nchecks:\n  - name: slow\n    module: slow\n    targets:\n"
	for i := range 20 {
		yml += "      - " + slow.URL + "/slow?n=" + string(rune('a'+i)) + "\n"
	}
	exp, reg := newTestExporter(t, yml)
	h := &MetricsHandler{Exporter: exp, Base: reg, Logger: log.NewNopLogger(), TimeoutOffset: 500 * time.Millisecond, Concurrency: 4}
	start := time.Now()
	code, body := get(t, h, "/metrics", "X-Prometheus-Scrape-Timeout-Seconds", "1.5")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("scrape took %v", d)
	}
	if code != 200 || strings.Count(body, "selfheal_probe_success{") != 20 || strings.Contains(body, "selfheal_probe_success{check=\"slow\",module=\"slow\",target=\""+slow.URL+"/slow?n=a\"} 1") {
		t.Fatalf("want 20 failed probes:\n%s", body)
	}
}

// TestProbeAllowedNetworks: a module with allowed_networks answers 403 for
// targets outside them, on every prober, and a redirect to an address
// outside them fails the probe without reaching it.
func TestProbeAllowedNetworks(t *testing.T) {
	outside, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2 on this machine:", err)
	}
	reached := make(chan struct{}, 10)
	go http.Serve(outside, http.HandlerFunc(func(_ http.ResponseWriter, _ *http.Request) { reached <- struct{}{} }))
	defer outside.Close()
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://"+outside.Addr().String()+"/", http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer inside.Close()
	exp, reg := newTestExporter(t, `
modules:
  web: {prober: http, allowed_networks: [127.0.0.1/32]}
  port: {prober: tcp, allowed_networks: [10.0.0.0/8, 127.0.0.1]}
  far: {prober: tcp, allowed_networks: [10.0.0.0/8]}
`)
	h := &ProbeHandler{Exporter: exp, Logger: log.NewNopLogger()}
	q := func(module, target string) string {
		return "/probe?" + url.Values{"module": {module}, "target": {target}}.Encode()
	}
	if code, body := get(t, h, q("web", inside.URL+"/")); code != 200 || !strings.Contains(body, "\nselfheal_probe_success 1\n") {
		t.Fatalf("an allowed target: %d\n%s", code, body)
	}
	for _, tc := range []struct{ module, target string }{
		{"web", "http://" + outside.Addr().String() + "/"},
		{"far", "localhost:1"}, // a name: every address it resolves to must be allowed
		{"port", outside.Addr().String()},
	} {
		if code, body := get(t, h, q(tc.module, tc.target)); code != 403 || !strings.Contains(body, "allowed_networks") {
			t.Errorf("%s %s: %d %s", tc.module, tc.target, code, body)
		}
	}
	if code, body := get(t, h, q("web", inside.URL+"/redirect")); code != 200 || !strings.Contains(body, "\nselfheal_probe_success 0\n") {
		t.Fatalf("a redirect outside: %d\n%s", code, body)
	}
	select {
	case <-reached:
		t.Fatal("the probe reached an address outside allowed_networks")
	default:
	}
	if v := promtest.ToFloat64(exp.badRequests.WithLabelValues("forbidden_target")); v != 3 {
		t.Errorf("forbidden targets counted %v", v)
	}
	_ = reg
}
