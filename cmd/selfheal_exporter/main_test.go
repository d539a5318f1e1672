package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/selfheal/selfheal/internal/testutil"
)

// These tests run the built binary, as an operator would: start-up errors,
// --config.check, and reloads by SIGHUP and POST /-/reload.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "selfheal_exporter")
	if err != nil {
		panic(err)
	}
	if binary, err = testutil.BuildBinary(dir, ".", "selfheal_exporter"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const goodConfig = `
modules:
  gossip: {prober: tcp, timeout: 2s}
checks:
  - name: self
    module: gossip
    targets: [%s]
`

func TestConfigCheck(t *testing.T) {
	out, err := exec.Command(binary, "--config.check", "--config.file", "../../examples/selfheal_exporter.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Fatalf("example config: %v %s", err, out)
	}
	out, err = exec.Command(binary, "--config.check", "--config.file", "../../testdata/exporter/bad/unknown_key.yml").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown_key.yml:5: modules.ic_server.http.methd: unknown key "methd"`) {
		t.Fatalf("broken config: %v %s", err, out)
	}
}

func TestBadConfigAtStartupExits(t *testing.T) {
	cmd := exec.Command(binary, "--config.file", "../../testdata/exporter/bad/bad_prober.yml", "--web.listen-address", testutil.Addr(testutil.FreePort(t)))
	done := make(chan error, 1)
	var out strings.Builder
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(out.String(), `unknown prober \"ping\"`) {
			t.Fatalf("want a non-zero exit naming the problem, got %v: %s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("exporter kept running with a broken config")
	}
}

func fetch(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	addr := testutil.Addr(testutil.FreePort(t))
	cfg := testutil.WriteFile(t, dir, "c.yml", testutil.Sprintf(goodConfig, addr))
	p := testutil.Start(t, dir, binary, "--config.file", cfg, "--web.listen-address", addr)
	testutil.WaitPort(t, addr, p)
	base := "http://" + addr

	for _, path := range []string{"/-/healthy", "/-/ready", "/"} {
		if code, _ := fetch(t, "GET", base+path); code != 200 {
			t.Errorf("%s answered %d", path, code)
		}
	}
	testutil.CheckLinks(t, base, nil)
	_, m := fetch(t, "GET", base+"/metrics")
	for _, want := range []string{`selfheal_probe_success{check="self"`, "selfheal_exporter_config_last_reload_successful 1", "selfheal_exporter_build_info{"} {
		if !strings.Contains(m, want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}

	// A broken config is refused and the old one keeps serving.
	testutil.WriteFile(t, dir, "c.yml", "modules: {gossip: {prober: tcp, bogus: 1}}\n")
	code, body := fetch(t, "POST", base+"/-/reload")
	if code != 500 || !strings.Contains(body, `unknown key "bogus"`) {
		t.Fatalf("bad reload answered %d %q", code, body)
	}
	_, m = fetch(t, "GET", base+"/metrics")
	if !strings.Contains(m, "selfheal_exporter_config_last_reload_successful 0") || !strings.Contains(m, `check="self"`) {
		t.Fatalf("after a failed reload: want the old checks and the failure gauge:\n%s", m)
	}
	if code, _ := fetch(t, "GET", base+"/-/reload"); code != 405 {
		t.Errorf("GET /-/reload answered %d", code)
	}

	// A good config arrives by SIGHUP.
	testutil.WriteFile(t, dir, "c.yml", testutil.Sprintf(strings.ReplaceAll(goodConfig, "name: self", "name: renamed"), addr))
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the SIGHUP reload", func() bool {
		_, m := fetch(t, "GET", base+"/metrics")
		return strings.Contains(m, `check="renamed"`) && strings.Contains(m, "selfheal_exporter_config_last_reload_successful 1")
	})
}

// TestSlowBodiesAreCutOff: clients that send a heartbeat body one byte at a
// time are cut off after --web.read-timeout.
func TestSlowBodiesAreCutOff(t *testing.T) {
	dir := t.TempDir()
	addr := testutil.Addr(testutil.FreePort(t))
	cfg := testutil.WriteFile(t, dir, "c.yml", "agents: [{group: g, auto_register: true}]\n")
	p := testutil.Start(t, dir, binary, "--config.file", cfg, "--web.listen-address", addr, "--storage.path", filepath.Join(dir, "s.db"), "--web.read-timeout", "1s")
	testutil.WaitPort(t, addr, p)
	if took := testutil.Trickle(addr, "/api/v1/agents/a1/heartbeat", 20, 200*time.Millisecond, 15*time.Second); took > 5*time.Second {
		t.Fatalf("20 trickling clients were still connected after %v with a 1 s read timeout", took.Round(time.Second))
	}
}

// TestAdminTokenGuardsEveryEndpoint: with an admin token, only /metrics,
// /-/healthy and /-/ready answer without it; heartbeats take their group's
// token, or the admin token when the group has none.
func TestAdminTokenGuardsEveryEndpoint(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "admin.token", "admin-secret\n")
	checkGuard(t, dir, "api: {admin_token_file: admin.token}", nil, "Bearer admin-secret")
}

// TestBasicAuthGuardsEveryEndpoint: the same with basic auth users in
// --web.config.file beside an admin token: Prometheus sends the password
// to /probe, an agent of a group without a token its user's password, a
// script the admin token; a group's token stays its own.
func TestBasicAuthGuardsEveryEndpoint(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	testutil.WriteFile(t, dir, "web.yml", "basic_auth_users:\n  prometheus: "+string(hash)+"\n")
	testutil.WriteFile(t, dir, "admin.token", "admin-secret\n")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("prometheus:s3cret"))
	checkGuard(t, dir, "api: {admin_token_file: admin.token}", []string{"--web.config.file", "web.yml"}, basic)
	checkGuard(t, dir, "", []string{"--web.config.file", "web.yml"}, basic)
}

// checkGuard starts an exporter with api and flags, whose callers prove
// who they are with auth, and checks every endpoint with and without it.
func checkGuard(t *testing.T, dir, api string, flags []string, auth string) {
	t.Helper()
	addr := testutil.Addr(testutil.FreePort(t))
	testutil.WriteFile(t, dir, "hb.token", "hb-secret\n")
	cfg := testutil.WriteFile(t, dir, "c.yml", `
modules: {gossip: {prober: tcp}}
`+api+`
agents:
  - {group: open, auto_register: true}
  - {group: tokened, auto_register: true, token_file: hb.token}
`)
	p := testutil.Start(t, dir, binary, append([]string{"--config.file", cfg, "--web.listen-address", addr, "--storage.path", filepath.Join(dir, "s.db")}, flags...)...)
	defer p.Stop()
	testutil.WaitPort(t, addr, p)
	do := func(method, path, authorization string) int {
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, path string
		open         bool
	}{
		{"GET", "/metrics", true}, {"GET", "/-/healthy", true}, {"GET", "/-/ready", true},
		{"GET", "/api/v1/agents", false}, {"GET", "/api/v1/healthz", false}, {"GET", "/api/v1/stats", false},
		{"GET", "/probe?module=gossip&target=" + addr, false}, {"POST", "/-/reload", false},
		{"GET", "/", false}, {"GET", "/debug/pprof/", false}, {"GET", "/status", false},
	} {
		if code := do(c.method, c.path, ""); c.open != (code != 401) {
			t.Errorf("%s %s without credentials: %d", c.method, c.path, code)
		}
		if code := do(c.method, c.path, auth); code == 401 {
			t.Errorf("%s %s with %s: 401", c.method, c.path, auth)
		}
	}
	for _, c := range []struct {
		agent, auth string
		want        int
	}{
		{"a1?group=open", "", 401}, {"a1?group=open", auth, 204}, {"a1?group=open", "Bearer wrong", 401},
		{"a2?group=tokened", auth, 401}, {"a2?group=tokened", "Bearer hb-secret", 204},
	} {
		if code := do("POST", "/api/v1/agents/"+c.agent[:2]+"/heartbeat"+c.agent[2:], c.auth); code != c.want {
			t.Errorf("heartbeat %s with %q: %d, want %d", c.agent, c.auth, code, c.want)
		}
	}
}

// TestRegistrationSurvivesACrash: an agent registered by its first
// heartbeat is known after a kill -9 right after the 204, with the default
// snapshot interval.
func TestRegistrationSurvivesACrash(t *testing.T) {
	dir := t.TempDir()
	addr := testutil.Addr(testutil.FreePort(t))
	cfg := testutil.WriteFile(t, dir, "c.yml", "agents: [{group: g, auto_register: true}]\n")
	args := []string{"--config.file", cfg, "--web.listen-address", addr, "--storage.path", filepath.Join(dir, "s.db")}
	p := testutil.Start(t, dir, binary, args...)
	testutil.WaitPort(t, addr, p)
	if code, body := fetch(t, "POST", "http://"+addr+"/api/v1/agents/newcomer/heartbeat"); code != 204 {
		t.Fatalf("registration: %d %s", code, body)
	}
	p.Kill()
	p = testutil.Start(t, dir, binary, args...)
	testutil.WaitPort(t, addr, p)
	if code, body := fetch(t, "GET", "http://"+addr+"/api/v1/agents/newcomer"); code != 200 {
		t.Fatalf("after the crash: %d %s", code, body)
	}
}
