package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/selfheal/selfheal/heartbeat"
	"github.com/selfheal/selfheal/internal/testutil"
)

var bins *testutil.Binaries

func TestMain(m *testing.M) { testutil.MainWithBinaries(m, &bins) }

// run is selfhealctl with args: exit code, stdout, stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestAgentsAndOverridesAgainstTheExporter(t *testing.T) {
	dir := t.TempDir()
	token := testutil.WriteFile(t, dir, "admin.token", "s3cret-admin\n")
	exp := testutil.StartDaemon(t, bins.Exporter, dir, `
api: {admin_token_file: admin.token}
agents:
  - {group: fleet, interval: 1h, grace: 1h, auto_register: true}
  - {group: scriptengine, interval: 1s, grace: 1s, auto_register: true}
`)
	auth := []string{"Authorization", "Bearer s3cret-admin"}
	beat := func(id, body string) {
		if code, msg := exp.Post(t, "/api/v1/agents/"+id+"/heartbeat", body, auth...); code != 204 {
			t.Fatalf("heartbeat %s: %d %s", id, code, msg)
		}
	}
	beat("d_dys2", `{"group":"scriptengine","env":"d_dys2","ip":"10.0.0.2","service":"scriptengine"}`)
	beat("d_dys1", `{"group":"fleet","env":"d_dys1","ip":"10.144.11.107","service":"scriptengine"}`)
	exp.Stale(t, 10*time.Second, []string{"d_dys2"}, "Authorization", "Bearer s3cret-admin") // silent past interval + grace
	ctl := func(args ...string) (int, string, string) {
		return run(t, append([]string{"--exporter.url", exp.URL, "--bearer-token-file", token}, args...)...)
	}

	code, _, stderr := run(t, "--exporter.url", exp.URL, "agents")
	if code != ExitError || !strings.Contains(stderr, "refused the credentials (401 Unauthorized)") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("without the token: %d %q", code, stderr)
	}
	code, stdout, stderr := ctl("agents")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != ExitOK || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "LAST HEARTBEAT") {
		t.Fatalf("agents: %d %q %q", code, stdout, stderr)
	}
	if f := strings.Fields(lines[1]); f[0] != "d_dys1" || f[5] != "up" || !strings.HasSuffix(lines[1], "ago") {
		t.Fatalf("d_dys1's row: %q", lines[1])
	}
	code, stdout, _ = ctl("agents", "--status", "stale")
	if code != ExitOK || !strings.Contains(stdout, "d_dys2") || strings.Contains(stdout, "d_dys1") {
		t.Fatalf("stale agents: %q", stdout)
	}

	code, stdout, stderr = ctl("override", "set", "d_dys2", "--healthy=true", "--reason", "backend checked by hand", "--for", "1h")
	if code != ExitOK || !strings.HasPrefix(stdout, "override on d_dys2 until ") {
		t.Fatalf("override set: %d %q %q", code, stdout, stderr)
	}
	var agents []heartbeat.AgentView
	_, stdout, _ = ctl("-o", "json", "agents")
	if err := json.Unmarshal([]byte(stdout), &agents); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout)
	}
	byID := map[string]heartbeat.AgentView{}
	for _, a := range agents {
		byID[a.ID] = a
	}
	o := byID["d_dys2"].Override
	if o == nil || !o.Healthy || o.Reason != "backend checked by hand" || byID["d_dys2"].Status != heartbeat.StatePaused {
		t.Fatalf("after override set: %+v", byID["d_dys2"])
	}
	if d := time.Until(o.ExpiresAt); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("override ends in %s, want 1h", d)
	}
	_, stdout, _ = ctl("-o", "wide", "agents", "--status", "paused")
	if !strings.Contains(stdout, "healthy until") || !strings.Contains(stdout, "backend checked by hand") {
		t.Fatalf("wide: %q", stdout)
	}
	if code, stdout, _ = ctl("override", "rm", "d_dys2"); code != ExitOK || stdout != "removed the override on d_dys2\n" {
		t.Fatalf("override rm: %d %q", code, stdout)
	}
	if code, stdout, _ = ctl("override", "rm", "d_dys2"); code != ExitOK || stdout != "agent d_dys2 has no override: nothing removed\n" {
		t.Fatalf("override rm of an override no longer there: %d %q", code, stdout)
	}
	if _, stdout, _ = ctl("agents", "--status", "stale"); !strings.Contains(stdout, "d_dys2") {
		t.Fatalf("after override rm, d_dys2 is not stale again: %q", stdout)
	}

	if code, stdout, _ = ctl("agents", "rm", "d_dys1"); code != ExitOK || stdout != "forgot agent d_dys1\n" {
		t.Fatalf("agents rm: %d %q", code, stdout)
	}
	if _, stdout, _ = ctl("agents"); strings.Contains(stdout, "d_dys1") {
		t.Fatalf("d_dys1 still listed: %q", stdout)
	}
	code, _, stderr = ctl("agents", "rm", "no_such_agent")
	if code != ExitError || !strings.Contains(stderr, "the exporter answered 404 Not Found") {
		t.Fatalf("rm of an unknown agent: %d %q", code, stderr)
	}
	code, _, stderr = ctl("override", "set", "d_dys2", "--reason", "x", "--for", "720h")
	if code != ExitError || !strings.Contains(stderr, "400 Bad Request") {
		t.Fatalf("an override past the exporter's limit: %d %q", code, stderr)
	}
}

func TestErrorsAreOneLineWithAnExitCode(t *testing.T) {
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for range 100 { // 100 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--exporter.url", "http://" + testutil.ClosedPort(t), "agents"}, ExitError, "cannot reach the exporter at http://127.0.0.1:"},
		{[]string{"-o", "yaml", "agents"}, ExitUsage, "enum value must be one of table,wide,json"},
		{[]string{"agents", "--status", "gone"}, ExitUsage, "enum value must be one of up,late,stale,new,paused, got 'gone'"},
		{[]string{"override", "set", "a1"}, ExitUsage, "required flag(s) '--reason' not provided"},
		{[]string{"rules", "test", "--config.file", "../examples/selfheal_receiver.yml", "oops"}, ExitUsage, `label "oops" is not name=value`},
		{[]string{"rules", "test", "--config.file", "missing.yml", "a=b"}, ExitError, "missing.yml"},
		{[]string{"nonsense"}, ExitUsage, "expected command but got \"nonsense\""},
		{[]string{"--exporter.url", huge.URL, "agents"}, ExitError, "answered more than 64 MiB"},
	} {
		code, _, stderr := run(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.err) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d with %q on one line", c.args, code, stderr, c.code, c.err)
		}
	}
}

func TestActionsAgainstTheReceiver(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("am-password"), bcrypt.MinCost)
	testutil.WriteFile(t, dir, "web.yml", "basic_auth_users:\n  alertmanager: "+string(hash)+"\n")
	pw := testutil.WriteFile(t, dir, "password", "am-password")
	rec := testutil.StartDaemon(t, bins.Receiver, dir, `
rules:
  - name: restart-broken
    match: 'alertname="ICServerConnectFailed"'
    require_labels: {agent: '^[a-z0-9]+$'}
    max_attempts: 1
    actions:
      - exec: {command: [/bin/sh, -c, 'echo "supervisorctl: ic-server: ERROR (spawn error)" >&2; exit 1']}
  - name: restart-agent
    match: 'alertname="AgentLost"'
    actions:
      - exec: {command: [/bin/echo, restarted]}
`, "--web.config.file", filepath.Join(dir, "web.yml"))
	send := func(alertname, id string) {
		body := `{"version":"4","status":"firing","alerts":[{"status":"firing","startsAt":"` + time.Now().UTC().Format(time.RFC3339) + `","labels":{"alertname":"` + alertname + `","agent":"` + id + `"}}]}`
		req := []string{"Authorization", "Basic " + basic("alertmanager", "am-password")}
		if code, msg := rec.Post(t, "/webhook", body, req...); code != 200 {
			t.Fatalf("webhook: %d %s", code, msg)
		}
	}
	send("ICServerConnectFailed", "ic1")
	send("AgentLost", "a1")
	ctl := func(args ...string) (int, string, string) {
		return run(t, append([]string{"--receiver.url", rec.URL, "--basic-auth.username", "alertmanager", "--basic-auth.password-file", pw}, args...)...)
	}
	testutil.Eventually(t, 10*time.Second, "both remediations to finish", func() bool {
		_, out, _ := ctl("actions", "--result", "success")
		_, failed, _ := ctl("actions", "--result", "failed")
		return strings.Contains(out, "restart-agent") && strings.Contains(failed, "restart-broken")
	})
	code, stdout, stderr := ctl("-o", "wide", "actions", "--rule", "restart-broken")
	if code != ExitOK || !strings.Contains(stdout, "WHEN") || !strings.Contains(stdout, "agent=ic1") || !strings.Contains(stdout, "failed") ||
		!strings.Contains(stdout, "    1. exec") || !strings.Contains(stdout, "(exit 1)") || !strings.Contains(stdout, "ERROR (spawn error)") || strings.Contains(stdout, "restart-agent") {
		t.Fatalf("actions -o wide: %d %q %q", code, stdout, stderr)
	}
	if _, stdout, _ = ctl("actions", "--since", "1h"); strings.Count(stdout, "\n") != 3 {
		t.Fatalf("actions --since 1h: %q", stdout)
	}
	if code, _, stderr = ctl("actions", "--result", "exploded"); code != ExitError || !strings.Contains(stderr, `400 Bad Request: unknown result "exploded"`) {
		t.Fatalf("bad result: %d %q", code, stderr)
	}
	if code, _, stderr = run(t, "--receiver.url", rec.URL, "actions"); code != ExitError || !strings.Contains(stderr, "401") {
		t.Fatalf("without credentials: %d %q", code, stderr)
	}

	// --follow prints what was there, then what comes, until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.SyncBuffer{} // --follow writes while the test reads
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"--receiver.url", rec.URL, "--basic-auth.username", "alertmanager", "--basic-auth.password-file", pw,
			"actions", "--follow", "--follow.interval", "100ms", "--rule", "restart-agent"}, out, &bytes.Buffer{})
	}()
	testutil.Eventually(t, 5*time.Second, "follow to print the first entry", func() bool { return strings.Contains(out.String(), "restart-agent") })
	send("AgentLost", "a2")
	testutil.Eventually(t, 10*time.Second, "follow to print the new remediation's success", func() bool {
		return strings.Count(out.String(), "restart-agent") >= 2 && strings.Count(out.String(), "success") >= 2
	})
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("follow ended with %d", code)
	}
	if got := out.String(); strings.Count(got, "WHEN") != 1 || strings.Contains(got, "restart-broken") {
		t.Fatalf("follow printed:\n%s", got)
	}

	// pause holds the rule's next alert, journaled paused; resume runs it.
	if code, out, errOut := ctl("pause", "--rule", "restart-agent", "--for", "1h", "--reason", "change window"); code != ExitOK || !strings.HasPrefix(out, "paused rule restart-agent until ") {
		t.Fatalf("pause: %d %q %q", code, out, errOut)
	}
	send("AgentLost", "a3")
	testutil.Eventually(t, 10*time.Second, "the alert to be held", func() bool {
		_, out, _ := ctl("actions", "--result", "paused")
		return strings.Contains(out, "restart-agent") && strings.Contains(out, "change window")
	})
	if code, out, errOut := ctl("resume", "--rule", "restart-agent"); code != ExitOK || out != "resumed rule restart-agent\n" {
		t.Fatalf("resume: %d %q %q", code, out, errOut)
	}
	testutil.Eventually(t, 10*time.Second, "the held alert to run", func() bool {
		_, out, _ := ctl("actions", "--rule", "restart-agent", "--result", "success")
		return strings.Count(out, "restart-agent") == 3
	})
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"resume"}, "404 Not Found: not paused: every rule"},
		{[]string{"pause", "--for", "200h", "--reason", "x"}, "400 Bad Request: invalid pause: for \"200h0m0s\" must be a duration from 1s to 168h"},
		{[]string{"pause", "--rule", "nope", "--for", "1h", "--reason", "x"}, `unknown rule "nope"`},
	} {
		if code, _, errOut := ctl(c.args...); code != ExitError || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: %d %q, want %q", c.args, code, errOut, c.err)
		}
	}
}

func TestRulesTestAndCheckConfig(t *testing.T) {
	code, stdout, _ := run(t, "rules", "test", "--config.file", "../examples/selfheal_receiver.yml",
		"alertname=KeyServiceInstanceDown", "severity=critical", "instance=10.0.0.3:8888", "server=ks2", "host=10.0.0.3")
	for _, want := range []string{"key-service-out-of-pool (dry run)", "set server key_service/ks2 state maint", "DELETE http://127.0.0.1:8001/upstreams/key_service/targets/10.0.0.3:8888",
		"restart api_key_service on https://10.0.0.3:2376 (wait running)", "GET http://10.0.0.3:8888/api/auth/healthz"} {
		if code != ExitOK || !strings.Contains(stdout, want) {
			t.Fatalf("rules test: exit %d, %q lacks %q", code, stdout, want)
		}
	}
	if strings.Contains(stdout, "docker docker") {
		t.Fatalf("rules test names a step's kind twice: %q", stdout)
	}
	code, stdout, stderr := run(t, "rules", "test", "--config.file", "../examples/selfheal_receiver.yml", "alertname=KeyServiceInstanceDown", "severity=critical", "instance=10.0.0.3:8888", "server=ks2", "host=10.0.0.3; reboot")
	if code != ExitNoRule || !strings.Contains(stdout, `refused  label "host" value "10.0.0.3; reboot" does not match`) || !strings.Contains(stderr, "every matching rule would refuse") {
		t.Fatalf("hostile label: %d %q %q", code, stdout, stderr)
	}
	if code, stdout, _ = run(t, "-o", "json", "rules", "test", "--config.file", "../examples/selfheal_receiver.yml", "--status", "resolved", "alertname=KeyServiceInstanceDown", "instance=10.0.0.3:8888", "server=ks2"); code != ExitOK || !strings.Contains(stdout, `"rule": "key-service-back-in-pool"`) {
		t.Fatalf("resolved, json: %d %q", code, stdout)
	}
	if code, stdout, _ = run(t, "rules", "test", "--config.file", "../examples/selfheal_receiver.yml", "alertname=Unrelated"); code != ExitNoRule || stdout != "" {
		t.Fatalf("no rule: %d %q", code, stdout)
	}

	bad := "../testdata/receiver/bad/docker_bad_op.yml"
	code, stdout, stderr = run(t, "check-config", "../examples/selfheal_receiver.yml", "../examples/selfheal_exporter.yml", bad)
	if code != ExitError || !strings.Contains(stdout, "selfheal_receiver.yml: valid selfheal_receiver configuration (5 rules)") ||
		!strings.Contains(stdout, "selfheal_exporter.yml: valid selfheal_exporter configuration") ||
		!strings.Contains(stderr, bad+`:6: rules.0.actions.0.docker.op: op must be restart, start or stop, not "reboot"`) || !strings.Contains(stderr, "1 of 3 files invalid") {
		t.Fatalf("check-config: %d %q %q", code, stdout, stderr)
	}
	for file, want := range map[string]string{
		"../examples/alertmanager.yml":                                     "not a selfheal configuration: its keys are Alertmanager's",
		"../examples/prometheus.yml":                                       "not a selfheal configuration: its keys are Prometheus's",
		testutil.WriteFile(t, t.TempDir(), "other.yml", "something: []\n"): "neither selfheal_exporter's",
	} {
		if code, _, stderr = run(t, "check-config", file); code != ExitError || !strings.Contains(stderr, want) {
			t.Errorf("%s: %d %q; want %q", file, code, stderr, want)
		}
	}
}

// TestHelpAndVersion: --help, -h, help COMMAND, COMMAND --help and
// --version print once on stdout and exit 0, as amtool's do.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help", "actions"}, {"actions", "--help"}, {"help", "override", "rm"}, {"--version"}} {
		code, stdout, stderr := run(t, args...)
		want, times := "usage: selfhealctl", 1
		if args[0] == "--version" {
			want = "selfhealctl, version"
		}
		if code != ExitOK || strings.Count(stdout, want) != times || stderr != "" {
			t.Errorf("%v: exit %d, %q printed %d times, stderr %q", args, code, want, strings.Count(stdout, want), stderr)
		}
	}
}

// TestAgentsRmHelpListsOnlyItsFlags: the listing's filters belong to
// "agents list", the default ("agents --status stale" works), not to
// "agents rm".
func TestAgentsRmHelpListsOnlyItsFlags(t *testing.T) {
	code, stdout, stderr := run(t, "agents", "rm", "--help")
	if code != ExitOK || strings.Contains(stdout+stderr, "--status") || strings.Contains(stdout+stderr, "--group") {
		t.Fatalf("agents rm --help: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "agents", "list", "--help")
	if code != ExitOK || !strings.Contains(stdout+stderr, "--status") {
		t.Fatalf("agents list --help: %d %q %q", code, stdout, stderr)
	}
	if code, _, stderr = run(t, "agents", "--status", "asleep"); code == ExitOK || !strings.Contains(stderr, "asleep") {
		t.Fatalf("agents --status asleep: %d %q", code, stderr)
	}
}

// TestHashPassword: the hash printed for a password file matches the
// file's password without its trailing newline, as Alertmanager sends it,
// and nothing else; an empty file and a bad cost are refused.
func TestHashPassword(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "receiver.password")
	os.WriteFile(pw, []byte("correct horse\n"), 0o600)
	code, out, stderr := run(t, "hash-password", "--password-file", pw, "--cost", "4")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	hash := []byte(strings.TrimSpace(out))
	if bcrypt.CompareHashAndPassword(hash, []byte("correct horse")) != nil || bcrypt.CompareHashAndPassword(hash, []byte("correct horse\n")) == nil {
		t.Fatalf("hash %q", hash)
	}
	if cost, _ := bcrypt.Cost(hash); cost != 4 || strings.Count(out, "\n") != 1 {
		t.Fatalf("output %q", out)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"hash-password", "--password-file", empty}, "holds no password"},
		{[]string{"hash-password", "--password-file", pw, "--cost", "99"}, "bcrypt takes 4 to 31"},
		{[]string{"hash-password", "--password-file", filepath.Join(dir, "missing")}, "missing"},
	} {
		if code, _, stderr := run(t, c.args...); code != ExitError || !strings.Contains(stderr, c.err) {
			t.Errorf("%v: exit %d, %q", c.args, code, stderr)
		}
	}
}

// TestApproveAndReject: selfhealctl answers a real receiver's asks: an
// approved remediation runs, a second answer is refused with who answered
// first, a rejected one is journaled cancelled.
func TestApproveAndReject(t *testing.T) {
	am := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})) // takes the asks
	defer am.Close()
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "token", "tok\n")
	rec := testutil.StartDaemon(t, bins.Receiver, dir, `
global:
  bearer_token_file: token
  escalation: {alertmanager_urls: ['`+am.URL+`']}
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9]+'}
    approval: {required: true}
    actions:
      - exec: {command: [/bin/echo, restarted]}
`)
	tok := testutil.WriteFile(t, dir, "tok", "tok\n")
	ctl := func(args ...string) (int, string, string) {
		return run(t, append([]string{"--receiver.url", rec.URL, "--bearer-token-file", tok}, args...)...)
	}
	awaiting := func(agent string) string {
		body := `{"version":"4","status":"firing","alerts":[{"status":"firing","startsAt":"` + time.Now().UTC().Format(time.RFC3339) + `","labels":{"alertname":"AgentLost","agent":"` + agent + `"}}]}`
		if code, msg := rec.Post(t, "/webhook", body, "Authorization", "Bearer tok"); code != 200 {
			t.Fatalf("webhook: %d %s", code, msg)
		}
		var id string
		testutil.Eventually(t, 10*time.Second, agent+" to await approval", func() bool {
			_, out, _ := ctl("-o", "json", "actions", "--result", "awaiting_approval")
			var es []struct {
				ID     string
				Labels map[string]string
			}
			json.Unmarshal([]byte(out), &es)
			for _, e := range es {
				if e.Labels["agent"] == agent {
					id = e.ID
				}
			}
			return id != ""
		})
		return id
	}
	id := awaiting("a1")
	if code, out, errOut := ctl("approve", id, "--by", "dave", "--reason", "checked"); code != ExitOK || out != "approved "+id+"\n" {
		t.Fatalf("approve: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := ctl("reject", id, "--by", "erin", "--reason", "too late"); code != ExitError || !strings.Contains(errOut, "409 Conflict: already approved by dave at ") {
		t.Fatalf("a second answer: %d %q", code, errOut)
	}
	testutil.Eventually(t, 10*time.Second, "the approved remediation to run", func() bool {
		_, out, _ := ctl("actions", "--result", "success")
		return strings.Contains(out, "restart-agent")
	})
	id2 := awaiting("a2")
	if code, _, errOut := ctl("reject", id2); code != ExitUsage || !strings.Contains(errOut, "--reason") {
		t.Fatalf("reject without a reason: %d %q", code, errOut)
	}
	if code, out, _ := ctl("reject", id2, "--by", "erin", "--reason", "audit"); code != ExitOK || out != "rejected "+id2+"\n" {
		t.Fatalf("reject: %d %q", code, out)
	}
	testutil.Eventually(t, 10*time.Second, "the rejected remediation to be cancelled", func() bool {
		_, out, _ := ctl("actions", "--result", "cancelled")
		return strings.Contains(out, "rejected by erin")
	})
	if code, _, errOut := ctl("approve", "0000000000000000-00000000"); code != ExitError || !strings.Contains(errOut, "404 Not Found") {
		t.Fatalf("an unknown id: %d %q", code, errOut)
	}
}
