// Package bench holds selfheal's performance benchmarks. Each one that
// compares with another tool runs both in the same run, on the same
// machine, and prints the ratio. Run them with `make bench`.
package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selfheal/selfheal/bench/simplest/loop"
	"github.com/selfheal/selfheal/internal/serve"
	"github.com/selfheal/selfheal/internal/testutil"
)

// buildBinary builds one of the project's commands into dir.
func buildBinary(b *testing.B, dir, name string) string {
	return buildPackage(b, dir, "../cmd/"+name, name)
}

// buildPackage builds the command in pkg into dir as name.
func buildPackage(b *testing.B, dir, pkg, name string) string {
	b.Helper()
	out, err := testutil.BuildBinary(dir, pkg, name)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// load runs the simplest probe loop (package loop) in this process for d.
func load(conc int, d time.Duration, next func(worker, i int) string, want string, fresh bool) (ok, failed int64) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return loop.Run(ctx, conc, next, want, fresh)
}

// rssMiB reads a process's peak resident set size (VmHWM) in MiB.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

// startServer runs a program and waits for it to be ready.
func startServer(b *testing.B, dir, addr, bin string, args ...string) *testutil.Process {
	b.Helper()
	p := testutil.Start(b, dir, bin, args...)
	testutil.WaitReady(b, addr, p)
	return p
}

// ratios divides a by b round by round.
func ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

// percents lists ratios as whole percentages.
func percents(v []float64) string {
	s := make([]string, len(v))
	for i, r := range v {
		s[i] = strconv.Itoa(int(math.Round(100*r))) + "%"
	}
	return strings.Join(s, " ")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// stealMeter reports the share of CPU time the hypervisor gave to other
// guests (steal, from /proc/stat) since it was made: on a virtual machine
// the benchmarks' figures move with it, so each comparison prints it.
func stealMeter() func() float64 {
	read := func() (steal, total float64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		for i := 1; i < len(f) && i <= 8; i++ {
			v, _ := strconv.ParseFloat(f[i], 64)
			total += v
			if i == 8 {
				steal = v
			}
		}
		return steal, total
	}
	s0, t0 := read()
	return func() float64 {
		s1, t1 := read()
		if t1 <= t0 {
			return 0
		}
		return 100 * (s1 - s0) / (t1 - t0)
	}
}

// healConfig is the receiver configuration the heal benchmarks share:
// every Bench alert healed by exec /bin/true, no cooldown.
const healConfig = `
rules:
  - name: bench
    match: 'alertname="Bench"'
    cooldown: 0s
    concurrency: 16
    actions:
      - exec: {command: [/bin/true]}
`

// healFlags are selfheal_receiver's flags for healConfig at addr, on the
// store the extra flags select.
func healFlags(addr string, store ...string) []string {
	return append(store, "--config.file", "receiver.yml", "--web.listen-address", addr, noAuth,
		"--remediation.workers", "16", "--remediation.queue-size", "100000", "--log.level", "warn")
}

// noAuth lets a benchmark's receiver run live rules without credentials, on
// loopback.
const noAuth = "--" + serve.UnauthenticatedFlag

// fleetConfig is selfheal_exporter's configuration for the heartbeat
// benchmarks: one auto-registered group.
const fleetConfig = "agents:\n  - {group: fleet, interval: 1m, grace: 4m, auto_register: true}\n"

// heartbeatScript writes wrk's script heartbeating agents of fleetConfig
// in turn and returns its path.
func heartbeatScript(b *testing.B, dir string, agents int) string {
	return testutil.WriteFile(b, dir, "hb.lua", fmt.Sprintf(`
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/api/v1/agents/agent-" .. (i %% %d) .. "/heartbeat?group=fleet")
end`, agents))
}
