package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"sort"
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
// of one runtime, which no exporter can do, and it comes out 10-20% faster.
func BenchmarkProbeThroughput(b *testing.B) {
	const conc = 50
	dur := 3 * time.Second
	dir := b.TempDir()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
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
	// Three rounds, the three measured in turn in each, and the median of
	// each: on two shared cores a single run of one of them drifts by 10-20%
	// with whatever else the machine does at that moment.
	var selfs, blacks, loops, inProc []float64
	var selfFail, bbFail int
	var loopFail, inProcFail int64
	for range 3 {
		r, f := runWrk(b, conc, dur, selfURL)
		selfs, selfFail = append(selfs, r), selfFail+f
		pause()
		r, f = runWrk(b, conc, dur, bbURL)
		blacks, bbFail = append(blacks, r), bbFail+f
		pause()
		ok, lf := runLoop(b, loopBin, conc, dur, targetURL)
		loops, loopFail = append(loops, float64(ok)/dur.Seconds()), loopFail+lf
		pause()
		ok, lf = load(conc, dur, func(int, int) string { return targetURL }, "ok", true)
		inProc, inProcFail = append(inProc, float64(ok)/dur.Seconds()), inProcFail+lf
		pause()
	}
	self, black, loop := median(selfs), median(blacks), median(loops)

	fmt.Printf("probe throughput at %d connections, median of 3 rounds of %v each:\n", conc, dur)
	fmt.Printf("  selfheal_exporter /probe: %8.0f probes/s (%d failed)\n", self, selfFail)
	fmt.Printf("  blackbox_exporter /probe: %8.0f probes/s (%d failed)\n", black, bbFail)
	fmt.Printf("  simplest fresh-conn loop: %8.0f requests/s (%d failed)\n", loop, loopFail)
	fmt.Printf("  (the same loop inside the target's process: %.0f requests/s, %d failed; /probe is %.0f%% of it)\n", median(inProc), inProcFail, 100*self/median(inProc))
	fmt.Printf("  ratio vs blackbox_exporter: %.2fx (target >= 3x)\n", self/black)
	fmt.Printf("  ratio vs simplest loop:     %.0f%% (target >= 80%%)\n", 100*self/loop)
	fmt.Printf("  selfheal_exporter peak RSS: %.0f MiB\n", rssMiB(ep.Cmd.Process.Pid))
	b.ReportMetric(self, "probes/s")
	b.ReportMetric(self/black, "x_blackbox")
	b.ReportMetric(self/loop, "x_simplest")
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

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
