package receiver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/store/redisstore"
	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
)

func recordRule(t *testing.T, rec, extra string) string {
	return `
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    on: firing
    require_labels: {agent: '[a-z0-9_-]+'}
    cooldown: 0s
` + extra + `
    actions:
      - exec: {command: [` + scriptPath(t, "record.sh") + `, ` + rec + `, 'restart {{ .Labels.agent }}']}
  - name: note-resolved
    match: 'alertname="AgentLost"'
    on: resolved
    require_labels: {agent: '[a-z0-9_-]+'}
    cooldown: 0s
    actions:
      - exec: {command: [` + scriptPath(t, "record.sh") + `, ` + rec + `, 'resolved {{ .Labels.agent }}']}
`
}

// TestIdempotentAcrossResendsAndRestarts: Alertmanager re-sends the same
// notification (repeat interval, retries, a second Alertmanager); the rule
// runs once, also after the receiver restarts on the same store.
func TestIdempotentAcrossResendsAndRestarts(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	f := newFixture(t, recordRule(t, rec, ""), Options{}, nil)
	at := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	a := alert("firing", at, "alertname", "AgentLost", "agent", "d-dys1")
	if r := f.accept(a); r.Accepted != 1 {
		t.Fatalf("first: %+v", r)
	}
	for range 3 {
		if r := f.accept(a); r.Accepted != 0 || r.Duplicates != 1 {
			t.Fatalf("re-send: %+v", r)
		}
	}
	f.waitEntries(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	f.engine.Shutdown(ctx)
	cancel()

	// A new engine on the same bbolt file: the record survived.
	f2 := &fixture{t: t, store: f.store, reg: prometheus.NewRegistry()}
	f2.engine = NewEngine(mustConfig(t, recordRule(t, rec, "")), f.store, Options{}, f2.reg, log.NewNopLogger())
	f2.journal = f2.engine.Journal()
	f2.engine.Start(context.Background())
	defer f2.engine.Shutdown(context.Background())
	if r := f2.accept(a); r.Duplicates != 1 {
		t.Fatalf("after restart: %+v", r)
	}
	// The batch mixes the resolved notification of the same alert: only the
	// resolved rule acts on it.
	res := a
	res.Status = "resolved"
	if r := f2.accept(res, a); r.Accepted != 1 || r.Duplicates != 1 {
		t.Fatalf("mixed batch: %+v", r)
	}
	f2.waitEntries(2)
	if got := testutil.ReadLines(t, rec); len(got) != 4 || got[0] != "arg:restart d-dys1" || got[2] != "arg:resolved d-dys1" {
		t.Fatalf("hook runs: %q", got)
	}
	if v := promtest.ToFloat64(f2.engine.metrics.duplicates); v != 2 {
		t.Errorf("duplicates counted %v", v)
	}
}

// TestRetriesUpToMaxAttempts: a remediation that fails is retried after the
// cooldown, by the engine itself (Alertmanager's repeats are duplicates),
// until max_attempts; then the failure is counted for SelfhealRemediationFailed.
func TestRetriesUpToMaxAttempts(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	yml := `
rules:
  - name: restart-ic-server
    match: 'alertname="ICServerConnectFailed"'
    cooldown: 100ms
    max_attempts: 3
    actions:
      - exec: {command: [` + scriptPath(t, "record.sh") + `, ` + rec + `, attempt]}
      - exec: {command: [` + scriptPath(t, "fail.sh") + `]}
`
	f := newFixture(t, yml, Options{}, nil)
	a := alert("firing", time.Now(), "alertname", "ICServerConnectFailed")
	f.accept(a)
	f.waitEntries(3)
	// Nothing is left to run once the queue is empty: no fourth attempt.
	testutil.Eventually(t, 10*time.Second, "the queue to empty", func() bool { return f.engine.window.pending.Load() == 0 })
	es := f.waitEntries(3)
	if len(es) != 3 || !strings.Contains(es[0].Reason, "all 3 attempts used up") {
		t.Fatalf("%d entries, want 3 attempts", len(es))
	}
	for i, e := range es {
		if e.Result != action.ResultFailed || e.Attempt != 3-i {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if !strings.Contains(es[0].Reason, "all 3 attempts used up") || !strings.Contains(es[1].Reason, "retrying") {
		t.Fatalf("reasons: %q / %q", es[0].Reason, es[1].Reason)
	}
	if runs := strings.Count(strings.Join(testutil.ReadLines(t, rec), "\n"), "arg:attempt"); runs != 3 {
		t.Fatalf("hook ran %d times", runs)
	}
	if v := promtest.ToFloat64(f.engine.metrics.refused.WithLabelValues("restart-ic-server", ReasonMaxAttempts)); v != 1 {
		t.Errorf("max_attempts counted %v", v)
	}
	if v := promtest.ToFloat64(f.engine.metrics.actions.WithLabelValues("restart-ic-server", "exec", action.ResultFailed)); v != 3 {
		t.Errorf("failed actions counted %v", v)
	}
}

func TestRetryStopsWhenResolved(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	yml := `
rules:
  - name: restart
    match: 'alertname="ICServerConnectFailed"'
    cooldown: 1s
    max_attempts: 5
    actions:
      - exec: {command: [` + scriptPath(t, "record.sh") + `, ` + rec + `, attempt]}
      - exec: {command: [` + scriptPath(t, "fail.sh") + `]}
`
	f := newFixture(t, yml, Options{}, nil)
	a := alert("firing", time.Now(), "alertname", "ICServerConnectFailed")
	f.accept(a)
	f.waitEntries(1)
	r := a
	r.Status = "resolved"
	f.accept(r)
	es := f.waitEntries(2)
	if es[0].Result != action.ResultSkipped || !strings.Contains(es[0].Reason, "resolved") {
		t.Fatalf("retry after resolve: %+v", es[0])
	}
	if runs := len(testutil.ReadLines(t, rec)); runs != 2 {
		t.Fatalf("hook ran %d lines, want one run", runs)
	}
}

// TestCooldownBetweenIncidents: an alert that flaps (resolves and fires
// again) is not remediated again within the cooldown: it waits for the
// cooldown's end and then runs.
func TestCooldownBetweenIncidents(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	var clockMu sync.Mutex
	clock := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	advance := func(d time.Duration) { clockMu.Lock(); clock = clock.Add(d); clockMu.Unlock() }
	f := newFixture(t, strings.Replace(recordRule(t, rec, ""), "cooldown: 0s", "cooldown: 10m", 1), Options{Now: now}, nil)
	fire := func(startsAt time.Time) journal.Entry {
		f.accept(alert("firing", startsAt, "alertname", "AgentLost", "agent", "d-dys1"))
		return f.waitLatest(t)
	}
	if e := fire(now()); e.Result != action.ResultSuccess {
		t.Fatalf("first: %+v", e)
	}
	// A new incident 3 minutes later waits for the cooldown, in the backlog.
	advance(3 * time.Minute)
	f.accept(alert("firing", now(), "alertname", "AgentLost", "agent", "d-dys1"))
	testutil.Eventually(t, 10*time.Second, "the flap to be deferred", func() bool {
		es, _ := f.journal.Query(context.Background(), journal.Filter{Limit: 1})
		return len(es) == 1 && es[0].Result == action.ResultQueued && strings.HasPrefix(es[0].Reason, "deferred: ")
	})
	if n := len(testutil.ReadLines(t, rec)); n != 2 { // one run: an argument line and an env line
		t.Fatalf("the hook ran within the cooldown: %d lines", n)
	}
	// Once the cooldown has passed it runs, as the first attempt of its incident.
	advance(8 * time.Minute)
	signal(f.engine.window.wake)
	if e := f.waitLatest(t); e.Result != action.ResultSuccess || e.Attempt != 1 {
		t.Fatalf("after cooldown: %+v", e)
	}
	if v := promtest.ToFloat64(f.engine.metrics.deferred.WithLabelValues("restart-agent", ReasonCooldown)); v != 1 {
		t.Fatalf("deferrals counted %v", v)
	}
}

func (f *fixture) waitLatest(t *testing.T) journal.Entry {
	t.Helper()
	var latest journal.Entry
	testutil.Eventually(t, 10*time.Second, "the latest entry to finish", func() bool {
		es, _ := f.journal.Query(context.Background(), journal.Filter{Limit: 1})
		if len(es) == 0 || es[0].Result == action.ResultQueued || es[0].Result == action.ResultRunning {
			return false
		}
		latest = es[0]
		return true
	})
	return latest
}

// TestPoolBlastRadius: with three instances behind the load balancer and
// min_healthy 2, the first one down is taken out, the second is refused;
// once the first is back (the resolved rule verified it), the next may go.
func TestPoolBlastRadius(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	yml := `
rules:
  - name: out
    match: 'alertname="KeyServiceInstanceDown"'
    require_labels: {instance: '[0-9.]+:8888'}
    cooldown: 0s
    pool: {name: key_service, size: 3, min_healthy: 2}
    actions:
      - exec: {command: [` + scriptPath(t, "record.sh") + `, ` + rec + `, 'out {{ .Labels.instance }}']}
  - name: back
    match: 'alertname="KeyServiceInstanceDown"'
    on: resolved
    require_labels: {instance: '[0-9.]+:8888'}
    cooldown: 0s
    pool: {name: key_service, size: 3, min_healthy: 2}
    actions:
      - exec: {command: [` + scriptPath(t, "record.sh") + `, ` + rec + `, 'back {{ .Labels.instance }}']}
`
	f := newFixture(t, yml, Options{}, nil)
	at := time.Now()
	a1 := alert("firing", at, "alertname", "KeyServiceInstanceDown", "instance", "10.0.0.1:8888")
	a2 := alert("firing", at, "alertname", "KeyServiceInstanceDown", "instance", "10.0.0.2:8888")
	f.accept(a1)
	f.waitEntries(1)
	f.accept(a2)
	es := f.waitEntries(2)
	if es[0].Result != action.ResultRefused || !strings.HasPrefix(es[0].Reason, ReasonPoolMinHealthy) || !strings.Contains(es[0].Reason, "leave 1 of 3") {
		t.Fatalf("second instance: %+v", es[0])
	}
	r1 := a1
	r1.Status = "resolved"
	f.accept(r1)
	f.waitEntries(3)
	a2.StartsAt = at.Add(time.Minute) // it fires again later
	f.accept(a2)
	es = f.waitEntries(4)
	if es[0].Result != action.ResultSuccess {
		t.Fatalf("after the first came back: %+v", es[0])
	}
	want := "arg:out 10.0.0.1:8888|arg:back 10.0.0.1:8888|arg:out 10.0.0.2:8888"
	var args []string
	for _, l := range testutil.ReadLines(t, rec) {
		if strings.HasPrefix(l, "arg:") {
			args = append(args, l)
		}
	}
	if strings.Join(args, "|") != want {
		t.Fatalf("hooks: %q", args)
	}
}

func TestDryRunAndInvalidLabels(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	f := newFixture(t, recordRule(t, rec, "    dry_run: true"), Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d-dys1"))
	e := f.waitLatest(t)
	if e.Result != action.ResultDryRun || !e.DryRun || len(e.Steps) != 1 || e.Steps[0].Result != action.ResultDryRun || !strings.Contains(e.Steps[0].What, "restart d-dys1") {
		t.Fatalf("dry run: %+v", e)
	}
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "D DYS1; rm -rf /"))
	e = f.waitLatest(t)
	if e.Result != action.ResultRefused || !strings.HasPrefix(e.Reason, ReasonInvalidLabel) {
		t.Fatalf("invalid label: %+v", e)
	}
	if lines := testutil.ReadLines(t, rec); len(lines) != 0 {
		t.Fatalf("something ran: %q", lines)
	}
	// Global --dry-run overrides a rule that would run.
	g := newFixture(t, recordRule(t, rec, ""), Options{DryRun: true}, nil)
	g.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "x"))
	if e := g.waitLatest(t); e.Result != action.ResultDryRun || len(testutil.ReadLines(t, rec)) != 0 {
		t.Fatalf("global dry run: %+v", e)
	}
}

func TestFailedHealingIsCountedForTheAlert(t *testing.T) {
	yml := `
rules:
  - name: restart
    match: 'alertname="ICServerConnectFailed"'
    cooldown: 0s
    max_attempts: 1
    actions:
      - exec: {command: [` + scriptPath(t, "fail.sh") + `]}
      - exec: {command: [/bin/true]}
`
	f := newFixture(t, yml, Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "ICServerConnectFailed"))
	e := f.waitLatest(t)
	if e.Result != action.ResultFailed || len(e.Steps) != 1 || *e.Steps[0].ExitCode != 3 || !strings.Contains(e.Steps[0].Output, "No such container") {
		t.Fatalf("failed hook: %+v", e)
	}
	if v := promtest.ToFloat64(f.engine.metrics.actions.WithLabelValues("restart", "exec", action.ResultFailed)); v != 1 {
		t.Fatalf("failed actions = %v", v)
	}
	// Series for every rule exist at zero from the start, so that the first
	// failure is an increase (SelfhealRemediationFailed uses increase()).
	if n := promtest.CollectAndCount(f.engine.metrics.refused); n != 2 { // invalid_label, max_attempts
		t.Fatalf("refusal series initialised: %d, want 2", n)
	}
	if n := promtest.CollectAndCount(f.engine.metrics.deferred); n != 4 { // paused, cooldown, store_unavailable, lease_unconfirmed
		t.Fatalf("deferral series initialised: %d, want 4", n)
	}
}

// TestOverflowWaitsInTheStore: more alerts than the in-memory window holds
// are all accepted, wait in the store, and each runs once; only a store
// that cannot record refuses.
func TestOverflowWaitsInTheStoreAndStoreDown(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	f := newFixture(t, recordRule(t, rec, ""), Options{Workers: 1, QueueSize: 2}, nil)
	at := time.Now()
	var alerts []templateAlert
	for i := range 9 {
		alerts = append(alerts, alert("firing", at, "alertname", "AgentLost", "agent", fmt.Sprint("a", i)))
	}
	if r := f.accept(alerts...); r.Accepted != 9 {
		t.Fatalf("a batch over the window: %+v", r)
	}
	es := f.waitEntries(9)
	runs := map[string]int{}
	for _, l := range testutil.ReadLines(t, rec) {
		if strings.HasPrefix(l, "arg:restart ") {
			runs[l]++
		}
	}
	if len(es) != 9 || len(runs) != 9 {
		t.Fatalf("%d entries, %d alerts run: %v", len(es), len(runs), runs)
	}
	for l, n := range runs {
		if n != 1 {
			t.Fatalf("%s ran %d times", l, n)
		}
	}
	if r := f.accept(alerts...); r.Duplicates != 9 {
		t.Fatalf("re-sent: %+v", r)
	}

	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	rs, err := redisstore.Open("redis://"+rd.Addr, "selfheal")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	g := newFixture(t, recordRule(t, rec, ""), Options{Shared: true}, rs)
	rd.Proc.Kill()
	_, err = g.engine.Accept(context.Background(), []templateAlert{alert("firing", at, "alertname", "AgentLost", "agent", "a4")})
	if !errors.Is(err, ErrStoreDown) {
		t.Fatalf("store down must refuse: %v", err)
	}
	if v := promtest.ToFloat64(g.engine.metrics.storeUp); v != 0 {
		t.Fatal("selfheal_store_up should be 0")
	}
	if v := promtest.ToFloat64(g.engine.metrics.alerts.WithLabelValues("firing")); v != 0 {
		t.Fatalf("a refused webhook counted %v alerts: Alertmanager's retry would count them again", v)
	}
}
