package receiver

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selfheal/selfheal/internal/store"
	"github.com/selfheal/selfheal/internal/store/redisstore"
	"github.com/selfheal/selfheal/internal/testutil"
)

// TestTwoReplicasShareOneRedis: two receivers behind one Alertmanager
// cluster both get every notification; the alert's action runs once.
func TestTwoReplicasShareOneRedis(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	open := func() store.Store { return openRedisStore(t, rd.Addr) }
	rec := filepath.Join(t.TempDir(), "rec")
	yml := recordRule(t, rec, "")
	a := newFixture(t, yml, Options{Shared: true, Replica: "a"}, open())
	b := newFixture(t, yml, Options{Shared: true, Replica: "b"}, open())
	at := time.Now()
	var alerts []templateAlert
	for _, id := range []string{"a1", "a2", "a3", "a4", "a5"} {
		alerts = append(alerts, alert("firing", at, "alertname", "AgentLost", "agent", id))
	}
	done := make(chan AcceptResult, 2)
	go func() { done <- a.accept(alerts...) }()
	go func() { done <- b.accept(alerts...) }()
	r1, r2 := <-done, <-done
	if r1.Accepted+r2.Accepted != 5 || r1.Duplicates+r2.Duplicates != 5 {
		t.Fatalf("accepted %+v and %+v", r1, r2)
	}
	es := a.waitEntries(5)
	// Neither replica has anything left to run: a duplicate had its chance.
	testutil.Eventually(t, 10*time.Second, "both queues to empty", func() bool {
		return a.engine.window.pending.Load() == 0 && b.engine.window.pending.Load() == 0
	})
	runs := 0
	for _, l := range testutil.ReadLines(t, rec) {
		if strings.HasPrefix(l, "arg:restart") {
			runs++
		}
	}
	if runs != 5 {
		t.Fatalf("hook ran %d times for 5 alerts", runs)
	}
	if len(es) != 5 {
		t.Fatalf("shared journal has %d entries", len(es))
	}
}

// TestEscalationOutlivesItsReplica: replica a gives up on an alert and
// pages, then stops; replica b, sharing its Redis, goes on posting the
// escalation, and resolves the page when the alert resolves.
func TestEscalationOutlivesItsReplica(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	open := func() store.Store { return openRedisStore(t, rd.Addr) }
	p, am := startPagerAlertmanager(t)
	yml := escalationRules(t, am.URL)
	a := newFixture(t, yml, Options{Shared: true, Replica: "a"}, open())
	b := newFixture(t, yml, Options{Shared: true, Replica: "b"}, open())
	fault := alert("firing", time.Now(), "alertname", "ICServerConnectFailed", "instance", "10.0.0.1:8088")
	a.accept(fault)
	testutil.Eventually(t, 20*time.Second, "a page", func() bool { return len(p.pages("firing")) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	a.engine.Shutdown(ctx)
	cancel()
	testutil.Eventually(t, 10*time.Second, "the other replica to post the escalation", func() bool {
		return promtest.ToFloat64(b.engine.metrics.escalations.WithLabelValues("restart-ic-server", ReasonMaxAttempts, "posted")) >= 1
	})
	resolved := fault
	resolved.Status = "resolved"
	b.accept(resolved)
	testutil.Eventually(t, 20*time.Second, "the page to resolve", func() bool { return len(p.pages("resolved")) == 1 })
	if n := len(p.pages("firing")); n != 1 {
		t.Fatalf("%d firing pages for one incident", n)
	}
}

// openRedisStore connects a store to the Redis at addr for the test.
func openRedisStore(t *testing.T, addr string) store.Store {
	s, err := redisstore.Open("redis://"+addr, "selfheal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
