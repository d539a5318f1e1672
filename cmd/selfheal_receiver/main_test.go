package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/testutil"
)

// These tests run the built binary as an operator would: a restart in the
// middle of an action, SIGTERM with actions running, basic auth, reloads.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "selfheal_receiver")
	if err != nil {
		panic(err)
	}
	if binary, err = testutil.BuildBinary(dir, ".", "selfheal_receiver"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type receiverProc struct {
	t    *testing.T
	dir  string
	addr string
	host string // a host name of its own (a UTS namespace), or ""
	args []string
	proc *testutil.Process
	// starting: start waits only for the port (the store may not answer).
	starting bool
	// authRequired: start does not accept live rules without
	// authentication (the tests of other things do).
	authRequired bool
}

func startReceiver(t *testing.T, dir, config string, extra ...string) *receiverProc {
	t.Helper()
	return startReceiverOn(t, "", dir, config, extra...)
}

// startReceiverOn starts a receiver as if on another host: in a UTS
// namespace of its own (unshare --uts) named host.
func startReceiverOn(t *testing.T, host, dir, config string, extra ...string) *receiverProc {
	t.Helper()
	r := &receiverProc{t: t, dir: dir, host: host, addr: testutil.Addr(testutil.FreePort(t))}
	testutil.WriteFile(t, dir, "receiver.yml", config)
	r.args = append([]string{"--config.file", "receiver.yml", "--web.listen-address", r.addr, "--storage.path", "state.db"}, extra...)
	r.start()
	return r
}

// start starts the receiver and waits for it to be ready, unless
// r.starting: a test of what it does before its store answers.
func (r *receiverProc) start() {
	args := r.args
	if !r.authRequired {
		args = append(slices.Clip(args), "--"+serve.UnauthenticatedFlag)
	}
	if r.host == "" {
		r.proc = testutil.Start(r.t, r.dir, binary, args...)
	} else {
		r.proc = testutil.StartOnHost(r.t, r.host, r.dir, binary, args...)
	}
	if r.starting {
		testutil.WaitPort(r.t, r.addr, r.proc)
		return
	}
	testutil.WaitReady(r.t, r.addr, r.proc)
}

func (r *receiverProc) do(method, path, body string, header ...string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest(method, "http://"+r.addr+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type entry struct {
	Rule, Result, Reason string
	Steps                []struct{ Result string }
}

func (r *receiverProc) actions() []entry {
	r.t.Helper()
	_, body := r.do("GET", "/api/v1/actions", "")
	var out struct{ Actions []entry }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		r.t.Fatalf("%v: %s", err, body)
	}
	return out.Actions
}

// waitIdle waits until the receiver has nothing queued, deferred or
// running and has written everything: what would run twice has had its
// chance.
func (r *receiverProc) waitIdle() {
	r.t.Helper()
	testutil.Eventually(r.t, 20*time.Second, "the receiver to be idle", func() bool {
		return r.metric("selfheal_receiver_queue_length") == 0 && r.metric("selfheal_receiver_unflushed_writes") == 0
	})
}

func webhook(alertname, fp string) string {
	return `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"` + alertname +
		`"},"annotations":{},"startsAt":"2026-11-22T05:00:00Z","fingerprint":"` + fp + `"}]}`
}

// agentsLost is a webhook of n firing AgentLost alerts, agents a0 to a<n-1>.
func agentsLost(n int) string {
	alerts := make([]string, n)
	for i := range alerts {
		alerts[i] = fmt.Sprintf(`{"status":"firing","labels":{"alertname":"AgentLost","agent":"a%d"},"startsAt":"2026-11-22T05:00:00Z"}`, i)
	}
	return `{"version":"4","status":"firing","alerts":[` + strings.Join(alerts, ",") + "]}"
}

func slowRule(marker string, seconds string) string {
	script, _ := filepath.Abs("../../testdata/receiver/scripts/slow_record.sh")
	return `
rules:
  - name: slow-restart
    match: 'alertname="ICServerConnectFailed"'
    cooldown: 0s
    actions:
      - exec: {command: [` + script + `, ` + marker + `, '` + seconds + `'], timeout: 1m}
`
}

// TestRestartMidAction kills the receiver (SIGKILL, as a crash) while a
// hook runs: the hook dies with it, the journal records the attempt as
// interrupted and failed, the restarted receiver retries it (attempts
// remain), and Alertmanager's re-send runs nothing more.
func TestRestartMidAction(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	r := startReceiver(t, dir, slowRule(marker, "30"))
	if code, body := r.do("POST", "/webhook", webhook("ICServerConnectFailed", "f1")); code != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("webhook: %d %s", code, body)
	}
	testutil.Eventually(t, 10*time.Second, "the hook to start", func() bool { return len(readMarker(marker)) == 1 })
	if es := r.actions(); len(es) != 1 || es[0].Result != "running" {
		t.Fatalf("while running: %+v", es)
	}
	// The step's start is written behind: kill only once it is committed.
	testutil.Eventually(t, 10*time.Second, "the step's start to be committed", func() bool {
		_, m := r.do("GET", "/metrics", "")
		es := r.actions()
		return strings.Contains(m, "\nselfheal_receiver_unflushed_writes 0\n") && len(es) == 1 && len(es[0].Steps) == 1
	})
	r.proc.Kill()
	testutil.WriteFile(t, dir, "receiver.yml", slowRule(marker, "0"))
	r.start()
	testutil.Eventually(t, 10*time.Second, "the retry to finish", func() bool {
		es := r.actions()
		return len(es) == 2 && es[0].Result == "success"
	})
	es := r.actions()
	if es[1].Result != "interrupted" || !strings.Contains(es[1].Reason, "counts as a failed attempt; retrying") ||
		len(es[1].Steps) != 1 || es[1].Steps[0].Result != "interrupted" {
		t.Fatalf("the crashed attempt, with the step that had started: %+v", es[1])
	}
	if code, body := r.do("POST", "/webhook", webhook("ICServerConnectFailed", "f1")); code != 200 || !strings.Contains(body, `"duplicates":1`) {
		t.Fatalf("re-send after restart: %d %s", code, body)
	}
	r.waitIdle()
	if m := readMarker(marker); strings.Join(m, ",") != "started,started,finished" {
		t.Fatalf("the killed hook finished, or the retry ran more than once: %q", m)
	}
}

// TestCrashKeepsTheBacklog: with one worker busy, the receiver accepts
// more and is killed; after the restart everything it acknowledged runs,
// each once.
func TestCrashKeepsTheBacklog(t *testing.T) {
	dir := t.TempDir()
	script, _ := filepath.Abs("../../testdata/receiver/scripts/slow_record.sh")
	rule := func(seconds string) string {
		return `
rules:
  - name: restart
    match: 'alertname="AgentLost"'
    require_labels: {agent: 'a[0-9]'}
    cooldown: 0s
    actions:
      - exec: {command: [` + script + `, '` + dir + `/{{ .Labels.agent }}', '` + seconds + `']}
`
	}
	r := startReceiver(t, dir, rule("30"), "--remediation.workers", "1")
	body := agentsLost(5)
	if code, resp := r.do("POST", "/webhook", body); code != 200 || !strings.Contains(resp, `"accepted":5`) {
		t.Fatalf("webhook: %d %s", code, resp)
	}
	testutil.Eventually(t, 10*time.Second, "the first hook to start", func() bool {
		n := 0
		for i := range 5 {
			n += len(readMarker(filepath.Join(dir, fmt.Sprint("a", i))))
		}
		return n == 1
	})
	r.proc.Kill()
	testutil.WriteFile(t, dir, "receiver.yml", rule("0"))
	r.start()
	testutil.Eventually(t, 20*time.Second, "every acknowledged remediation to run", func() bool {
		for i := range 5 {
			if m := readMarker(filepath.Join(dir, fmt.Sprint("a", i))); len(m) == 0 || m[len(m)-1] != "finished" {
				return false
			}
		}
		return true
	})
	r.waitIdle()
	finished := 0
	for i := range 5 {
		m := readMarker(filepath.Join(dir, fmt.Sprint("a", i)))
		finished += strings.Count(strings.Join(m, ","), "finished")
	}
	if finished != 5 {
		t.Fatalf("%d hooks finished; want each of the 5 once", finished)
	}
}

// TestSIGTERM: running actions may finish within --shutdown.timeout; what
// is still running at the deadline is killed, journaled interrupted as a
// failed attempt, and retried by the next start.
func TestSIGTERM(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	r := startReceiver(t, dir, slowRule(marker, "1"), "--shutdown.timeout", "10s")
	r.do("POST", "/webhook", webhook("ICServerConnectFailed", "quick"))
	testutil.Eventually(t, 10*time.Second, "the hook to start", func() bool { return len(readMarker(marker)) == 1 })
	r.proc.Cmd.Process.Signal(syscall.SIGTERM)
	if ok, _ := r.proc.Wait(15 * time.Second); !ok {
		t.Fatal("receiver did not stop")
	}
	if m := readMarker(marker); len(m) != 2 || m[1] != "finished" {
		t.Fatalf("the running hook should have finished: %q", m)
	}

	dir2 := t.TempDir()
	marker2 := filepath.Join(dir2, "marker")
	r2 := startReceiver(t, dir2, slowRule(marker2, "30"), "--shutdown.timeout", "1s")
	r2.do("POST", "/webhook", webhook("ICServerConnectFailed", "slow"))
	testutil.Eventually(t, 10*time.Second, "the hook to start", func() bool { return len(readMarker(marker2)) == 1 })
	start := time.Now()
	r2.proc.Cmd.Process.Signal(syscall.SIGTERM)
	if ok, _ := r2.proc.Wait(15 * time.Second); !ok || time.Since(start) > 8*time.Second {
		t.Fatalf("receiver took %v to stop with a 1s shutdown timeout", time.Since(start))
	}
	testutil.WriteFile(t, dir2, "receiver.yml", slowRule(marker2, "0"))
	r2.start()
	testutil.Eventually(t, 10*time.Second, "the retry to finish", func() bool {
		es := r2.actions()
		return len(es) == 2 && es[0].Result == "success"
	})
	if es := r2.actions(); es[1].Result != "interrupted" || !strings.Contains(es[1].Reason, "retrying") {
		t.Fatalf("journal after SIGTERM: %+v", es)
	}
}

func TestBasicAuthAndReload(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	testutil.WriteFile(t, dir, "web.yml", "basic_auth_users:\n  alertmanager: "+string(hash)+"\n")
	r := startReceiver(t, dir, slowRule(filepath.Join(dir, "m"), "0"), "--web.config.file", "web.yml")
	if code, _ := r.do("POST", "/webhook", webhook("ICServerConnectFailed", "x")); code != 401 {
		t.Fatalf("unauthenticated webhook: %d", code)
	}
	// Prometheus scrapes and orchestrators probe without the webhook's
	// credentials; everything else needs them.
	for path, want := range map[string]int{"/metrics": 200, "/-/healthy": 200, "/-/ready": 200, "/api/v1/actions": 401, "/journal": 401, "/": 401} {
		if code, _ := r.do("GET", path, ""); code != want {
			t.Errorf("GET %s without credentials: %d, want %d", path, code, want)
		}
	}
	if code, _ := r.do("GET", "/api/v1/actions", "", "Authorization", "Basic YWxlcnRtYW5hZ2VyOndyb25n"); code != 401 { // alertmanager:wrong
		t.Errorf("a wrong password: %d", code)
	}
	auth := []string{"Authorization", "Basic YWxlcnRtYW5hZ2VyOnMzY3JldA=="} // alertmanager:s3cret
	if _, body := r.do("GET", "/metrics", "", auth...); !strings.Contains(body, `selfheal_receiver_alerts_received_total{status="firing"} 0`) {
		t.Fatalf("an unauthenticated request was recorded:\n%s", body)
	}
	if code, _ := r.do("POST", "/webhook", webhook("ICServerConnectFailed", "x"), auth...); code != 200 {
		t.Fatalf("authenticated webhook: %d", code)
	}
	testutil.CheckLinks(t, "http://"+r.addr, http.Header{"Authorization": {auth[1]}})
	testutil.WriteFile(t, dir, "receiver.yml", "rules: [{name: x, match: 'alertname=\"A\"', actions: [{exec: {command: []}}]}]\n")
	code, body := r.do("POST", "/-/reload", "", auth...)
	if code != 500 || !strings.Contains(body, "command needs at least the program") {
		t.Fatalf("bad reload: %d %s", code, body)
	}
	if _, body := r.do("GET", "/metrics", "", auth...); !strings.Contains(body, "selfheal_receiver_config_last_reload_successful 0") || !strings.Contains(body, `rule="slow-restart"`) {
		t.Fatalf("after a failed reload the old rules must serve:\n%s", body)
	}
	out, err := exec.Command(binary, "--config.check", "--config.file", filepath.Join(dir, "receiver.yml")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "receiver.yml:1: rules.0.actions.0.exec.command: command needs at least the program") {
		t.Fatalf("--config.check: %v %s", err, out)
	}
}

func readMarker(path string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestCrashReapsHookDescendants: a hook's child outlives a kill -9 of the
// receiver (the hook itself dies with it); the restarted receiver kills it.
func TestCrashReapsHookDescendants(t *testing.T) {
	dir := t.TempDir()
	script, _ := filepath.Abs("../../testdata/receiver/scripts/leave_child.sh")
	pidFile := filepath.Join(dir, "child.pid")
	r := startReceiver(t, dir, `
rules:
  - name: restart
    match: 'alertname="ICServerConnectFailed"'
    max_attempts: 1
    actions:
      - exec: {command: [`+script+`, `+pidFile+`], timeout: 10m}
`)
	r.do("POST", "/webhook", webhook("ICServerConnectFailed", "x"))
	var pid int
	testutil.Eventually(t, 10*time.Second, "the hook's child to start", func() bool {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	r.proc.Kill()
	if exited, _ := r.proc.Wait(10 * time.Second); !exited {
		t.Fatal("the receiver outlived SIGKILL")
	}
	if !alive(pid) {
		t.Fatal("the child died with the receiver: nothing to reap, the test proves nothing")
	}
	r.start()
	testutil.Eventually(t, 5*time.Second, "the child to be killed", func() bool { return !alive(pid) })
}

// alive tells whether pid runs (a zombie waiting for its parent does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// TestSlowBodiesAreCutOff: clients that send a webhook body one byte at a
// time are cut off after --web.read-timeout.
func TestSlowBodiesAreCutOff(t *testing.T) {
	dir := t.TempDir()
	r := startReceiver(t, dir, slowRule(filepath.Join(dir, "m"), "0"), "--web.read-timeout", "1s")
	if took := testutil.Trickle(r.addr, "/webhook", 20, 200*time.Millisecond, 15*time.Second); took > 5*time.Second {
		t.Fatalf("20 trickling clients were still connected after %v with a 1 s read timeout", took.Round(time.Second))
	}
}

// TestBearerTokenGuardsEveryEndpoint: with bearer_token_file set, only
// /metrics, /-/healthy and /-/ready answer without it.
func TestBearerTokenGuardsEveryEndpoint(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "token", "am-token\n")
	r := startReceiver(t, dir, "global: {bearer_token_file: token}\n"+slowRule(filepath.Join(dir, "m"), "0"))
	auth := []string{"Authorization", "Bearer am-token"}
	for _, c := range []struct {
		method, path string
		open         bool
	}{
		{"GET", "/metrics", true}, {"GET", "/-/healthy", true}, {"GET", "/-/ready", true},
		{"POST", "/webhook", false}, {"GET", "/api/v1/actions", false}, {"POST", "/-/reload", false},
		{"GET", "/", false}, {"GET", "/debug/pprof/", false}, {"GET", "/journal", false},
		{"GET", "/api/v1/pause", false}, {"POST", "/api/v1/pause", false}, {"DELETE", "/api/v1/pause", false},
	} {
		code, _ := r.do(c.method, c.path, "")
		if c.open != (code != 401) {
			t.Errorf("%s %s without the token: %d", c.method, c.path, code)
		}
		if code, _ := r.do(c.method, c.path, "", auth...); code == 401 {
			t.Errorf("%s %s with the token: 401", c.method, c.path)
		}
	}
}

// TestBasicAuthBesideBearerToken: with basic auth users and a bearer token
// both configured, each client sends the one it has (Alertmanager either,
// scripts the token); a client sending basic auth is judged by it alone.
func TestBasicAuthBesideBearerToken(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	testutil.WriteFile(t, dir, "web.yml", "basic_auth_users:\n  alertmanager: "+string(hash)+"\n")
	testutil.WriteFile(t, dir, "token", "am-token\n")
	r := startReceiver(t, dir, "global: {bearer_token_file: token}\n"+slowRule(filepath.Join(dir, "m"), "0"), "--web.config.file", "web.yml")
	basic, wrongBasic := "Basic YWxlcnRtYW5hZ2VyOnMzY3JldA==", "Basic YWxlcnRtYW5hZ2VyOndyb25n" // alertmanager:s3cret, alertmanager:wrong
	for _, tc := range []struct {
		name   string
		header []string
		want   int
	}{
		{"no credentials", nil, 401},
		{"the basic auth user", []string{"Authorization", basic}, 200},
		{"the bearer token", []string{"Authorization", "Bearer am-token"}, 200},
		{"a wrong password", []string{"Authorization", wrongBasic}, 401},
		{"a wrong token", []string{"Authorization", "Bearer nope"}, 401},
	} {
		if code, _ := r.do("GET", "/api/v1/actions", "", tc.header...); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
	if code, _ := r.do("POST", "/webhook", webhook("ICServerConnectFailed", "x"), "Authorization", "Bearer am-token"); code != 200 {
		t.Fatalf("a webhook with the token: %d", code)
	}
}

// TestDamagedStoreFile: the receiver refuses a damaged bbolt file at start
// with a message naming it, instead of panicking later.
func TestDamagedStoreFile(t *testing.T) {
	dir := t.TempDir()
	r := startReceiver(t, dir, slowRule(filepath.Join(dir, "m"), "0"))
	for i := range 50 {
		r.do("POST", "/webhook", webhook("ICServerConnectFailed", fmt.Sprint(i)))
	}
	r.proc.Stop()
	db := filepath.Join(dir, "state.db")
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2 * 4096; i < len(raw); i += 4096 {
		copy(raw[i:i+16], bytes.Repeat([]byte{0xA5}, 16)) // every page header past the meta pages
	}
	if err := os.WriteFile(db, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, append(r.args, "--"+serve.UnauthenticatedFlag)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "state.db is damaged") || strings.Contains(string(out), "panic") {
		t.Fatalf("start on a damaged store: %v\n%s", err, out)
	}
}

// TestFullDisk: on a real, full filesystem (a 4 MiB tmpfs) a webhook the
// store cannot record is answered 503 and nothing of it is accepted; once
// there is room again Alertmanager's retry is accepted whole.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	fs := mountTmpfs(t, dir, "fs", "4m")
	testutil.WriteFile(t, dir, "receiver.yml", `
rules:
  - name: restart
    match: 'alertname="AgentLost"'
    dry_run: true
    actions:
      - exec: {command: [/bin/true]}
`)
	r := &receiverProc{t: t, dir: dir, addr: testutil.Addr(testutil.FreePort(t))}
	r.args = []string{"--config.file", "receiver.yml", "--web.listen-address", r.addr, "--storage.path", filepath.Join(fs, "state.db"), "--log.level", "debug"}
	r.start()
	filler := fill(t, fs)
	body := agentsLost(2000)
	if code, resp := r.do("POST", "/webhook", body); code != 503 || !strings.Contains(resp, "store unavailable") {
		t.Fatalf("a batch on a full disk: %d %s", code, resp)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, resp := r.do("POST", "/webhook", body); code != 200 || !strings.Contains(resp, `"accepted":2000`) {
		t.Fatalf("the retry with room again: %d %s", code, resp)
	}
}

// TestLiveRulesNeedAuthentication: a receiver with a live rule and nothing
// authenticating its webhook does not start, and says how to fix that; with
// a bearer token it starts; a reload that makes a dry-run rule live without
// authentication is refused and the running configuration keeps serving.
func TestLiveRulesNeedAuthentication(t *testing.T) {
	dir := t.TempDir()
	live, _ := countingRule(dir, "")
	testutil.WriteFile(t, dir, "receiver.yml", live)
	p := testutil.Start(t, dir, binary, "--config.file", "receiver.yml", "--web.listen-address", testutil.Addr(testutil.FreePort(t)), "--storage.path", "state.db")
	if exited, _ := p.Wait(10 * time.Second); !exited || !strings.Contains(p.Output.String(), "live rules (not dry runs): 1, and nothing authenticates the webhook") ||
		!strings.Contains(p.Output.String(), "--"+serve.UnauthenticatedFlag) {
		t.Fatalf("live rules without authentication: exited %v\n%s", exited, p.Output.String())
	}
	token := testutil.WriteFile(t, dir, "token", "s3cret-token")
	withToken := "global: {bearer_token_file: " + token + "}\n"
	dry, _ := countingRule(dir, "    dry_run: true")
	r := &receiverProc{t: t, dir: dir, addr: testutil.Addr(testutil.FreePort(t)), authRequired: true}
	r.args = []string{"--config.file", "receiver.yml", "--web.listen-address", r.addr, "--storage.path", "state.db"}
	testutil.WriteFile(t, dir, "receiver.yml", withToken+live)
	r.start()
	auth := []string{"Authorization", "Bearer s3cret-token"}
	testutil.WriteFile(t, dir, "receiver.yml", dry)
	if code, body := r.do("POST", "/-/reload", "", auth...); code != 200 {
		t.Fatalf("a reload to dry runs without a token: %d %s", code, body)
	}
	testutil.WriteFile(t, dir, "receiver.yml", live)
	if code, body := r.do("POST", "/-/reload", ""); code != 500 || !strings.Contains(body, "nothing authenticates the webhook") {
		t.Fatalf("a reload to a live rule without authentication: %d %s", code, body)
	}
	if code, body := r.do("POST", "/webhook", oneAlert("a1")); code != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("the dry run still serving: %d %s", code, body)
	}
	r.waitResults(t, "dry_run")
}

// TestPauseThroughTheAPI: a pause through the API shows in /journal's
// banner (escaped), in GET /api/v1/pause and in selfheal_receiver_paused
// until DELETE ends it.
func TestPauseThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	r := startReceiver(t, dir, slowRule(filepath.Join(dir, "m"), "0"))
	if code, body := r.do("POST", "/api/v1/pause", `{"rule": "slow-restart", "for": "2h", "reason": "<b>db migration</b>"}`); code != 200 || !strings.Contains(body, `"until"`) {
		t.Fatalf("pause: %d %s", code, body)
	}
	if _, body := r.do("GET", "/journal", ""); !strings.Contains(body, "Paused: rule slow-restart, until ") || !strings.Contains(body, "&lt;b&gt;db migration&lt;/b&gt;") {
		t.Fatalf("no banner, or an unescaped one:\n%s", body)
	}
	if _, body := r.do("GET", "/api/v1/pause", ""); !strings.Contains(body, `"rule":"slow-restart"`) {
		t.Fatalf("list: %s", body)
	}
	if _, body := r.do("GET", "/metrics", ""); !strings.Contains(body, `selfheal_receiver_paused{rule="slow-restart"} 1`) {
		t.Fatal("selfheal_receiver_paused is not 1")
	}
	for _, c := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"for": "1h"}`, 400, "a reason of 1 to 256 bytes is required"},
		{`{"for": "1h", "reason": "x"`, 400, "malformed JSON"},
		{`{"for": "8d", "reason": "x"}`, 400, "from 1s to 168h"},
	} {
		if code, body := r.do("POST", "/api/v1/pause", c.body); code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s: %d %s", c.body, code, body)
		}
	}
	if code, _ := r.do("DELETE", "/api/v1/pause?rule=slow-restart", ""); code != 204 {
		t.Fatalf("resume: %d", code)
	}
	if code, body := r.do("DELETE", "/api/v1/pause?rule=slow-restart", ""); code != 404 || !strings.Contains(body, "not paused: rule slow-restart") {
		t.Fatalf("second resume: %d %s", code, body)
	}
	if _, body := r.do("GET", "/metrics", ""); !strings.Contains(body, `selfheal_receiver_paused{rule="slow-restart"} 0`) {
		t.Fatal("selfheal_receiver_paused is not 0 after the resume")
	}
}
