package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// These tests reload the configuration while remediations wait: queued,
// deferred and retrying work takes its rule by name when it starts, so a
// fixed rule applies to it, and a removed one cancels it.

// brokenRule is a rule whose hook is missing until fixed: then it is a
// hook that records the agent.
func brokenRule(dir, extra string, fixed bool) string {
	hook := filepath.Join(dir, "missing.sh")
	if fixed {
		hook = filepath.Join(dir, "count.sh")
	}
	return extra + `
rules:
  - name: heal
    match: 'alertname="AgentLost"'
    require_labels: {agent: '^a[0-9]+$'}
    cooldown: 3s
    max_attempts: 3
    actions:
      - exec: {command: [` + hook + `, ` + filepath.Join(dir, "runs") + `, '{{ .Labels.agent }}'], timeout: 30s}
`
}

// waitForResult waits for an entry with result in the journal.
func (r *receiverProc) waitForResult(result string) {
	r.t.Helper()
	testutil.Eventually(r.t, 20*time.Second, "an entry "+result, func() bool {
		for _, e := range r.actions() {
			if e.Result == result {
				return true
			}
		}
		return false
	})
}

// reload writes config and has the receiver reload it (POST /-/reload).
func (r *receiverProc) reload(config string) {
	r.t.Helper()
	testutil.WriteFile(r.t, r.dir, "receiver.yml", config)
	if code, body := r.do("POST", "/-/reload", ""); code != 200 {
		r.t.Fatalf("reload: %d %s", code, body)
	}
}

// TestARetryRunsUnderTheReloadedRule: attempt 1 fails (the hook's path is
// wrong), the operator fixes the rule and reloads while the retry waits in
// memory; the retry runs the fixed hook.
func TestARetryRunsUnderTheReloadedRule(t *testing.T) {
	dir := t.TempDir()
	_, runs := countingRule(dir, "")
	r := startReceiver(t, dir, brokenRule(dir, "", false))
	if code, body := r.do("POST", "/webhook", oneAlert("a1")); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	r.waitForResult("failed")
	r.reload(brokenRule(dir, "", true))
	testutil.Eventually(t, 30*time.Second, "the retry to run the fixed hook", func() bool { return runCounts(runs)["a1"] == 1 })
	r.waitResults(t, "success", "failed")
}

// TestARemovedRuleCancelsItsRetry: the rule of a retry waiting in memory
// is removed by a reload: the retry is journaled skipped with the reason,
// nothing runs, and the alert, still firing, is escalated to Alertmanager
// as one no rule heals (escalate_unmatched).
func TestARemovedRuleCancelsItsRetry(t *testing.T) {
	dir := t.TempDir()
	am := testutil.StartAlertmanager(t, "route: {receiver: none}\nreceivers: [{name: none}]\n")
	global := `
global:
  escalation: {alertmanager_urls: ['` + am.URL + `'], resend_interval: 1s, escalate_unmatched: true}`
	r := startReceiver(t, dir, brokenRule(dir, global, false))
	if code, body := r.do("POST", "/webhook", oneAlert("a1")); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	r.waitForResult("failed")
	r.reload(global + "\nrules: []\n")
	es := r.waitResults(t, "skipped", "failed")
	if !strings.Contains(es[0].Reason, "cancelled: the rule heal is no longer configured") {
		t.Fatalf("the cancelled retry: %+v", es[0])
	}
	testutil.Eventually(t, 30*time.Second, "the alert to be escalated as one no rule heals", func() bool {
		resp, err := http.Get(am.URL + "/api/v2/alerts?filter=selfheal_reason%3D%22no_rule%22")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var alerts []struct{ Labels map[string]string }
		_ = json.NewDecoder(resp.Body).Decode(&alerts)
		return len(alerts) == 1 && alerts[0].Labels["agent"] == "a1"
	})
	if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
		t.Fatal("a hook ran")
	}
}

// TestARuleSwitchedToLiveActsOnAnAlertStillFiring: a dry-run rule journals
// what it would do and Alertmanager's repeats are duplicates; once the rule
// is live, the next repeat of the same notification runs it, once.
func TestARuleSwitchedToLiveActsOnAnAlertStillFiring(t *testing.T) {
	dir := t.TempDir()
	config, runs := countingRule(dir, "    dry_run: true")
	r := startReceiver(t, dir, config)
	for i, want := range []string{`"accepted":1`, `"duplicates":1`} {
		if code, body := r.do("POST", "/webhook", oneAlert("a1")); code != 200 || !strings.Contains(body, want) {
			t.Fatalf("notification %d while a dry run: %d %s", i, code, body)
		}
	}
	r.waitResults(t, "dry_run")
	live, _ := countingRule(dir, "")
	r.reload(live)
	for i, want := range []string{`"accepted":1`, `"duplicates":1`} {
		if code, body := r.do("POST", "/webhook", oneAlert("a1")); code != 200 || !strings.Contains(body, want) {
			t.Fatalf("repeat %d once live: %d %s", i, code, body)
		}
	}
	r.ranOnce(t, runs, []string{"a1"}, 30*time.Second)
}
