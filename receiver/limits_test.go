package receiver

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

func gateRule(t *testing.T, rec, gate string, concurrency int) string {
	return `
rules:
  - name: restart-agent
    match: 'alertname="AgentLost"'
    require_labels: {agent: '[a-z0-9_-]+'}
    concurrency: ` + strconv.Itoa(concurrency) + `
    actions:
      - exec: {command: [` + scriptPath(t, "gate.sh") + `, ` + rec + `, ` + gate + `]}
`
}

func countLines(t *testing.T, path, want string) int {
	n := 0
	for _, l := range testutil.ReadLines(t, path) {
		if l == want {
			n++
		}
	}
	return n
}

// TestReloadLowersConcurrencyAtOnce: two remediations of a rule run under
// concurrency 2; a reload lowers it to 1. No further remediation of the
// rule may start until both have finished, and once all are done the
// engine keeps no state for the rule.
func TestReloadLowersConcurrencyAtOnce(t *testing.T) {
	dir := t.TempDir()
	rec, gate := filepath.Join(dir, "rec"), filepath.Join(dir, "gate")
	f := newFixture(t, gateRule(t, rec, gate, 2), Options{Workers: 8}, nil)
	now := time.Now()
	f.accept(alert("firing", now, "alertname", "AgentLost", "agent", "a1"), alert("firing", now, "alertname", "AgentLost", "agent", "a2"))
	testutil.Eventually(t, 10*time.Second, "two remediations to start", func() bool { return countLines(t, rec, "started") == 2 })

	f.engine.SetConfig(mustConfig(t, gateRule(t, rec, gate, 1)))
	f.accept(alert("firing", now, "alertname", "AgentLost", "agent", "a3"))
	// The third has had its chance once it waits for a slot.
	testutil.Eventually(t, 10*time.Second, "the third remediation to wait for a slot", func() bool { return f.engine.limits.waiting("restart-agent") })
	if n := countLines(t, rec, "started"); n != 2 {
		t.Fatalf("%d remediations started under concurrency 1 with 2 running; want 2", n)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f.waitEntries(3)
	if n := f.engine.limits.size(); n != 0 {
		t.Fatalf("the engine keeps limiter state for %d rules after every remediation finished", n)
	}
}

// TestRuleLimits drives the limiter alone: a lowered bound holds new
// takers until enough slots are free, and cancellation gives up.
func TestRuleLimits(t *testing.T) {
	l := newRuleLimits()
	limit := 2
	bound := func() int { return limit }
	ctx := context.Background()
	r1, _ := l.acquire(ctx, "r", bound)
	r2, _ := l.acquire(ctx, "r", bound)
	limit = 1
	l.changed()
	got := make(chan func(), 1)
	go func() { r, _ := l.acquire(ctx, "r", bound); got <- r }()
	r1()
	select {
	case <-got:
		t.Fatal("a slot was taken with 1 running under a bound of 1")
	case <-time.After(200 * time.Millisecond):
	}
	r2()
	r3 := <-got
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.acquire(cctx, "r", bound); err == nil {
		t.Fatal("a cancelled wait took a slot")
	}
	r3()
	if n := l.size(); n != 0 {
		t.Fatalf("limiter keeps state for %d rules with nothing running", n)
	}
}
