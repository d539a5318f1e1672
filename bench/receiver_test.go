package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/testutil"
)

// batches builds n webhook bodies of 10 unique firing alerts each.
func batches(n int, prefix string) [][]byte {
	out := make([][]byte, n)
	for i := range n {
		var b bytes.Buffer
		b.WriteString(`{"version":"4","status":"firing","receiver":"selfheal","groupKey":"g","alerts":[`)
		for j := range 10 {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"Bench","id":"%s-%d-%d"},"annotations":{},"startsAt":"2026-11-22T05:00:00Z","fingerprint":"%s%08x%02x"}`, prefix, i, j, prefix, i, j)
		}
		b.WriteString("]}")
		out[i] = b.Bytes()
	}
	return out
}

// send posts every body from conc connections, at most rate batches per
// second when rate > 0, and returns the wall time and failures.
func send(url string, bodies [][]byte, conc int, rate float64) (time.Duration, int64) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: 30 * time.Second}
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(bodies)) {
					return
				}
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
						time.Sleep(d)
					}
				}
				resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), failed.Load()
}

var (
	successRe     = regexp.MustCompile(`selfheal_remediation_actions_total\{action="exec",result="success",rule="bench"\} ([0-9.e+]+)`)
	lastSuccessRe = regexp.MustCompile(`selfheal_remediation_last_success_timestamp_seconds\{rule="bench"\} ([0-9.e+]+)`)
)

// healed returns how many bench remediations succeeded so far and when the
// last of them finished, from the receiver's metrics.
func healed(b *testing.B, addr string) (int, time.Time) {
	// Uncompressed: in an allocation profile of the receiver under polling,
	// gzip's writers were 7 % of all it allocated.
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	number := func(re *regexp.Regexp) float64 {
		m := re.FindSubmatch(body)
		if m == nil {
			return 0
		}
		f, _ := strconv.ParseFloat(string(m[1]), 64)
		return f
	}
	return int(number(successRe)), time.Unix(0, int64(number(lastSuccessRe)*1e9))
}

// count is healed without the time.
func count(b *testing.B, addr string) int {
	n, _ := healed(b, addr)
	return n
}

// BenchmarkReceiver: batches of 10 unique alerts at 10 connections, each
// alert healed by exec /bin/true, against the simplest synchronous receiver
// (simplest/receiver, a process of its own like selfheal_receiver, with Go's
// defaults) in the same run, and for reference the same program at the
// GOMAXPROCS selfheal_receiver gives itself; then start latency below
// saturation, then the same alerts re-sent. Targets: p99 receipt to action
// start under 20 ms below saturation; re-sends at least 20,000 alerts/s
// accepted, none run again. The ratio to the simplest receiver is printed
// for reference: its old target of at least 1x is retired, as the child
// process is the floor.
func BenchmarkReceiver(b *testing.B) {
	const conc, n = 10, 800 // 8,000 alerts
	dir := b.TempDir()
	bin := buildBinary(b, dir, "selfheal_receiver")
	testutil.WriteFile(b, dir, "receiver.yml", healConfig)
	addr := testutil.Addr(testutil.FreePort(b))
	startServer(b, dir, addr, bin, healFlags(addr, "--storage.path", "state.db")...)
	url := "http://" + addr + "/webhook"

	simpleBin := buildPackage(b, dir, "./simplest/receiver", "simplest_receiver")
	simpleAddr := testutil.Addr(testutil.FreePort(b))
	startServer(b, dir, simpleAddr, simpleBin, "-listen", simpleAddr)
	simple := "http://" + simpleAddr + "/"
	// For reference, not for the target: the simplest receiver with the
	// GOMAXPROCS selfheal_receiver gives itself (serve.ProcsForHooks),
	// which speeds any receiver that forks.
	procs := serve.ProcsForHooks(16)
	sameAddr := testutil.Addr(testutil.FreePort(b))
	startServer(b, dir, sameAddr, "/usr/bin/env", "GOMAXPROCS="+strconv.Itoa(procs), simpleBin, "-listen", sameAddr)
	same := "http://" + sameAddr + "/"
	// Seven rounds with fresh alerts, the two receivers back to back in each
	// (which first alternates); the ratio is the median of the per-round
	// ratios, since this machine's speed drifts by 20% and more between
	// runs.
	const rounds = 7
	steal := stealMeter()
	var simpleRates, sameRates, selfRates []float64
	var simpleFail, sameFail, fail int64
	var bodies [][]byte
	measureSimple := func(r int) {
		st, sf := send(simple, batches(n, fmt.Sprintf("s%d", r)), conc, 0)
		simpleRates, simpleFail = append(simpleRates, float64(n*10)/st.Seconds()), simpleFail+sf
		st, sf = send(same, batches(n, fmt.Sprintf("m%d", r)), conc, 0)
		sameRates, sameFail = append(sameRates, float64(n*10)/st.Seconds()), sameFail+sf
	}
	self := &healer{addr: addr}
	base := startBaseline(b, dir)
	measureSelf := func(r int) {
		bodies = batches(n, fmt.Sprintf("a%d", r))
		fail += self.measure(b, bodies, conc)
		selfRates = self.rates
		if base != nil {
			base.measure(b, batches(n, fmt.Sprintf("b%d", r)), conc)
		}
	}
	for r := range rounds {
		if r%2 == 0 {
			measureSimple(r)
			measureSelf(r)
		} else {
			measureSelf(r)
			measureSimple(r)
		}
	}
	roundsSteal := steal()
	vsSimple, vsSame := ratios(selfRates, simpleRates), ratios(selfRates, sameRates)
	simpleRate, selfRate := median(simpleRates), median(selfRates)
	start := time.Now()

	// Below saturation: half the simplest receiver's rate, then the exact
	// receipt-to-start delays of those remediations from the journal.
	paced := batches(100, "p")
	send(url, paced, conc, simpleRate/10/2)
	for count(b, addr) < self.done+1000 && time.Since(start) < 3*time.Minute {
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/api/v1/actions?limit=1000")
	if err != nil {
		b.Fatal(err)
	}
	var journal struct {
		Actions []struct {
			Received time.Time
			Steps    []struct{ Started time.Time }
		}
	}
	json.NewDecoder(resp.Body).Decode(&journal)
	resp.Body.Close()
	var delays []time.Duration
	for _, a := range journal.Actions {
		if len(a.Steps) > 0 {
			delays = append(delays, a.Steps[0].Started.Sub(a.Received))
		}
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	p := func(q float64) time.Duration { return delays[int(q*float64(len(delays)-1))] }

	before := count(b, addr)
	dupTime, dupFail := send(url, bodies, conc, 0)
	time.Sleep(500 * time.Millisecond)
	after := count(b, addr)

	fmt.Printf("receiver: %d webhooks of 10 unique alerts at %d connections, each healed by exec /bin/true (medians of %d rounds):\n", n, conc, rounds)
	fmt.Printf("  simplest synchronous receiver: %6.0f alerts/s (%d failed)\n", simpleRate, simpleFail)
	fmt.Printf("  selfheal_receiver (journal on): %6.0f alerts/s healed (%d failed webhooks)\n", selfRate, fail)
	fmt.Printf("  ratio: %.2fx (for reference; the child is the floor), rounds %s\n", median(vsSimple), percents(vsSimple))
	fmt.Printf("  (the simplest receiver at GOMAXPROCS=%d: %.0f alerts/s, %d failed; selfheal_receiver is %.2fx of it, rounds %s)\n",
		procs, median(sameRates), sameFail, median(vsSame), percents(vsSame))
	if base != nil {
		fmt.Printf("  baseline %s: %.0f alerts/s healed, %.2fx of the simplest receiver at GOMAXPROCS=%d (rounds %s); this commit against it: %.2fx (rounds %s)\n",
			base.commit, median(base.rates), median(ratios(base.rates, sameRates)), procs, percents(ratios(base.rates, sameRates)),
			median(ratios(selfRates, base.rates)), percents(ratios(selfRates, base.rates)))
	}
	fmt.Printf("  CPU steal during the rounds: %.1f%% of CPU time, during the whole benchmark: %.1f%%\n", roundsSteal, steal())
	fmt.Printf("  receipt to action start at %.0f alerts/s: p50 %v, p99 %v, max %v over %d remediations (target p99 < 20ms)\n",
		simpleRate/2, p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), delays[len(delays)-1].Round(10*time.Microsecond), len(delays))
	fmt.Printf("  re-sent: %.0f alerts/s accepted (%d failed), %d actions run again (target >= 20,000/s, 0)\n", float64(n*10)/dupTime.Seconds(), dupFail, after-before)
	b.ReportMetric(selfRate, "alerts/s")
	b.ReportMetric(median(vsSimple), "x_simplest")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99_start_ms")
	b.ReportMetric(float64(n*10)/dupTime.Seconds(), "dup_alerts/s")
	if after != before {
		b.Fatalf("%d re-sent alerts were acted on again", after-before)
	}
}

// healer is a selfheal_receiver measured in rounds: alerts sent, the rate
// of each round.
type healer struct {
	addr   string
	commit string // the baseline's commit; "" for this one
	done   int
	rates  []float64
}

// measure sends bodies at conc connections and records the heal rate. The
// receiver is polled every 200 ms: each /metrics scrape costs it CPU that
// the simplest receiver, which is not polled, does not pay. The time taken
// ends when the last remediation finished (the receiver's last-success
// timestamp), not at the poll that saw it.
func (h *healer) measure(b *testing.B, bodies [][]byte, conc int) (failed int64) {
	start := time.Now()
	_, failed = send("http://"+h.addr+"/webhook", bodies, conc, 0)
	h.done += len(bodies) * 10
	var end time.Time
	for {
		n, last := healed(b, h.addr)
		if n >= h.done && last.After(start) {
			end = last
			break
		}
		if time.Since(start) > 2*time.Minute {
			end = time.Now()
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.rates = append(h.rates, float64(len(bodies)*10)/end.Sub(start).Seconds())
	return failed
}

// startBaseline starts selfheal_receiver built at the commit
// $SELFHEAL_BENCH_BASELINE names (a git worktree of this repository), to
// be measured in the same rounds; nil when it is unset.
func startBaseline(b *testing.B, dir string) *healer {
	commit := os.Getenv("SELFHEAL_BENCH_BASELINE")
	if commit == "" {
		return nil
	}
	tree := filepath.Join(dir, "baseline")
	if out, err := exec.Command("git", "worktree", "add", "--detach", tree, commit).CombinedOutput(); err != nil {
		b.Fatalf("git worktree add %s: %v\n%s", commit, err, out)
	}
	b.Cleanup(func() { exec.Command("git", "worktree", "remove", "--force", tree).Run() })
	bin := filepath.Join(dir, "baseline_receiver")
	build := exec.Command("go", "build", "-o", bin, "./cmd/selfheal_receiver")
	build.Dir = tree
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building %s: %v\n%s", commit, err, out)
	}
	data := filepath.Join(dir, "baseline-data")
	os.MkdirAll(data, 0o755)
	testutil.WriteFile(b, data, "receiver.yml", healConfig)
	h := &healer{addr: testutil.Addr(testutil.FreePort(b)), commit: commit}
	flags := healFlags(h.addr, "--storage.path", "state.db")
	if help, _ := exec.Command(bin, "--help").CombinedOutput(); !strings.Contains(string(help), serve.UnauthenticatedFlag) {
		flags = slices.DeleteFunc(flags, func(f string) bool { return f == noAuth }) // before the flag existed
	}
	startServer(b, data, h.addr, bin, flags...)
	return h
}
