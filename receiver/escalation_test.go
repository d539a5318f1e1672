package receiver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/boltstore"
	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/escalation"
)

// pager stands for PagerDuty or Slack: the webhook Alertmanager notifies.
type pager struct {
	mu   sync.Mutex
	msgs []Message
}

func (p *pager) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	var m Message
	b, _ := io.ReadAll(r.Body)
	if json.Unmarshal(b, &m) == nil {
		p.mu.Lock()
		p.msgs = append(p.msgs, m)
		p.mu.Unlock()
	}
}

// pages returns the notifications of status received so far.
func (p *pager) pages(status string) []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Message
	for _, m := range p.msgs {
		if m.Status == status {
			out = append(out, m)
		}
	}
	return out
}

func startPagerAlertmanager(t *testing.T) (*pager, *testutil.Alertmanager) {
	p := &pager{}
	sink := httptest.NewServer(p)
	t.Cleanup(sink.Close)
	return p, testutil.StartAlertmanager(t, `
route:
  receiver: pager
  group_by: [alertname, selfheal_rule, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: pager
    webhook_configs: [{url: '`+sink.URL+`', send_resolved: true}]
`)
}

func escalationRules(t *testing.T, am string) string {
	return `
global:
  escalation:
    alertmanager_urls: ['` + am + `']
    resend_interval: 1s
    receiver_url: http://receiver.example:9875
    labels: {team: oncall}
rules:
  - name: restart-ic-server
    match: 'alertname="ICServerConnectFailed"'
    cooldown: 0s
    max_attempts: 1
    actions:
      - exec: {command: [` + scriptPath(t, "fail.sh") + `]}
  - name: restart-agent
    match: 'alertname="AgentLost"'
    cooldown: 0s
    escalate_after: 2s
    actions:
      - exec: {command: [/bin/true]}
`
}

// TestEscalationThroughAlertmanager: a remediation that gives up pages once,
// with the alert's labels, the reason and what ran; a restart does not
// forget the open escalation; the page resolves when the alert resolves.
func TestEscalationThroughAlertmanager(t *testing.T) {
	p, amp := startPagerAlertmanager(t)
	am := amp.URL
	bolt := openBolt(t)
	newEngine := func() (*Engine, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		e := NewEngine(mustConfig(t, escalationRules(t, am)), bolt, Options{}, reg, log.NewNopLogger())
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return e, reg
	}
	e, _ := newEngine()
	fault := alert("firing", time.Now(), "alertname", "ICServerConnectFailed", "instance", "10.0.0.1:8088")
	if _, err := e.Accept(context.Background(), []templateAlert{fault}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "a page", func() bool { return len(p.pages("firing")) == 1 })
	a := p.pages("firing")[0].Alerts[0]
	for k, want := range map[string]string{"selfheal": "escalated", "selfheal_rule": "restart-ic-server", "selfheal_reason": ReasonMaxAttempts, "instance": "10.0.0.1:8088", "team": "oncall"} {
		if a.Labels[k] != want {
			t.Errorf("page label %s = %q, want %q", k, a.Labels[k], want)
		}
	}
	if s := a.Annotations["selfheal_summary"]; !strings.Contains(s, "(exit 3)") || !strings.Contains(s, "No such container") {
		t.Errorf("summary %q lacks the exit code or the output", s)
	}
	link := "http://receiver.example:9875/journal?fingerprint=" + fingerprint(&fault) + "&rule=restart-ic-server"
	if a.GeneratorURL != link || a.Annotations["selfheal_journal_url"] != link {
		t.Errorf("journal link %q, annotation %q", a.GeneratorURL, a.Annotations["selfheal_journal_url"])
	}

	// A restart keeps the escalation open and posted.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	e.Shutdown(ctx)
	cancel()
	e, reg := newEngine()
	defer e.Shutdown(context.Background())
	testutil.Eventually(t, 10*time.Second, "the escalation to be posted again", func() bool {
		return promtest.ToFloat64(e.metrics.escalations.WithLabelValues("restart-ic-server", ReasonMaxAttempts, "posted")) >= 1
	})
	// Alertmanager had its chance to page again once it flushed the group
	// twice after the post: a page the first flush decided on was sent
	// before the second began.
	flushed := testutil.Flushes(amp.Proc, "ICServerConnectFailed")
	testutil.Eventually(t, 10*time.Second, "Alertmanager to flush the group twice", func() bool {
		return testutil.Flushes(amp.Proc, "ICServerConnectFailed") >= flushed+2
	})
	if n := len(p.pages("firing")); n != 1 {
		t.Fatalf("%d firing pages for one incident", n)
	}

	// The fault is fixed by hand: the alert resolves, and so does the page.
	resolved := fault
	resolved.Status = "resolved"
	if _, err := e.Accept(context.Background(), []templateAlert{resolved}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the page to resolve", func() bool { return len(p.pages("resolved")) == 1 })
	_ = reg
}

// TestEscalateAfter: an alert still firing escalate_after after its first
// notification is escalated although its remediation succeeded.
func TestEscalateAfter(t *testing.T) {
	p, amp := startPagerAlertmanager(t)
	am := amp.URL
	f := newFixture(t, escalationRules(t, am), Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1"))
	if es := f.waitEntries(1); es[0].Result != action.ResultSuccess {
		t.Fatalf("the remediation: %+v", es[0])
	}
	testutil.Eventually(t, 20*time.Second, "a page for the alert that still fires", func() bool { return len(p.pages("firing")) == 1 })
	a := p.pages("firing")[0].Alerts[0]
	if a.Labels["selfheal_reason"] != escalation.EscalateNotHealed {
		t.Fatalf("reason %q", a.Labels["selfheal_reason"])
	}
	// What ran so far: the attempt that succeeded though the alert fires on.
	if sum := a.Annotations["selfheal_summary"]; !strings.Contains(sum, "attempt 1, success") || !strings.Contains(sum, "exec [\"/bin/true\"]: success (exit 0)") {
		t.Fatalf("summary %q", sum)
	}
}

// TestEscalateUnmatched: with escalate_unmatched, a firing alert no rule
// heals goes straight to the pager.
func TestEscalateUnmatched(t *testing.T) {
	p, amp := startPagerAlertmanager(t)
	am := amp.URL
	yml := strings.Replace(escalationRules(t, am), "    labels: {team: oncall}", "    labels: {team: oncall}\n    escalate_unmatched: true", 1)
	f := newFixture(t, yml, Options{}, nil)
	if r := f.accept(alert("firing", time.Now(), "alertname", "DiskFull", "instance", "db1")); r.Unmatched != 1 {
		t.Fatalf("%+v", r)
	}
	testutil.Eventually(t, 20*time.Second, "a page for the unmatched alert", func() bool { return len(p.pages("firing")) == 1 })
	if l := p.pages("firing")[0].Alerts[0].Labels; l["selfheal_reason"] != escalation.EscalateNoRule || l["alertname"] != "DiskFull" {
		t.Fatalf("labels %v", l)
	}
}

// TestEscalationReasons: a refusal (a label the rule will not use) and a
// failed verification each page with their reason.
func TestEscalationReasons(t *testing.T) {
	p, amp := startPagerAlertmanager(t)
	am := amp.URL
	verify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer verify.Close()
	f := newFixture(t, `
global:
  escalation: {alertmanager_urls: ['`+am+`'], resend_interval: 1s}
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9]+'}
    max_attempts: 1
    actions:
      - exec: {command: [/bin/true, '{{ .Labels.agent }}']}
      - verify: {url: '`+verify.URL+`/ok', within: 500ms, every: 100ms}
`, Options{}, nil)
	now := time.Now()
	f.accept(alert("firing", now, "alertname", "AgentLost", "agent", "BAD VALUE"), alert("firing", now, "alertname", "AgentLost", "agent", "d1"))
	testutil.Eventually(t, 20*time.Second, "two pages", func() bool { return len(p.pages("firing")) >= 2 })
	reasons := map[string]string{}
	for _, m := range p.pages("firing") {
		for _, a := range m.Alerts {
			reasons[a.Labels["agent"]] = a.Labels["selfheal_reason"]
		}
	}
	if reasons["BAD VALUE"] != ReasonInvalidLabel || reasons["d1"] != "verify_failed" {
		t.Fatalf("reasons by agent: %v", reasons)
	}
}

// openBolt opens a bbolt store in a temp dir, closed when the test ends.
func openBolt(t *testing.T) *boltstore.Bolt {
	t.Helper()
	b, err := boltstore.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// startEngine starts an engine on yml and st, as a receiver process would.
func startEngine(t *testing.T, yml string, st store.Store) *Engine {
	t.Helper()
	e := NewEngine(mustConfig(t, yml), st, Options{}, prometheus.NewRegistry(), log.NewNopLogger())
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEscalateInterruptedWithoutAttempts: an attempt interrupted by the
// shutdown deadline, the rule's last, pages: the shutdown keeps to its
// deadline, and the next process posts the escalation it recorded.
func TestEscalateInterruptedWithoutAttempts(t *testing.T) {
	p, amp := startPagerAlertmanager(t)
	am := amp.URL
	dir := t.TempDir()
	rec, gate := filepath.Join(dir, "rec"), filepath.Join(dir, "gate")
	yml := strings.Replace(gateRule(t, rec, gate, 1), "rules:", "global:\n  escalation: {alertmanager_urls: ['"+am+"'], resend_interval: 1s}\nrules:", 1)
	yml = strings.Replace(yml, "    concurrency: 1", "    concurrency: 1\n    max_attempts: 1", 1)
	bolt := openBolt(t)
	e := startEngine(t, yml, bolt)
	e.Accept(context.Background(), []templateAlert{alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1")})
	testutil.Eventually(t, 10*time.Second, "the hook to start", func() bool { return countLines(t, rec, "started") == 1 })
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	e.Shutdown(expired)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("a shutdown past its deadline took %v", took)
	}
	// The escalation was recorded; the next process posts it.
	e = startEngine(t, yml, bolt)
	defer e.Shutdown(context.Background())
	testutil.Eventually(t, 20*time.Second, "a page", func() bool { return len(p.pages("firing")) == 1 })
	if got := p.pages("firing")[0].Alerts[0].Labels["selfheal_reason"]; got != ReasonMaxAttempts {
		t.Fatalf("reason %q", got)
	}
}

// TestShutdownKeepsItsDeadlineWhileAlertmanagerHangs: an escalation post
// that Alertmanager never answers does not hold a shutdown past its
// deadline; the escalation stays recorded for the next process.
func TestShutdownKeepsItsDeadlineWhileAlertmanagerHangs(t *testing.T) {
	hung := make(chan struct{})
	posted := make(chan struct{}, 10)
	am := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, _ *http.Request) {
		posted <- struct{}{}
		<-hung
	}))
	defer am.Close()
	defer close(hung)
	yml := strings.Replace(escalationRules(t, am.URL), "resend_interval: 1s", "resend_interval: 1h", 1)
	bolt := openBolt(t)
	e := startEngine(t, yml, bolt)
	e.Accept(context.Background(), []templateAlert{alert("firing", time.Now(), "alertname", "ICServerConnectFailed", "instance", "10.0.0.1:8088")})
	select {
	case <-posted:
	case <-time.After(20 * time.Second):
		t.Fatal("no escalation was posted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	e.Shutdown(ctx)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown with a 500ms deadline took %v while Alertmanager hung", took)
	}
	n := 0
	bolt.Scan(context.Background(), escalation.Bucket, func(string, []byte) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d escalations recorded; want the one posted", n)
	}
}

// TestResolutionIsPostedAfterTheFiringPost: the remediation gives up and
// its escalation is being posted to a slow Alertmanager when the alert
// resolves; the firing post lands first, so the page does not fire again
// after it was resolved.
func TestResolutionIsPostedAfterTheFiringPost(t *testing.T) {
	var mu sync.Mutex
	var got []string
	arrived := make(chan struct{}, 10)
	am := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var alerts []struct{ EndsAt time.Time }
		json.NewDecoder(r.Body).Decode(&alerts)
		state := "resolved"
		if len(alerts) == 1 && alerts[0].EndsAt.After(time.Now()) {
			state = "firing"
			arrived <- struct{}{}
			time.Sleep(500 * time.Millisecond) // a slow Alertmanager
		}
		mu.Lock()
		got = append(got, state)
		mu.Unlock()
	}))
	defer am.Close()
	yml := strings.Replace(escalationRules(t, am.URL), "resend_interval: 1s", "resend_interval: 1h", 1)
	f := newFixture(t, yml, Options{}, nil)
	at := time.Now()
	f.accept(alert("firing", at, "alertname", "ICServerConnectFailed", "instance", "10.0.0.1:8088"))
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("no escalation was posted")
	}
	f.accept(alert("resolved", at, "alertname", "ICServerConnectFailed", "instance", "10.0.0.1:8088"))
	testutil.Eventually(t, 10*time.Second, "both posts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	if got[0] != "firing" || got[1] != "resolved" {
		t.Fatalf("Alertmanager received %v; want the firing post, then the resolution", got)
	}
}

// TestWatchForgetsRemovedRules: alerts watched for escalate_after under a
// rule that a reload removed are forgotten at the next resend.
func TestWatchForgetsRemovedRules(t *testing.T) {
	_, amp := startPagerAlertmanager(t)
	f := newFixture(t, escalationRules(t, amp.URL), Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1"))
	f.waitEntries(1)
	if watched := f.engine.esc.Watched(); watched != 1 {
		t.Fatalf("%d alerts watched; want the one healed", f.engine.esc.Watched())
	}
	f.engine.SetConfig(mustConfig(t, strings.Replace(escalationRules(t, amp.URL), "name: restart-agent", "name: renamed-agent", 1)))
	testutil.Eventually(t, 10*time.Second, "the removed rule's watch to go", func() bool { return f.engine.esc.Watched() == 0 })
}

// TestOnePagePerFailedIncident: while a retry is pending nothing pages,
// even past escalate_after; when the attempts are used up, one page, whose
// summary tells every attempt with its steps.
func TestOnePagePerFailedIncident(t *testing.T) {
	p, amp := startPagerAlertmanager(t)
	f := newFixture(t, `
global:
  escalation: {alertmanager_urls: ['`+amp.URL+`'], resend_interval: 1s}
rules:
  - name: restart-ic-server
    match: 'alertname="ICServerConnectFailed"'
    cooldown: 3s
    max_attempts: 2
    escalate_after: 1s
    actions: [{exec: {command: [`+scriptPath(t, "fail.sh")+`]}}]
`, Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "ICServerConnectFailed", "instance", "10.0.0.1:8088"))
	es := f.waitEntries(2)
	if !strings.Contains(es[0].Reason, "all 2 attempts used up") {
		t.Fatalf("last attempt: %+v", es[0])
	}
	testutil.Eventually(t, 20*time.Second, "the page", func() bool { return len(p.pages("firing")) > 0 })
	flushed := testutil.Flushes(amp.Proc, "ICServerConnectFailed")
	testutil.Eventually(t, 10*time.Second, "two more flushes", func() bool { return testutil.Flushes(amp.Proc, "ICServerConnectFailed") >= flushed+2 })
	pages := p.pages("firing")
	if len(pages) != 1 || len(pages[0].Alerts) != 1 {
		t.Fatalf("%d pages for one incident", len(pages))
	}
	a := pages[0].Alerts[0]
	sum := a.Annotations["selfheal_summary"]
	if a.Labels["selfheal_reason"] != ReasonMaxAttempts || a.Labels["instance"] != "10.0.0.1:8088" ||
		!strings.Contains(sum, "attempt 1, failed") || !strings.Contains(sum, "attempt 2, failed") || strings.Count(sum, "(exit 3)") != 2 {
		t.Fatalf("page %v\nsummary:\n%s", a.Labels, sum)
	}
	if n := promtest.ToFloat64(f.engine.metrics.escalations.WithLabelValues("restart-ic-server", escalation.EscalateNotHealed, "posted")); n != 0 {
		t.Fatalf("%v not_healed escalations posted while a retry was pending", n)
	}
}
