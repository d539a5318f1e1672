package receiver

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
)

// TestStormIsAcceptedAndHandledOnce: one webhook of 10,000 matching alerts,
// ten times the in-memory window, is accepted whole; every alert is
// journaled and handled once; a re-send runs nothing.
func TestStormIsAcceptedAndHandledOnce(t *testing.T) {
	f := newFixture(t, `
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: 'a[0-9]+'}
    dry_run: true
    actions:
      - exec: {command: [/bin/true, '{{ .Labels.agent }}']}
`, Options{QueueSize: 1000}, nil)
	at := time.Now()
	alerts := make([]templateAlert, 10000)
	for i := range alerts {
		alerts[i] = alert("firing", at, "alertname", "AgentLost", "agent", fmt.Sprint("a", i))
	}
	if r := f.accept(alerts...); r.Accepted != 10000 {
		t.Fatalf("storm: %+v", r)
	}
	testutil.Eventually(t, 2*time.Minute, "the storm to be worked off", func() bool { return f.engine.window.pending.Load() == 0 })
	es, err := f.journal.Query(context.Background(), journal.Filter{Limit: journal.MaxActions * 20})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range es {
		if e.Result != action.ResultDryRun {
			t.Fatalf("entry %s: %s %s", e.ID, e.Result, e.Reason)
		}
		seen[e.Labels["agent"]]++
	}
	if len(seen) != 10000 || len(es) != 10000 {
		t.Fatalf("%d entries for %d alerts; want 10000 each", len(es), len(seen))
	}
	if r := f.accept(alerts...); r.Duplicates != 10000 {
		t.Fatalf("re-sent storm: %+v", r)
	}
	if v := promtest.ToFloat64(f.engine.metrics.alerts.WithLabelValues("firing")); v != 20000 {
		t.Fatalf("alerts received counted %v; want 20000 (two notifications of 10000)", v)
	}
}

// TestFingerprintComesFromLabels: the same labels sent with two sender
// fingerprints are one alert.
func TestFingerprintComesFromLabels(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	f := newFixture(t, recordRule(t, rec, ""), Options{}, nil)
	a := alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1")
	b := a
	a.Fingerprint, b.Fingerprint = "1111111111111111", "2222222222222222"
	if r := f.accept(a, b); r.Accepted != 1 || r.Duplicates != 1 {
		t.Fatalf("one alert, two sender fingerprints: %+v", r)
	}
}

// TestHookSeesOnlyValidatedLabels: labels outside require_labels never
// reach a hook's environment.
func TestHookSeesOnlyValidatedLabels(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	f := newFixture(t, `
rules:
  - name: r
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9]+'}
    actions:
      - exec: {command: [`+scriptPath(t, "env.sh")+`, `+out+`]}
`, Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1", "payload", "$(rm -rf /)", "team", "x"))
	f.waitEntries(1)
	env := strings.Join(testutil.ReadLines(t, out), "\n")
	if !strings.Contains(env, "SELFHEAL_LABEL_AGENT=d1") {
		t.Fatalf("the validated label is missing:\n%s", env)
	}
	for _, l := range []string{"PAYLOAD", "TEAM"} {
		if strings.Contains(env, "SELFHEAL_LABEL_"+l) {
			t.Fatalf("an unvalidated label reached the hook:\n%s", env)
		}
	}
}
