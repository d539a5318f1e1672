package receiver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

func prepare(t *testing.T, yml string, d *Data) []Prepared {
	t.Helper()
	c := mustConfig(t, yml)
	var out []Prepared
	for _, a := range c.Rules[0].actions {
		p, err := a.Prepare(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestExecAction(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	d := &Data{Labels: map[string]string{"alertname": "AgentLost", "instance": "10.0.0.5:8888", "agent": "d_dys1"}, Status: "firing", Rule: "r"}
	p := prepare(t, `
rules:
  - name: r
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9_]+', instance: '.+'}
    actions:
      - exec: {command: [`+scriptPath(t, "record.sh")+`, `+rec+`, restart, 'agent-{{ .Labels.agent }}', '{{ .Status }}']}
`, d)[0]
	if !strings.Contains(p.What, `"restart" "agent-d_dys1" "firing"`) {
		t.Errorf("journaled argv: %s", p.What)
	}
	st := p.Run(context.Background())
	if st.Result != ResultSuccess || st.ExitCode == nil || *st.ExitCode != 0 || !strings.Contains(st.Output, "recorded 3") {
		t.Fatalf("step: %+v", st)
	}
	want := []string{"arg:restart", "arg:agent-d_dys1", "arg:firing", "env:AgentLost firing 10.0.0.5:8888"}
	if got := readLines(t, rec); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("hook saw %q, want %q", got, want)
	}
}

func TestExecFailureTimeoutAndOutput(t *testing.T) {
	dir := t.TempDir()
	d := &Data{Labels: map[string]string{"alertname": "x"}, Status: "firing"}
	st := prepare(t, "rules: [{name: r, match: 'alertname=\"x\"', actions: [{exec: {command: ["+scriptPath(t, "fail.sh")+"]}}]}]", d)[0].Run(context.Background())
	if st.Result != ResultFailed || st.ExitCode == nil || *st.ExitCode != 3 || !strings.Contains(st.Output, "No such container") {
		t.Fatalf("failing hook: %+v", st)
	}

	pidFile := filepath.Join(dir, "child.pid")
	start := time.Now()
	st = prepare(t, "rules: [{name: r, match: 'alertname=\"x\"', actions: [{exec: {command: ["+scriptPath(t, "hang.sh")+", "+pidFile+"], timeout: 500ms}}]}]", d)[0].Run(context.Background())
	if st.Result != ResultFailed || !strings.Contains(st.Reason, "timed out") || time.Since(start) > 5*time.Second {
		t.Fatalf("hanging hook: %+v after %v", st, time.Since(start))
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("child pid: %q", b)
	}
	testutil.Eventually(t, 5*time.Second, "the hook's child to be killed with its group", func() bool {
		return syscall.Kill(pid, 0) != nil
	})

	st = prepare(t, "rules: [{name: r, match: 'alertname=\"x\"', actions: [{exec: {command: ["+scriptPath(t, "noisy.sh")+"]}}]}]", d)[0].Run(context.Background())
	if st.Result != ResultSuccess || len(st.Output) > maxOutput+100 || !strings.Contains(st.Output, "more bytes)") {
		t.Fatalf("output not truncated: %d bytes", len(st.Output))
	}
}

// kongFake answers like Kong's Admin API for upstream targets, written from
// its documentation (Kong cannot run here): DELETE
// /upstreams/{upstream}/targets/{target} answers 204 No Content (404 when
// there is no such target), POST /upstreams/{upstream}/targets with
// {"target": "host:port"} answers 201 Created with the target object.
type kongFake struct {
	mu      sync.Mutex
	targets map[string]bool
	seen    []string
	auth    string
}

func (k *kongFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seen = append(k.seen, r.Method+" "+r.URL.EscapedPath())
	if k.auth != "" && r.Header.Get("Kong-Admin-Token") != k.auth {
		http.Error(w, `{"message":"Invalid credentials"}`, 401)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodDelete && len(parts) == 4 && parts[0] == "upstreams" && parts[2] == "targets":
		if !k.targets[parts[3]] {
			http.Error(w, `{"message":"Not found"}`, 404)
			return
		}
		delete(k.targets, parts[3])
		w.WriteHeader(204)
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "upstreams" && parts[2] == "targets":
		var body struct{ Target string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Target == "" {
			http.Error(w, `{"message":"schema violation (target: required field missing)"}`, 400)
			return
		}
		k.targets[body.Target] = true
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"target": body.Target, "weight": 100})
	default:
		http.Error(w, `{"message":"Not found"}`, 404)
	}
}

func TestHTTPActionAgainstKong(t *testing.T) {
	kong := &kongFake{targets: map[string]bool{"10.0.0.5:8888": true}, auth: "s3cret"}
	srv := httptest.NewServer(kong)
	defer srv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "kong.token")
	os.WriteFile(tokenFile, []byte("s3cret"), 0o600)
	yml := `
rules:
  - name: r
    match: 'alertname="KeyServiceInstanceDown"'
    require_labels: {instance: '[0-9.]+:8888'}
    actions:
      - http: {method: DELETE, url: '` + srv.URL + `/upstreams/key_service/targets/{{ .Labels.instance }}', expect_status: [204], headers: {Kong-Admin-Token: s3cret}}
      - http: {method: POST, url: '` + srv.URL + `/upstreams/key_service/targets', body: '{"target": {{ json .Labels.instance }}}', expect_status: [201], headers: {Kong-Admin-Token: s3cret}}
      - http: {method: DELETE, url: '` + srv.URL + `/upstreams/key_service/targets/{{ .Labels.instance }}', expect_status: [204]}
`
	d := &Data{Labels: map[string]string{"alertname": "KeyServiceInstanceDown", "instance": "10.0.0.5:8888"}}
	ps := prepare(t, yml, d)
	if st := ps[0].Run(context.Background()); st.Result != ResultSuccess || st.HTTPStatus != 204 {
		t.Fatalf("DELETE target: %+v", st)
	}
	if kong.targets["10.0.0.5:8888"] {
		t.Fatal("target still in the upstream")
	}
	if st := ps[1].Run(context.Background()); st.Result != ResultSuccess || st.HTTPStatus != 201 || !kong.targets["10.0.0.5:8888"] {
		t.Fatalf("POST target: %+v", st)
	}
	// Without the admin token Kong refuses: a failed step with the status.
	if st := ps[2].Run(context.Background()); st.Result != ResultFailed || st.HTTPStatus != 401 || !strings.Contains(st.Reason, "expected [204]") {
		t.Fatalf("unauthorized DELETE: %+v", st)
	}
}

func TestHAProxyAction(t *testing.T) {
	h := testutil.StartHAProxy(t, "key_service", map[string]string{"ks1": "127.0.0.1:18881", "ks2": "127.0.0.1:18882", "ks3": "127.0.0.1:18883"})
	rule := func(addr, state string) string {
		return `
rules:
  - name: r
    match: 'alertname="KeyServiceInstanceDown"'
    require_labels: {server: '[a-z0-9]+'}
    actions:
      - haproxy: {address: '` + addr + `', backend: key_service, server: '{{ .Labels.server }}', state: ` + state + `}
`
	}
	d := func(server string) *Data {
		return &Data{Labels: map[string]string{"alertname": "KeyServiceInstanceDown", "server": server}}
	}
	st := prepare(t, rule("unix:"+h.AdminSock, "maint"), d("ks2"))[0].Run(context.Background())
	if st.Result != ResultSuccess {
		t.Fatalf("maint: %+v", st)
	}
	if s := h.Status(t, "key_service"); s["ks2"] != "MAINT" || s["ks1"] == "MAINT" || s["ks3"] == "MAINT" {
		t.Fatalf("show stat after maint: %v", s)
	}
	if st := prepare(t, rule("unix:"+h.AdminSock, "ready"), d("ks2"))[0].Run(context.Background()); st.Result != ResultSuccess || h.Status(t, "key_service")["ks2"] == "MAINT" {
		t.Fatalf("ready: %+v %v", st, h.Status(t, "key_service"))
	}
	st = prepare(t, rule("unix:"+h.AdminSock, "maint"), d("ks9"))[0].Run(context.Background())
	if st.Result != ResultFailed || !strings.Contains(st.Reason, "No such server") {
		t.Fatalf("unknown server: %+v", st)
	}
	st = prepare(t, rule(h.UserAddr, "maint"), d("ks1"))[0].Run(context.Background())
	if st.Result != ResultFailed || !strings.Contains(st.Reason, "Permission denied") || h.Status(t, "key_service")["ks1"] == "MAINT" {
		t.Fatalf("user-level socket: %+v", st)
	}
	st = prepare(t, rule("unix:"+filepath.Join(t.TempDir(), "none.sock"), "maint"), d("ks1"))[0].Run(context.Background())
	if st.Result != ResultFailed || !strings.Contains(st.Reason, "connecting") {
		t.Fatalf("missing socket: %+v", st)
	}
}

func TestVerifyAction(t *testing.T) {
	var mu sync.Mutex
	healthyAfter := 3
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if r.URL.Path == "/never" || calls < healthyAfter {
			http.Error(w, "starting", 503)
			return
		}
		io.WriteString(w, "The API is available and operational.")
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	yml := func(path string) string {
		return `
rules:
  - name: r
    match: 'alertname="KeyServiceInstanceDown"'
    require_labels: {instance: '127\.0\.0\.1:[0-9]+'}
    actions:
      - verify: {url: 'http://{{ .Labels.instance }}` + path + `', body_regexp: 'available and operational', within: 2s, every: 50ms}
`
	}
	d := &Data{Labels: map[string]string{"alertname": "KeyServiceInstanceDown", "instance": host}}
	st := prepare(t, yml("/api/auth/healthz"), d)[0].Run(context.Background())
	if st.Result != ResultSuccess || st.Verify == nil || !st.Verify.Healthy || st.Verify.Checks != 3 {
		t.Fatalf("verify that turns healthy: %+v %+v", st, st.Verify)
	}
	start := time.Now()
	st = prepare(t, yml("/never"), d)[0].Run(context.Background())
	if st.Result != ResultFailed || st.Verify.Healthy || st.Verify.LastStatus != 503 || time.Since(start) > 4*time.Second {
		t.Fatalf("verify that never passes: %+v %+v", st, st.Verify)
	}
}

// TestExecEdges covers what os/exec.Cmd used to handle for the exec action:
// a program found on PATH, a missing program, a hook whose leftover process
// holds its output open, and a receiver shutting down mid-hook.
func TestExecEdges(t *testing.T) {
	d := &Data{Labels: map[string]string{"alertname": "x"}, Status: "firing"}
	run := func(t *testing.T, ctx context.Context, command string) Step {
		t.Helper()
		return prepare(t, "rules: [{name: r, match: 'alertname=\"x\"', actions: [{exec: {command: "+command+", timeout: 10s}}]}]", d)[0].Run(ctx)
	}
	t.Run("on PATH", func(t *testing.T) {
		st := run(t, context.Background(), "[false]")
		if st.Result != ResultFailed || st.ExitCode == nil || *st.ExitCode != 1 || st.Reason != "exit status 1" {
			t.Fatalf("false from PATH: %+v", st)
		}
	})
	t.Run("missing", func(t *testing.T) {
		st := run(t, context.Background(), "[/nonexistent/selfheal-hook]")
		if st.Result != ResultFailed || st.ExitCode != nil || !strings.Contains(st.Reason, "no such file or directory") {
			t.Fatalf("missing program: %+v", st)
		}
		st = run(t, context.Background(), "[selfheal-no-such-hook]")
		if st.Result != ResultFailed || !strings.Contains(st.Reason, "executable file not found") {
			t.Fatalf("missing program on PATH: %+v", st)
		}
	})
	t.Run("leftover holds output", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		start := time.Now()
		st := run(t, context.Background(), "["+scriptPath(t, "linger.sh")+", "+pidFile+"]")
		took := time.Since(start)
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if st.Result != ResultSuccess || !strings.Contains(st.Output, "restarted") {
			t.Fatalf("lingering hook: %+v", st)
		}
		if took < outputGrace || took > outputGrace+3*time.Second {
			t.Fatalf("the step took %v; want the output grace of %v and little more", took, outputGrace)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		st := run(t, ctx, "[sleep, '30']")
		if st.Result != ResultInterrupted || st.Reason != "shutting down" || time.Since(start) > 5*time.Second {
			t.Fatalf("hook at shutdown: %+v after %v", st, time.Since(start))
		}
	})
}
