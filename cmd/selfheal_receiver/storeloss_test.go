package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/selfheal/selfheal/internal/testutil"
)

// lossRules hold every remediation until dir/gate exists: agents, and
// members of a pool of 2 that keeps 1 in.
func lossRules(dir string) string {
	script, _ := filepath.Abs("../../testdata/receiver/scripts/gate.sh")
	hook := func(label string) string {
		return `[{exec: {command: [` + script + `, '` + dir + `/{{ .Labels.` + label + ` }}', '` + dir + `/gate'], timeout: 1m}}]`
	}
	return `
rules:
  - name: restart
    match: 'alertname="AgentLost"'
    require_labels: {agent: 'a[0-9]+'}
    actions: ` + hook("agent") + `
  - name: out-of-pool
    match: 'alertname="KeyServiceInstanceDown"'
    require_labels: {server: 'ks[0-9]'}
    pool: {name: key_service, size: 2, min_healthy: 1, member: '{{ .Labels.server }}'}
    actions: ` + hook("server") + `
`
}

// TestWorkSurvivesAnEmptiedStore: Redis is emptied (FLUSHALL) while the
// receiver runs two remediations and holds four more. It writes its work
// back: every remediation runs once and is journaled, none of its results
// is dropped, re-sent notifications are duplicates, and the pool member it
// took out is still out, so the other member stays in.
func TestWorkSurvivesAnEmptiedStore(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	work := t.TempDir()
	r := startReceiver(t, t.TempDir(), lossRules(work), "--storage.redis.url", "redis://"+rd.Addr+"/0", "--remediation.workers", "2")
	if code, body := r.do("POST", "/webhook", keyServiceDown("ks1")); code != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("webhook: %d %s", code, body)
	}
	testutil.Eventually(t, 10*time.Second, "ks1 to be taken out", func() bool { return len(readMarker(filepath.Join(work, "ks1"))) == 1 })
	if code, body := r.do("POST", "/webhook", agentsLost(5)); code != 200 || !strings.Contains(body, `"accepted":5`) {
		t.Fatalf("webhook: %d %s", code, body)
	}
	testutil.Eventually(t, 10*time.Second, "a second hook to start", func() bool {
		s, _ := markers(work, 5)
		return s[0]+s[1]+s[2]+s[3]+s[4] == 1
	})
	c := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer c.Close()
	testutil.Eventually(t, 10*time.Second, "the epoch to be written", func() bool { return c.Exists(context.Background(), "selfheal:epoch").Val() == 1 })
	c.FlushAll(context.Background())
	testutil.Eventually(t, 15*time.Second, "the work to be written back", func() bool {
		return strings.Contains(r.proc.Output.String(), `msg="Wrote this replica's work back into the store that lost its data" remediations=6 pool_members_out=1`)
	})
	if code, body := r.do("POST", "/webhook", agentsLost(5)); code != 200 || !strings.Contains(body, `"duplicates":5`) {
		t.Fatalf("re-sent after the loss: %d %s", code, body)
	}
	if code, body := r.do("POST", "/webhook", keyServiceDown("ks2")); code != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("webhook: %d %s", code, body)
	}
	testutil.WriteFile(t, work, "gate", "")
	es := r.waitResults(t, "refused", "success", "success", "success", "success", "success", "success")
	if es[0].Rule != "out-of-pool" || !strings.Contains(es[0].Reason, "pool_min_healthy") {
		t.Fatalf("ks2 was taken out of a pool whose other member is out: %+v", es[0])
	}
	_, finished := markers(work, 5)
	for i, f := range finished {
		if f != 1 {
			t.Fatalf("a%d finished %d times", i, f)
		}
	}
	if len(readMarker(filepath.Join(work, "ks2"))) != 0 {
		t.Fatal("ks2's hook ran")
	}
	if v := r.metric("selfheal_receiver_fenced_writes_total"); v != 0 {
		t.Fatalf("%v results fenced off after the loss", v)
	}
}
