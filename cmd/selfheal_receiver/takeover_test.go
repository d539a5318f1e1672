package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// gateRule runs, for each agent, a hook that records its start in
// dir/<agent> and waits for the file dir/gate.
func gateRule(dir string) string {
	script, _ := filepath.Abs("../../testdata/receiver/scripts/gate.sh")
	return `
rules:
  - name: restart
    match: 'alertname="AgentLost"'
    require_labels: {agent: 'a[0-9]+'}
    cooldown: 0s
    max_attempts: 2
    actions:
      - exec: {command: [` + script + `, '` + dir + `/{{ .Labels.agent }}', '` + dir + `/gate'], timeout: 1m}
`
}

type journaled struct {
	ID, Result, Reason, Replica string
	Labels                      map[string]string
	Fence                       int64
}

func (r *receiverProc) journal() []journaled {
	r.t.Helper()
	_, body := r.do("GET", "/api/v1/actions?limit=1000", "")
	var out struct{ Actions []journaled }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		r.t.Fatalf("%v: %s", err, body)
	}
	return out.Actions
}

// markers counts each agent's hook starts and finishes.
func markers(dir string, n int) (started, finished []int) {
	started, finished = make([]int, n), make([]int, n)
	for i := range n {
		m := strings.Join(readMarker(filepath.Join(dir, fmt.Sprint("a", i))), ",")
		started[i], finished[i] = strings.Count(m, "started"), strings.Count(m, "finished")
	}
	return started, finished
}

// TestADeadReplicasWorkIsTakenOver: two receivers on one host and one
// Redis (the second one, started while the first runs hooks, leaves them
// alone); the one that accepted six remediations is killed (SIGKILL) with
// two of them running and four queued, and never restarted. The other
// takes all six over once the dead one's lease expires: the queued ones
// run once, the two that had started count as interrupted attempts and are
// retried, and every result names the replica that ran it.
func TestADeadReplicasWorkIsTakenOver(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	work := t.TempDir()
	url := "redis://" + rd.Addr + "/0"
	flags := []string{"--storage.redis.url", url, "--remediation.lease-duration", "3s", "--remediation.workers", "2"}
	a := startReceiver(t, t.TempDir(), gateRule(work), flags...)
	if code, body := a.do("POST", "/webhook", agentsLost(6)); code != 200 || !strings.Contains(body, `"accepted":6`) {
		t.Fatalf("webhook: %d %s", code, body)
	}
	testutil.Eventually(t, 10*time.Second, "two hooks to start", func() bool {
		s, _ := markers(work, 6)
		return s[0]+s[1]+s[2]+s[3]+s[4]+s[5] == 2
	})
	testutil.Eventually(t, 10*time.Second, "the starts to be committed", func() bool { return a.metric("selfheal_receiver_unflushed_writes") == 0 })
	// A second replica on the same host leaves the live one's hooks alone.
	b := startReceiver(t, t.TempDir(), gateRule(work), flags...)
	if n := a.metric("selfheal_remediation_in_flight"); n != 2 || strings.Contains(b.proc.Output.String(), "Killed processes") {
		t.Fatalf("after a second replica started: %v running on the first\n%s", n, b.proc.Output.String())
	}
	names := map[string]bool{}
	for _, e := range b.journal() {
		names[e.Replica] = true
	}
	a.proc.Kill()
	killed := time.Now()
	testutil.WriteFile(t, work, "gate", "")
	testutil.Eventually(t, 30*time.Second, "every remediation to finish on the other replica", func() bool {
		_, f := markers(work, 6)
		return f[0]+f[1]+f[2]+f[3]+f[4]+f[5] == 6
	})
	t.Logf("takeover: all work done %.1f s after the kill (lease 3 s)", time.Since(killed).Seconds())
	started, finished := markers(work, 6)
	restarted := 0
	for i := range 6 {
		if finished[i] != 1 {
			t.Fatalf("a%d finished %d times", i, finished[i])
		}
		restarted += started[i] - 1
	}
	if restarted != 2 {
		t.Fatalf("%d hooks started twice; want the 2 killed with the replica", restarted)
	}
	results := map[string]int{}
	var ranBy []string
	for _, e := range b.journal() {
		results[e.Result]++
		if e.Result == "success" {
			ranBy = append(ranBy, e.Replica)
		}
		if e.Result == "interrupted" && !strings.Contains(e.Reason, "counts as a failed attempt; retrying") {
			t.Fatalf("interrupted entry: %+v", e)
		}
	}
	if results["success"] != 6 || results["interrupted"] != 2 || len(results) != 2 {
		t.Fatalf("journal results %v; want 6 success, 2 interrupted", results)
	}
	if len(names) != 1 || names[ranBy[0]] {
		t.Fatalf("accepted by %v, run by %v: want two distinct replicas", names, ranBy)
	}
	for _, n := range ranBy {
		if n != ranBy[0] || n == "" {
			t.Fatalf("results by %v; want all by the surviving replica", ranBy)
		}
	}
	if v := b.metric("selfheal_receiver_taken_over_total"); v != 6 {
		t.Fatalf("taken over: %v, want 6", v)
	}
}

// TestALateReplicaCannotOverwriteTheNewOwner: a receiver is stopped
// (SIGSTOP) while its remediation runs, for longer than its lease; the
// other, on another host, takes the remediation over and retries it. When
// the first one resumes and its hook finishes, its result is fenced off:
// the journal keeps the new owner's account. On the same host the new
// owner also kills the late one's hook, so that the attempt does not run
// alongside its retry.
func TestALateReplicaCannotOverwriteTheNewOwner(t *testing.T) {
	for _, sameHost := range []bool{false, true} {
		t.Run(fmt.Sprint("same host ", sameHost), func(t *testing.T) {
			rd := testutil.StartRedis(t, testutil.RedisOptions{})
			work := t.TempDir()
			flags := []string{"--storage.redis.url", "redis://" + rd.Addr + "/0", "--remediation.lease-duration", "2s"}
			hostB := "host-b"
			if sameHost {
				hostB = "host-a"
			}
			a := startReceiverOn(t, "host-a", t.TempDir(), gateRule(work), flags...)
			b := startReceiverOn(t, hostB, t.TempDir(), gateRule(work), flags...)
			lateAttempt(t, a, b, work, sameHost)
		})
	}
}

func lateAttempt(t *testing.T, a, b *receiverProc, work string, sameHost bool) {
	if code, body := a.do("POST", "/webhook", agentsLost(1)); code != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("webhook: %d %s", code, body)
	}
	testutil.Eventually(t, 10*time.Second, "the hook to start", func() bool { s, _ := markers(work, 1); return s[0] == 1 })
	testutil.Eventually(t, 10*time.Second, "the start to be committed", func() bool { return a.metric("selfheal_receiver_unflushed_writes") == 0 })
	lateFence := a.journal()[0].Fence
	a.proc.Cmd.Process.Signal(syscall.SIGSTOP)
	defer a.proc.Cmd.Process.Signal(syscall.SIGCONT)
	testutil.Eventually(t, 20*time.Second, "the other replica to retry it", func() bool { s, _ := markers(work, 1); return s[0] == 2 })
	testutil.WriteFile(t, work, "gate", "")
	want := 2 // the late hook and the retry
	if sameHost {
		want = 1 // the late hook was killed
	}
	testutil.Eventually(t, 10*time.Second, "the hooks to finish", func() bool { _, f := markers(work, 1); return f[0] == want })
	a.proc.Cmd.Process.Signal(syscall.SIGCONT)
	testutil.Eventually(t, 10*time.Second, "the late result to be fenced off", func() bool { return a.metric("selfheal_receiver_fenced_writes_total") >= 1 })
	testutil.Eventually(t, 10*time.Second, "the retry's result", func() bool {
		es := b.journal()
		return len(es) == 2 && es[0].Result == "success"
	})
	a.waitIdle() // the late replica wrote (or was fenced off from) all it had
	es := b.journal()
	if len(es) != 2 || es[1].Result != "interrupted" || es[0].Replica == es[1].Replica {
		t.Fatalf("the late replica overwrote the new owner's account: %+v", es)
	}
	if lateFence == 0 || es[0].Fence <= lateFence || es[1].Fence != es[0].Fence {
		t.Fatalf("fencing tokens: the late replica's %d, the new owner's %d and %d; want the new owner's greater", lateFence, es[1].Fence, es[0].Fence)
	}
	if _, f := markers(work, 1); f[0] != want {
		t.Fatalf("%d hooks finished, want %d", f[0], want)
	}
}
