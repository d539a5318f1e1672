package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/selfheal/selfheal/internal/testutil"
)

// keyServiceDown is a webhook of one firing KeyServiceInstanceDown alert
// for a pool member.
func keyServiceDown(server string) string {
	return fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"KeyServiceInstanceDown","server":%q},"startsAt":"2026-11-22T05:00:00Z"}]}`, server)
}

// poolRules are two rules on one pool of 3 that keeps 2 in: a dry run for
// ks2, a real run for ks1 and ks3.
const poolRules = `
rules:
  - name: dry
    match: 'alertname="KeyServiceInstanceDown", server="ks2"'
    require_labels: {server: 'ks[0-9]'}
    dry_run: true
    pool: {name: key_service, size: 3, min_healthy: 2, member: '{{ .Labels.server }}'}
    actions: [{exec: {command: [/bin/true]}}]
  - name: real
    match: 'alertname="KeyServiceInstanceDown", server=~"ks[13]"'
    require_labels: {server: 'ks[0-9]'}
    pool: {name: key_service, size: 3, min_healthy: 2, member: '{{ .Labels.server }}'}
    actions: [{exec: {command: [/bin/true]}}]
`

// TestDryRunsTakeNobodyOutOfThePool: dry runs, by the global --dry-run and
// by a rule, judge the pool but take nobody out, also across a restart; a
// real run after them still has the pool to itself.
func TestDryRunsTakeNobodyOutOfThePool(t *testing.T) {
	dir := t.TempDir()
	r := startReceiver(t, dir, poolRules, "--dry-run")
	r.do("POST", "/webhook", keyServiceDown("ks1"))
	r.waitResults(t, "dry_run")
	r.proc.Stop()

	r.args = r.args[:len(r.args)-1] // without --dry-run
	r.start()
	r.do("POST", "/webhook", keyServiceDown("ks2"))
	r.waitResults(t, "dry_run", "dry_run")
	r.do("POST", "/webhook", keyServiceDown("ks3"))
	es := r.waitResults(t, "success", "dry_run", "dry_run")
	if es[0].Rule != "real" {
		t.Fatalf("newest entry %+v; want the real run for ks3", es[0])
	}
}

// waitResults waits until the journal holds finished entries with these
// results, newest first, and returns them.
func (r *receiverProc) waitResults(t *testing.T, want ...string) []entry {
	t.Helper()
	var es []entry
	testutil.Eventually(t, 20*time.Second, "results "+strings.Join(want, ", "), func() bool {
		es = r.actions()
		if len(es) != len(want) {
			return false
		}
		for _, e := range es {
			if e.Result == "queued" || e.Result == "running" {
				return false
			}
		}
		return true
	})
	for i, e := range es {
		if e.Result != want[i] {
			t.Fatalf("entry %d: %s %s; want %s (all: %+v)", i, e.Result, e.Reason, want[i], es)
		}
	}
	return es
}

// alertsAt is a webhook of firing alerts of one alertname, one per agent,
// all starting at startsAt.
func alertsAt(alertname, startsAt string, agents ...string) string {
	alerts := make([]string, len(agents))
	for i, a := range agents {
		alerts[i] = fmt.Sprintf(`{"status":"firing","labels":{"alertname":%q,"agent":%q},"startsAt":%q}`, alertname, a, startsAt)
	}
	return `{"version":"4","status":"firing","alerts":[` + strings.Join(alerts, ",") + "]}"
}

// TestDeferredWorkDoesNotHoldUpDueWork: with an in-memory window of 5, six
// alerts of a rule under a 10m cooldown come back as new incidents and are
// deferred; an alert of another rule is healed at once, not after the
// cooldown.
func TestDeferredWorkDoesNotHoldUpDueWork(t *testing.T) {
	dir := t.TempDir()
	r := startReceiver(t, dir, `
rules:
  - name: flapping
    match: 'alertname="AgentLost"'
    cooldown: 10m
    actions: [{exec: {command: [/bin/true]}}]
  - name: other
    match: 'alertname="ICServerConnectFailed"'
    actions: [{exec: {command: [/bin/true]}}]
`, "--remediation.queue-size", "5")
	agents := []string{"a1", "a2", "a3", "a4", "a5", "a6"}
	r.do("POST", "/webhook", alertsAt("AgentLost", "2026-11-22T05:00:00Z", agents...))
	r.waitResults(t, "success", "success", "success", "success", "success", "success")
	r.do("POST", "/webhook", alertsAt("AgentLost", "2026-11-22T06:00:00Z", agents...))
	testutil.Eventually(t, 20*time.Second, "six deferrals", func() bool {
		n := 0
		for _, e := range r.actions() {
			if strings.HasPrefix(e.Reason, "deferred:") {
				n++
			}
		}
		return n == 6
	})
	start := time.Now()
	r.do("POST", "/webhook", webhook("ICServerConnectFailed", "ic1"))
	testutil.Eventually(t, 20*time.Second, "the other rule's alert to be healed", func() bool {
		for _, e := range r.actions() {
			if e.Rule == "other" && e.Result == "success" {
				return true
			}
		}
		return false
	})
	t.Logf("healed %v after its webhook, behind six deferrals", time.Since(start).Round(time.Millisecond))
}

// metric reads one series of the receiver's /metrics, or -1.
func (r *receiverProc) metric(series string) float64 {
	r.t.Helper()
	_, body := r.do("GET", "/metrics", "")
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// TestNoEscalationForAnAlertResolvedDuringTheLastAttempt: the alert
// resolves while the rule's last attempt runs, and the attempt fails. No
// escalation is opened, posted, or brought back by a restart.
func TestNoEscalationForAnAlertResolvedDuringTheLastAttempt(t *testing.T) {
	dir := t.TempDir()
	am := testutil.StartAlertmanager(t, "route: {receiver: pager}\nreceivers: [{name: pager}]\n")
	gate, rec := dir+"/gate", dir+"/rec"
	scripts := func(name string) string {
		p, _ := filepath.Abs("../../testdata/receiver/scripts/" + name)
		return p
	}
	r := startReceiver(t, dir, `
global:
  escalation: {alertmanager_urls: ['`+am.URL+`'], resend_interval: 1s}
rules:
  - name: restart-ic-server
    match: 'alertname="ICServerConnectFailed"'
    max_attempts: 1
    actions:
      - exec: {command: [`+scripts("gate.sh")+`, `+rec+`, `+gate+`]}
      - exec: {command: [`+scripts("fail.sh")+`]}
`)
	r.do("POST", "/webhook", webhook("ICServerConnectFailed", "ic1"))
	testutil.Eventually(t, 10*time.Second, "the last attempt to start", func() bool { return len(testutil.ReadLines(t, rec)) == 1 })
	resolved := strings.ReplaceAll(webhook("ICServerConnectFailed", "ic1"), `"firing"`, `"resolved"`)
	if code, body := r.do("POST", "/webhook", resolved); code != 200 {
		t.Fatalf("resolved notification: %d %s", code, body)
	}
	testutil.WriteFile(t, dir, "gate", "")
	r.waitResults(t, "failed")
	testutil.Eventually(t, 10*time.Second, "the escalation to be skipped", func() bool {
		return r.metric(`selfheal_escalations_total{event="skipped",reason="max_attempts",rule="restart-ic-server"}`) == 1
	})
	if open, posted := r.metric("selfheal_escalations_open"), r.metric(`selfheal_escalations_total{event="posted",reason="max_attempts",rule="restart-ic-server"}`); open != 0 || posted > 0 {
		t.Fatalf("%v escalations open, %v posted for a resolved alert", open, posted)
	}
	r.proc.Stop()
	r.start()
	if open := r.metric("selfheal_escalations_open"); open != 0 {
		t.Fatalf("a restart brought back %v escalations", open)
	}
}

// TestWebhookWaitsForTheRedisReplica: on a Redis primary with a replica,
// a webhook is answered 200 only once the replica has what it accepted;
// with the replica stopped the answer is 503 (Alertmanager retries), and
// the retry after the replica is back is taken.
func TestWebhookWaitsForTheRedisReplica(t *testing.T) {
	primary := testutil.StartRedis(t, testutil.RedisOptions{})
	replica := testutil.StartRedis(t, testutil.RedisOptions{ReplicaOf: primary.Addr})
	dir := t.TempDir()
	r := startReceiver(t, dir, `
rules:
  - name: r
    match: 'alertname="ICServerConnectFailed"'
    actions: [{exec: {command: [/bin/true]}}]
`, "--storage.redis.url", "redis://"+primary.Addr+"/0", "--storage.redis.wait-timeout", "500ms")
	if code, body := r.do("POST", "/webhook", alertsAt("ICServerConnectFailed", "2026-11-22T05:00:00Z", "a")); code != 200 {
		t.Fatalf("with the replica up: %d %s", code, body)
	}
	replica.Proc.Cmd.Process.Signal(syscall.SIGSTOP)
	defer replica.Proc.Cmd.Process.Signal(syscall.SIGCONT)
	code, body := r.do("POST", "/webhook", alertsAt("ICServerConnectFailed", "2026-11-22T05:00:00Z", "b"))
	if code != 503 || !strings.Contains(body, "not acknowledged by enough Redis replicas") {
		t.Fatalf("with the replica stopped: %d %s", code, body)
	}
	if v := r.metric("selfheal_receiver_unacknowledged_alerts_total"); v != 1 {
		t.Fatalf("unacknowledged alerts counted: %v, want 1", v)
	}
	replica.Proc.Cmd.Process.Signal(syscall.SIGCONT)
	testutil.Eventually(t, 10*time.Second, "Alertmanager's retry to be taken", func() bool {
		code, _ := r.do("POST", "/webhook", alertsAt("ICServerConnectFailed", "2026-11-22T05:00:00Z", "b"))
		return code == 200
	})
	r.waitResults(t, "success", "success")
}

// TestALostStoreIsNoticed: the Redis under the receiver is emptied
// (FLUSHALL); within seconds the receiver says so in its log and in
// selfheal_store_data_lost_total.
func TestALostStoreIsNoticed(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	r := startReceiver(t, t.TempDir(), "rules: [{name: r, match: 'alertname=\"X\"', actions: [{exec: {command: [/bin/true]}}]}]\n",
		"--storage.redis.url", "redis://"+rd.Addr+"/0")
	if v := r.metric("selfheal_store_data_lost_total"); v != 0 {
		t.Fatalf("before: %v", v)
	}
	c := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer c.Close()
	testutil.Eventually(t, 10*time.Second, "the epoch to be written", func() bool { return c.Exists(context.Background(), "selfheal:epoch").Val() == 1 })
	c.FlushAll(context.Background())
	testutil.Eventually(t, 15*time.Second, "the loss to be noticed", func() bool { return r.metric("selfheal_store_data_lost_total") == 1 })
	if !strings.Contains(r.proc.Output.String(), "The shared store lost its data") {
		t.Fatalf("not logged:\n%s", r.proc.Output.String())
	}
}
