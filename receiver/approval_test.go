package receiver

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
)

func approvalRule(t *testing.T, am, rec, within string) string {
	return `
global:
  escalation: {alertmanager_urls: ['` + am + `'], resend_interval: 1s, receiver_url: 'http://selfheal.example:9875'}
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9-]+'}
    approval: {required: true, within: ` + within + `}
    actions:
      - exec: {command: [` + scriptPath(t, "record.sh") + `, ` + rec + `, 'restart {{ .Labels.agent }}']}
`
}

// waitAwaiting waits until the journal's newest entry awaits approval.
func (f *fixture) waitAwaiting(t *testing.T) journal.Entry {
	t.Helper()
	var en journal.Entry
	testutil.Eventually(t, 10*time.Second, "the remediation to await approval", func() bool {
		es, _ := f.journal.Query(context.Background(), journal.Filter{Limit: 1})
		if len(es) == 1 && es[0].Result == action.ResultAwaitingApproval {
			en = es[0]
			return true
		}
		return false
	})
	return en
}

// TestApprovalRunsOnce: a remediation whose rule asks waits, running
// nothing, and asks through a real Alertmanager (the alert's labels,
// selfheal="approval", what would run, how to answer); two approvals at
// once: one wins, the other learns who answered first; it runs once, and
// the ask is resolved.
func TestApprovalRunsOnce(t *testing.T) {
	p, am := startPagerAlertmanager(t)
	rec := t.TempDir() + "/rec"
	f := newFixture(t, approvalRule(t, am.URL, rec, "30m"), Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1"))
	en := f.waitAwaiting(t)
	testutil.Eventually(t, 20*time.Second, "the ask to reach the chat", func() bool { return len(p.pages("firing")) > 0 })
	ask := p.pages("firing")[0].Alerts[0]
	if ask.Labels["selfheal"] != "approval" || ask.Labels["selfheal_rule"] != "restart-agent" || ask.Labels["agent"] != "d1" ||
		!strings.Contains(ask.Annotations["selfheal_summary"], "1. exec") || !strings.Contains(ask.Annotations["selfheal_approve"], "selfhealctl approve "+en.ID) ||
		!strings.Contains(ask.Annotations["selfheal_approve"], "http://selfheal.example:9875/journal?") {
		t.Fatalf("ask %v %v", ask.Labels, ask.Annotations)
	}
	if runs := testutil.ReadLines(t, rec); len(runs) != 0 {
		t.Fatalf("ran before approval: %v", runs)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	answers := make([]journal.Answer, 2)
	for i, by := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = f.engine.Answer(context.Background(), en.ID, journal.Answer{Approve: true, By: by, Reason: "looks right"})
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, ErrAnswered):
			if answers[i].By != answers[1-i].By || !answers[i].Approve {
				t.Errorf("the second answer was told %+v; the first was %+v", answers[i], answers[1-i])
			}
		default:
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d answers won", won)
	}
	testutil.Eventually(t, 10*time.Second, "the approved remediation to run", func() bool {
		es, _ := f.journal.Query(context.Background(), journal.Filter{Limit: 1})
		return len(es) == 1 && es[0].Result == action.ResultSuccess && es[0].Answer != nil && es[0].Answer.Approve
	})
	testutil.Eventually(t, 20*time.Second, "the ask to be resolved", func() bool {
		for _, m := range p.pages("resolved") {
			if m.Alerts[0].Labels["selfheal"] == "approval" {
				return true
			}
		}
		return false
	})
	if runs := testutil.ReadLines(t, rec); len(runs) != 2 { // an argument line and an env line: one run
		t.Fatalf("runs after the approval: %v", runs)
	}
	if _, err := f.engine.Answer(context.Background(), "0000000000000000-00000000", journal.Answer{By: "x"}); !errors.Is(err, ErrNotAwaiting) {
		t.Fatalf("an unknown id: %v", err)
	}
}

// TestRejectedAndExpiredApprovals: a rejected remediation runs nothing and
// is journaled cancelled with who rejected it and why; an ask no one
// answers expires, runs nothing, and pages once with approval_expired.
func TestRejectedAndExpiredApprovals(t *testing.T) {
	p, am := startPagerAlertmanager(t)
	rec := t.TempDir() + "/rec"
	f := newFixture(t, approvalRule(t, am.URL, rec, "30m"), Options{}, nil)
	f.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d1"))
	en := f.waitAwaiting(t)
	if _, err := f.engine.Answer(context.Background(), en.ID, journal.Answer{By: "carol", Reason: "not during the audit"}); err != nil {
		t.Fatal(err)
	}
	var es []journal.Entry
	testutil.Eventually(t, 10*time.Second, "the rejection to end the remediation", func() bool {
		es, _ = f.journal.Query(context.Background(), journal.Filter{Limit: 1})
		return len(es) == 1 && es[0].Result != action.ResultAwaitingApproval
	})
	if es[0].Result != action.ResultCancelled || !strings.Contains(es[0].Reason, "rejected by carol") || !strings.HasSuffix(es[0].Reason, ": not during the audit") {
		t.Fatalf("rejected: %s %q", es[0].Result, es[0].Reason)
	}

	g := newFixture(t, approvalRule(t, am.URL, rec, "1s"), Options{}, nil)
	g.accept(alert("firing", time.Now(), "alertname", "AgentLost", "agent", "d2"))
	testutil.Eventually(t, 20*time.Second, "the ask to expire", func() bool {
		es, _ := g.journal.Query(context.Background(), journal.Filter{Limit: 1})
		return len(es) == 1 && es[0].Result == action.ResultExpired
	})
	// Alertmanager notifies a group's firing alerts again with each change:
	// count the escalations by fingerprint, not by notification.
	escalated := func() map[string]map[string]string {
		out := map[string]map[string]string{}
		for _, m := range p.pages("firing") {
			for _, a := range m.Alerts {
				if a.Labels["selfheal"] == "escalated" && a.Status == "firing" {
					out[a.Fingerprint] = a.Labels
				}
			}
		}
		return out
	}
	testutil.Eventually(t, 20*time.Second, "the page", func() bool { return len(escalated()) > 0 })
	pages := escalated()
	for _, ls := range pages {
		if ls["selfheal_reason"] != ReasonApprovalExpired || ls["agent"] != "d2" {
			t.Fatalf("page %v", ls)
		}
	}
	if len(pages) != 1 {
		t.Fatalf("%d pages for one expired ask", len(pages))
	}
	if runs := testutil.ReadLines(t, rec); len(runs) != 0 {
		t.Fatalf("ran without approval: %v", runs)
	}
}

// TestAlertResolvedWhileAwaitingApproval: the alert resolves while its
// remediation waits for approval: it is journaled cancelled, runs nothing,
// and a late approval is refused.
func TestAlertResolvedWhileAwaitingApproval(t *testing.T) {
	_, am := startPagerAlertmanager(t)
	rec := t.TempDir() + "/rec"
	f := newFixture(t, approvalRule(t, am.URL, rec, "30m"), Options{}, nil)
	started := time.Now()
	f.accept(alert("firing", started, "alertname", "AgentLost", "agent", "d1"))
	en := f.waitAwaiting(t)
	f.accept(alert("resolved", started, "alertname", "AgentLost", "agent", "d1"))
	testutil.Eventually(t, 10*time.Second, "the waiting remediation to be cancelled", func() bool {
		got, err := f.journal.Stored(context.Background(), en.ID)
		return err == nil && got.Result == action.ResultCancelled && strings.Contains(got.Reason, "resolved while awaiting approval")
	})
	if _, err := f.engine.Answer(context.Background(), en.ID, journal.Answer{Approve: true, By: "late"}); !errors.Is(err, ErrNotAwaiting) {
		t.Fatalf("a late approval: %v", err)
	}
	if runs := testutil.ReadLines(t, rec); len(runs) != 0 {
		t.Fatalf("ran: %v", runs)
	}
}
