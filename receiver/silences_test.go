package receiver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
)

// amSilence is a silence as Alertmanager's API v2 lists it.
type amSilence struct {
	ID        string `json:"id"`
	CreatedBy string `json:"createdBy"`
	Comment   string `json:"comment"`
	Status    struct {
		State string `json:"state"`
	} `json:"status"`
	Matchers []struct {
		Name, Value      string
		IsRegex, IsEqual bool
	} `json:"matchers"`
}

func silences(t *testing.T, am string) []amSilence {
	t.Helper()
	resp, err := http.Get(am + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []amSilence
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSilenceWhileHealing: on a real Alertmanager, a rule's silence is
// active while its hook runs, with the rendered matchers (a label value
// that is regex syntax escaped), selfheal!="escalated" and
// selfheal!="approval", createdBy selfheal_receiver and a comment naming
// the rule and the entry; it is expired once the remediation ends.
func TestSilenceWhileHealing(t *testing.T) {
	_, am := startPagerAlertmanager(t)
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	hook := testutil.WriteFile(t, dir, "hook.sh", "#!/bin/sh\nwhile [ ! -e "+gate+" ]; do sleep 0.05; done\n")
	os.Chmod(hook, 0o755)
	f := newFixture(t, `
global:
  escalation: {alertmanager_urls: ['`+am.URL+`']}
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9.+-]+'}
    silence:
      matchers: ['agent="{{ .Labels.agent }}"', 'instance=~"{{ .Labels.agent }}:.*"']
      for: 10m
    actions:
      - exec: {command: [`+hook+`]}
`, Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "a1.b+c"))
	var active amSilence
	testutil.Eventually(t, 10*time.Second, "the silence while the hook runs", func() bool {
		for _, s := range silences(t, am.URL) {
			if s.Status.State == "active" {
				active = s
				return true
			}
		}
		return false
	})
	var got []string
	for _, m := range active.Matchers {
		op := map[[2]bool]string{{false, true}: "=", {false, false}: "!=", {true, true}: "=~", {true, false}: "!~"}[[2]bool{m.IsRegex, m.IsEqual}]
		got = append(got, m.Name+op+m.Value)
	}
	if want := `agent=a1.b+c instance=~a1\.b\+c:.* selfheal!=escalated selfheal!=approval`; strings.Join(got, " ") != want {
		t.Fatalf("matchers %v, want %s", got, want)
	}
	if active.CreatedBy != "selfheal_receiver" || !strings.Contains(active.Comment, "rule restart-agent") || !strings.Contains(active.Comment, "journal entry ") {
		t.Fatalf("silence %+v", active)
	}
	testutil.WriteFile(t, dir, "gate", "")
	es := f.waitEntries(1)
	if es[0].Result != action.ResultSuccess || es[0].SilenceID != "" {
		t.Fatalf("entry %s, silence %q left", es[0].Result, es[0].SilenceID)
	}
	for _, s := range silences(t, am.URL) {
		if s.ID == active.ID && s.Status.State != "expired" {
			t.Fatalf("the silence is %s after the remediation", s.Status.State)
		}
	}
	for event, want := range map[string]float64{"created": 1, "expired": 1, "failed": 0} {
		if got := promtest.ToFloat64(f.engine.metrics.silences.WithLabelValues("restart-agent", event)); got != want {
			t.Errorf("silences %s: %v, want %v", event, got, want)
		}
	}
}

// TestSilencesReuseTheirConnections: 20 remediations, each making and
// expiring a silence on a real Alertmanager reached through a proxy that
// counts connections, open no more connections than run at once: the
// client is built once per configuration, not per call.
func TestSilencesReuseTheirConnections(t *testing.T) {
	_, am := startPagerAlertmanager(t)
	proxy := testutil.StartProxy(t, strings.TrimPrefix(am.URL, "http://"))
	f := newFixture(t, `
global:
  escalation: {alertmanager_urls: ['http://`+proxy.Addr+`']}
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9]+'}
    cooldown: 0s
    concurrency: 2
    silence:
      matchers: ['agent="{{ .Labels.agent }}"']
      for: 10m
    actions:
      - exec: {command: [/bin/true]}
`, Options{}, nil)
	for i := range 20 {
		f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", fmt.Sprint("a", i)))
	}
	f.waitEntries(20)
	testutil.Eventually(t, 10*time.Second, "every silence expired", func() bool {
		return promtest.ToFloat64(f.engine.metrics.silences.WithLabelValues("restart-agent", "expired")) == 20
	})
	if created := promtest.ToFloat64(f.engine.metrics.silences.WithLabelValues("restart-agent", "created")); created != 20 {
		t.Fatalf("%v silences made, want 20", created)
	}
	// Two remediations at once, each with at most one call in flight.
	if n := proxy.Accepted(); n > 2 {
		t.Fatalf("40 calls to Alertmanager opened %d connections, want at most 2", n)
	}
}
