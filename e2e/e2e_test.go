//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// TestLoop runs the scenarios one after another on one stack: each fault is
// detected by the exporter, alerted by Prometheus with the shipped rules,
// routed by Alertmanager with the example configuration, healed by the
// receiver, and checked on real state (ALERTS, show stat, the Docker
// engines' and supervisord's own state, hook files, the journal), never on
// log lines.
func TestLoop(t *testing.T) {
	s := newStack(t)
	t.Run("IC-Server down", s.icServerDown)
	t.Run("key-service instance down", s.keyServiceDown)
	t.Run("scriptengine agent lost", s.scriptengineLost)
	t.Run("agent stops heartbeating", s.agentStale)
	t.Run("Redis unreachable", s.redisUnreachable)
	t.Run("healing fails", s.healingFails)
	t.Run("receiver restarted mid-action", s.receiverRestart)
	t.Run("what healed paged nobody", s.noPageForHealed)
}

// noPageForHealed: the pager got no notification for the alerts the
// receiver healed; its only escalations are the ones that gave up.
func (s *stack) noPageForHealed(t *testing.T) {
	healed := map[string]bool{"ICServerConnectFailed": true, "KeyServiceInstanceDown": true, "AgentStale": true, "AgentLost": true}
	gaveUp := map[string]bool{"restart-ic-server-broken": true, "key-service-out-of-pool": true}
	for _, m := range s.pager.pages("firing", nil) {
		for _, a := range m.Alerts {
			if healed[a.Labels["alertname"]] && a.Labels["selfheal"] != "escalated" {
				t.Errorf("a healable alert reached the pager: %v", a.Labels)
			}
			if a.Labels["selfheal"] == "escalated" && !gaveUp[a.Labels["selfheal_rule"]] {
				t.Errorf("an escalation of a rule that healed: %v", a.Labels)
			}
		}
	}
}

func firstStart(e journalEntry) time.Time {
	if len(e.Steps) > 0 {
		return e.Steps[0].Started
	}
	return time.Time{}
}

func (s *stack) icServerDown(t *testing.T) {
	pid := s.supervisord.Info(t, "ic-server").PID
	fault := time.Now()
	s.kill("ic1")
	s.wait("supervisord to see ic-server exit", 10*time.Second, func() bool { return s.supervisord.Info(t, "ic-server").State == "EXITED" })
	s.wait("ICServerConnectFailed for ic1", 30*time.Second, func() bool { return s.firing("ICServerConnectFailed", `ic_server_address="ic1"`) })
	var done []journalEntry
	s.wait("the restart hook to heal ic1", 30*time.Second, func() bool {
		done = s.finished("restart-ic-server", "success")
		return len(done) == 1
	})
	// supervisord restarted it: RUNNING under a new pid, the one journaled.
	if info := s.supervisord.Info(t, "ic-server"); info.State != "RUNNING" || info.PID == pid || done[0].Steps[0].Action != "supervisor" {
		t.Fatalf("supervisord says %+v (pid before the fault %d); steps %+v", info, pid, done[0].Steps)
	}
	s.wait("ic_server_health 1 again", 20*time.Second, func() bool { return s.value(`ic_server_health{ic_server_address="ic1"}`) == 1 })
	s.wait("the alert to resolve after its keep-firing time", 40*time.Second, func() bool { return !s.firing("ICServerConnectFailed", `ic_server_address="ic1"`) })
	resolved := time.Now()
	if resolved.Sub(fault) < 6*time.Second {
		t.Errorf("resolved %v after the fault, before the 6s keep-firing time", resolved.Sub(fault))
	}
	s.resolvedSent("ic1")
	if es := s.journal("restart-ic-server"); len(es) != 1 {
		t.Fatalf("journal shows %d remediations of ic1, want exactly one: %+v", len(es), es)
	}
	report(t, "IC-Server down", fault, firstStart(done[0]), resolved)
}

func (s *stack) keyServiceDown(t *testing.T) {
	fault := time.Now()
	s.kill("ks1")
	sawMaint := false
	var done []journalEntry
	s.wait("ks1 out of the pool, restarted and verified", 40*time.Second, func() bool {
		if s.haproxy.Status(t, "key_service")["ks1"] == "MAINT" {
			sawMaint = true
		}
		done = s.finished("key-service-out-of-pool", "success")
		return len(done) == 1
	})
	steps := []string{}
	for _, st := range done[0].Steps {
		steps = append(steps, st.Action+":"+st.Result)
	}
	if strings.Join(steps, " ") != "haproxy:success docker:success verify:success" {
		t.Fatalf("steps: %v", steps)
	}
	// ks1's engine restarted its api_key_service container after the fault.
	if started := s.engineStart(t, "ks1"); !started.After(fault) {
		t.Fatalf("ks1's api_key_service last started %s, before the fault %s", started, fault)
	}
	if !sawMaint && s.haproxy.Status(t, "key_service")["ks1"] != "MAINT" {
		t.Fatal("HAProxy never showed ks1 in MAINT")
	}
	s.wait("KeyServiceInstanceDown to resolve", 30*time.Second, func() bool { return !s.firing("KeyServiceInstanceDown", `server="ks1"`) })
	s.wait("ks1 ready again in HAProxy", 30*time.Second, func() bool {
		return len(s.finished("key-service-back-in-pool", "success")) == 1 && s.haproxy.Status(t, "key_service")["ks1"] != "MAINT"
	})
	report(t, "key-service instance down", fault, firstStart(done[0]), time.Now())

	// Two down with min_healthy 2: one is taken out, the other refused.
	s.kill("ks2")
	s.kill("ks3")
	var refused []journalEntry
	s.wait("one remediation and one refusal", 40*time.Second, func() bool {
		refused = s.finished("key-service-out-of-pool", "refused")
		return len(refused) >= 1 && len(s.finished("key-service-out-of-pool", "success")) == 2
	})
	if !strings.HasPrefix(refused[0].Reason, "pool_min_healthy") {
		t.Fatalf("refusal: %+v", refused[0])
	}
	left := refused[0].Labels["server"]
	// The refusal pages once, naming the instance left in the pool.
	page := map[string]string{"selfheal": "escalated", "selfheal_rule": "key-service-out-of-pool", "selfheal_reason": "pool_min_healthy", "server": left}
	s.wait("the refusal's page", 30*time.Second, func() bool { return len(s.pager.pages("firing", page)) == 1 })
	if st := s.haproxy.Status(t, "key_service")[left]; st == "MAINT" {
		t.Fatalf("the refused instance %s was taken out anyway", left)
	}
	s.restart(left) // a human brings it back
	s.wait("both key-service alerts to resolve", 40*time.Second, func() bool { return !s.firing("KeyServiceInstanceDown", "") })
	s.wait("the healed instance back in the pool", 30*time.Second, func() bool {
		st := s.haproxy.Status(t, "key_service")
		return st["ks2"] != "MAINT" && st["ks3"] != "MAINT"
	})
}

// engineStart returns when the fake's container last started, as its engine
// says, failing unless it is running.
func (s *stack) engineStart(t *testing.T, name string) time.Time {
	d, c := s.container(name)
	state := strings.Fields(d.Inspect(t, c, "{{.State.Status}} {{.State.StartedAt}}"))
	at, err := time.Parse(time.RFC3339Nano, state[1])
	if state[0] != "running" || err != nil {
		t.Fatalf("%s's %s is %v", name, c, state)
	}
	return at
}

// scriptengineLost is seed 000: the selfhealing_scriptengine container
// stops, its heartbeats into Redis stop, AgentLost fires, and the receiver
// restarts the container through the engine's API.
func (s *stack) scriptengineLost(t *testing.T) {
	fault := time.Now()
	s.kill("scriptengine")
	s.wait("AgentLost for d_dys1", 30*time.Second, func() bool { return s.firing("AgentLost", `agent="d_dys1"`) })
	var done []journalEntry
	s.wait("the engine to restart selfhealing_scriptengine", 30*time.Second, func() bool {
		done = s.finished("restart-scriptengine", "success")
		return len(done) == 1
	})
	if started := s.engineStart(t, "scriptengine"); !started.After(fault) || done[0].Steps[0].Action != "docker" {
		t.Fatalf("selfhealing_scriptengine last started %s (fault at %s); steps %+v", started, fault, done[0].Steps)
	}
	s.wait("AgentLost to resolve", 30*time.Second, func() bool { return !s.firing("AgentLost", `agent="d_dys1"`) })
	report(t, "scriptengine agent lost", fault, firstStart(done[0]), time.Now())
}

func (s *stack) agentStale(t *testing.T) {
	fault := time.Now()
	s.kill("agent")
	s.wait("AgentStale for the fleet", 30*time.Second, func() bool { return s.firing("AgentStale", `group="fleet"`) })
	var done []journalEntry
	s.wait("the agent restart hook", 30*time.Second, func() bool {
		done = s.finished("restart-agent", "success")
		return len(done) == 1
	})
	s.wait("heartbeats to resume", 20*time.Second, func() bool { return s.value(`selfheal_stale_agents{group="fleet"}`) == 0 })
	s.wait("AgentStale to resolve", 30*time.Second, func() bool { return !s.firing("AgentStale", `group="fleet"`) })
	report(t, "agent stops heartbeating", fault, firstStart(done[0]), time.Now())
}

// amAlert is an alert as Alertmanager's v2 API lists it.
type amAlert struct {
	Labels map[string]string
	Status struct {
		State       string
		InhibitedBy []string
	}
}

func (s *stack) amAlerts(alertname string) []amAlert {
	resp, err := http.Get("http://" + s.am + "/api/v2/alerts?filter=" + url.QueryEscape(`alertname="`+alertname+`"`))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out []amAlert
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func (s *stack) redisUnreachable(t *testing.T) {
	fault := time.Now()
	s.redis.Proc.Kill()
	s.wait("RedisUnreachable for d_dys1", 30*time.Second, func() bool { return s.firing("RedisUnreachable", `env="d_dys1"`) })
	actionless := time.Now()
	s.wait("the d_dys1 agent's AgentLost to be inhibited in Alertmanager", 40*time.Second, func() bool {
		for _, a := range s.amAlerts("AgentLost") {
			if a.Labels["env"] == "d_dys1" && a.Status.State == "suppressed" && len(a.Status.InhibitedBy) > 0 {
				return true
			}
		}
		return false
	})
	s.redis.Restart()
	s.wait("RedisUnreachable to resolve", 30*time.Second, func() bool { return !s.firing("RedisUnreachable", "") })
	s.wait("the agent to be heard again", 30*time.Second, func() bool { return !s.firing("AgentLost", `env="d_dys1"`) })
	report(t, "Redis unreachable (page)", fault, actionless, time.Now())
}

func (s *stack) healingFails(t *testing.T) {
	// Its log directory gone, supervisord cannot spawn ic3 again.
	os.RemoveAll(s.icLogs)
	fault := time.Now()
	s.kill("ic3")
	var failed []journalEntry
	s.wait("two failed attempts", 40*time.Second, func() bool {
		failed = s.finished("restart-ic-server-broken", "failed")
		return len(failed) == 2
	})
	// The human is paged once, through the pager route, with what was tried.
	page := map[string]string{"selfheal": "escalated", "ic_server_address": "ic3", "selfheal_rule": "restart-ic-server-broken"}
	s.wait("the page", 30*time.Second, func() bool { return len(s.pager.pages("firing", page)) > 0 })
	p := s.pager.pages("firing", page)[0]
	a := p.Alerts[0]
	if a.Labels["alertname"] != "ICServerConnectFailed" || a.Labels["ocp_address"] != "ocp1" || a.Labels["selfheal_reason"] != "max_attempts" {
		t.Errorf("page labels: %v", a.Labels)
	}
	if sum := a.Annotations["selfheal_summary"]; !strings.Contains(sum, "attempt 2, failed") || !strings.Contains(sum, "supervisor restart ic-server-3") || !strings.Contains(sum, "SPAWN_ERROR: ic-server-3") {
		t.Errorf("page summary: %q", sum)
	}
	// Alertmanager has had its chance to page again once the receiver posted
	// the escalation again and the pager's group was flushed twice after.
	s.wait("the escalation to be posted again", 20*time.Second, func() bool {
		return s.receiverMetric(`selfheal_escalations_total{event="posted",reason="max_attempts",rule="restart-ic-server-broken"}`) >= 2
	})
	group := `selfheal_rule=\"restart-ic-server-broken\"`
	flushed := testutil.Flushes(s.amProc, group)
	s.wait("the pager's group to be flushed twice", 20*time.Second, func() bool { return testutil.Flushes(s.amProc, group) >= flushed+2 })
	if n := len(s.journal("restart-ic-server-broken")); n != 2 {
		t.Fatalf("%d attempts, max_attempts is 2", n)
	}
	if !strings.Contains(failed[0].Reason, "all 2 attempts used up") {
		t.Fatalf("last attempt: %+v", failed[0])
	}
	if n := len(s.pager.pages("firing", page)); n != 1 {
		t.Fatalf("%d firing pages for one incident", n)
	}
	report(t, "healing fails (paged)", fault, firstStart(failed[len(failed)-1]), p.at)
	// Fixed by hand: the alert resolves, and the page with it.
	os.MkdirAll(s.icLogs, 0o755)
	s.restart("ic3")
	s.wait("the page to resolve", 60*time.Second, func() bool { return len(s.pager.pages("resolved", page)) > 0 })
}

func (s *stack) receiverRestart(t *testing.T) {
	fault := time.Now()
	s.kill("ic2")
	hook := filepath.Join(s.state, "ic2.hook")
	s.wait("the slow restart hook to start", 40*time.Second, func() bool {
		b, _ := os.ReadFile(hook)
		return strings.Contains(string(b), "started")
	})
	started := time.Now()
	s.receiverProc.Kill()
	s.startReceiver()
	// The crashed attempt counts as failed; the restarted receiver retries it
	// after the cooldown, and the retry heals ic2 without a human.
	var es []journalEntry
	s.wait("the retry to heal ic2", 40*time.Second, func() bool {
		es = s.journal("restart-ic-server-slow")
		return len(es) == 2 && es[0].Result == "success"
	})
	if es[1].Result != "interrupted" || !strings.Contains(es[1].Reason, "counts as a failed attempt; retrying") {
		t.Fatalf("the crashed attempt: %+v", es[1])
	}
	s.wait("ic2's alert to resolve", 40*time.Second, func() bool { return !s.firing("ICServerConnectFailed", `ic_server_address="ic2"`) })
	s.resolvedSent("ic2")
	b, _ := os.ReadFile(hook)
	if got := strings.Join(strings.Fields(string(b)), ","); got != "started,started,finished" {
		t.Fatalf("hook file %q: want the killed attempt, then the retry run to its end, once", got)
	}
	if es = s.journal("restart-ic-server-slow"); len(es) != 2 {
		t.Fatalf("%d journal entries, want the interrupted attempt and its retry", len(es))
	}
	report(t, "receiver restarted mid-action", fault, started, time.Now())
}
