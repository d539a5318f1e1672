package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// BenchmarkProbeThroughput measures /probe with an http module against a
// fast local target at 50 concurrent connections, next to Debian's
// blackbox_exporter with the equivalent module and the simplest loop that
// opens a fresh connection per request (simplest/probeloop: 50 goroutines
// of net/http with keep-alives off). wrk drives both exporters. Each of the
// three runs in its own process, apart from the target's (this one), so
// none shares a Go runtime with the target. Targets: at least 3x
// blackbox_exporter and at least 80% of the simplest loop.
//
// The same loop run inside the target's process is printed for reference:
// there a probe's connect, request and answer are handed between goroutines
// of one runtime, which no exporter can do.
func BenchmarkProbeThroughput(b *testing.B) {
	const conc = 50
	dur := 3 * time.Second
	dir := b.TempDir()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go target.Serve(l)
	defer target.Close()
	targetURL := "http://" + l.Addr().String() + "/ok"

	exporter := buildBinary(b, dir, "selfheal_exporter")
	loopBin := buildPackage(b, dir, "./simplest/probeloop", "probeloop")
	eAddr := testutil.Addr(testutil.FreePort(b))
	testutil.WriteFile(b, dir, "selfheal.yml", "modules:\n  ic_server: {prober: http, timeout: 5s}\n")
	ep := startServer(b, dir, eAddr, exporter, "--config.file", "selfheal.yml", "--web.listen-address", eAddr, "--log.level", "error")

	bbAddr := testutil.Addr(testutil.FreePort(b))
	testutil.WriteFile(b, dir, "blackbox.yml", "modules:\n  http_2xx: {prober: http, timeout: 5s}\n")
	bb := testutil.Binary(b, "prometheus-blackbox-exporter")
	startServer(b, dir, bbAddr, bb, "--config.file", "blackbox.yml", "--web.listen-address", bbAddr, "--log.level", "error")

	q := url.Values{"target": {targetURL}}
	selfURL := "http://" + eAddr + "/probe?module=ic_server&" + q.Encode()
	bbURL := "http://" + bbAddr + "/probe?module=http_2xx&" + q.Encode()
	pause := func() { time.Sleep(2 * time.Second) } // let TIME_WAIT sockets and GC settle between runs

	// Each exporter must answer a real, successful probe before it is timed.
	for u, want := range map[string]string{selfURL: "selfheal_probe_success 1", bbURL: "probe_success 1"} {
		if ok, _ := load(1, 200*time.Millisecond, func(int, int) string { return u }, want, false); ok == 0 {
			b.Fatalf("%s does not answer a successful probe", u)
		}
	}
	runWrk(b, conc, time.Second, selfURL) // warm-up
	steal := stealMeter()
	// Five rounds. This machine's speed drifts by 10-20% from one run to the
	// next, so each ratio is taken within a round, where the two sides ran
	// back to back (which of them first alternates), and the median of the
	// five per-round ratios is the figure.
	const rounds = 5
	var selfs, blacks, loops, inProc []float64
	var selfFail, bbFail int
	var loopFail, inProcFail int64
	measureSelf := func() {
		r, f := runWrk(b, conc, dur, selfURL)
		selfs, selfFail = append(selfs, r), selfFail+f
		pause()
	}
	measureLoop := func() {
		ok, lf := runLoop(b, loopBin, conc, dur, targetURL)
		loops, loopFail = append(loops, float64(ok)/dur.Seconds()), loopFail+lf
		pause()
	}
	for r := range rounds {
		if r%2 == 0 {
			measureSelf()
			measureLoop()
		} else {
			measureLoop()
			measureSelf()
		}
		rate, f := runWrk(b, conc, dur, bbURL)
		blacks, bbFail = append(blacks, rate), bbFail+f
		pause()
		ok, lf := load(conc, dur, func(int, int) string { return targetURL }, "ok", true)
		inProc, inProcFail = append(inProc, float64(ok)/dur.Seconds()), inProcFail+lf
		pause()
	}
	vsBlack, vsLoop, vsInProc := ratios(selfs, blacks), ratios(selfs, loops), ratios(selfs, inProc)

	fmt.Printf("probe throughput at %d connections, %d rounds of %v each (medians):\n", conc, rounds, dur)
	fmt.Printf("  selfheal_exporter /probe: %8.0f probes/s (%d failed)\n", median(selfs), selfFail)
	fmt.Printf("  blackbox_exporter /probe: %8.0f probes/s (%d failed)\n", median(blacks), bbFail)
	fmt.Printf("  simplest fresh-conn loop: %8.0f requests/s (%d failed)\n", median(loops), loopFail)
	fmt.Printf("  (the same loop inside the target's process: %.0f requests/s, %d failed; /probe is %.0f%% of it, rounds %s)\n",
		median(inProc), inProcFail, 100*median(vsInProc), percents(vsInProc))
	fmt.Printf("  ratio vs blackbox_exporter: %.2fx (target >= 3x), rounds %s\n", median(vsBlack), percents(vsBlack))
	fmt.Printf("  ratio vs simplest loop:     %.0f%% (target >= 80%%), rounds %s\n", 100*median(vsLoop), percents(vsLoop))
	fmt.Printf("  selfheal_exporter peak RSS: %.0f MiB\n", rssMiB(ep.Cmd.Process.Pid))
	fmt.Printf("  CPU steal during the rounds: %.1f%% of CPU time\n", steal())
	b.ReportMetric(median(selfs), "probes/s")
	b.ReportMetric(median(vsBlack), "x_blackbox")
	b.ReportMetric(median(vsLoop), "x_simplest")
}

// runLoop runs the simplest probe loop program for d and returns its
// successful and failed probes.
func runLoop(b *testing.B, bin string, conc int, d time.Duration, target string) (ok, failed int64) {
	b.Helper()
	out, err := exec.Command(bin, "-url", target, "-c", strconv.Itoa(conc), "-d", d.String(), "-want", "ok").Output()
	if err != nil {
		b.Fatalf("probe loop: %v", err)
	}
	if _, err := fmt.Sscan(string(out), &ok, &failed); err != nil {
		b.Fatalf("probe loop printed %q: %v", out, err)
	}
	return ok, failed
}
